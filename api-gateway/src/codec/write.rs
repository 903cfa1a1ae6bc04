//! Writing answer heads: the status line, header lines, decimals, the `Date` value (formatted at
//! most once a second per thread) and the framing line of a body.

use hyper::StatusCode;

/// How an answer's body is framed on the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFraming {
    /// No body follows (HEAD, 1xx, 204, 304), or its length is already among the headers.
    AsIs,
    /// `Content-Length` to be written.
    Length(u64),
    /// Chunked (HTTP/1.1 clients, length unknown).
    Chunked,
    /// Until the connection closes (HTTP/1.0 clients, length unknown).
    Close,
}

/// Appends the status line (always `HTTP/1.1`, the highest version the gateway speaks).
pub fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one header line.
#[inline]
pub fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
pub fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends the framing header `framing` needs (none for `AsIs` and `Close`).
pub fn framing(out: &mut Vec<u8>, framing: AnswerFraming) {
    match framing {
        AnswerFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        AnswerFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        AnswerFraming::AsIs | AnswerFraming::Close => {}
    }
}

/// The current time as an HTTP date.
pub fn http_date() -> String {
    thread_local! {
        static CACHE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with_borrow_mut(|(at, text)| {
        if *at != second || text.is_empty() {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        text.clone()
    })
}

/// Whether an answer with `status` to `method` carries no body whatever its headers say.
pub fn bodiless(method: &hyper::Method, status: StatusCode) -> bool {
    method == hyper::Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_dates_and_status_lines_are_written_as_http_wants_them() {
        let mut out = Vec::new();
        for n in [0, 7, 42, 1000, u64::MAX] {
            out.clear();
            decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        assert!(httpdate::parse_http_date(&http_date()).is_ok());
        out.clear();
        status_line(&mut out, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(out, b"HTTP/1.1 431 Request Header Fields Too Large\r\n");
        out.clear();
        framing(&mut out, AnswerFraming::Length(12));
        framing(&mut out, AnswerFraming::Chunked);
        framing(&mut out, AnswerFraming::Close);
        assert_eq!(out, b"content-length: 12\r\ntransfer-encoding: chunked\r\n");
    }
}
