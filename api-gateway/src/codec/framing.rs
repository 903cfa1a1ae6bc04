//! Request body framing: `Content-Length` read strictly (digits only, no sign, no list) and
//! `Transfer-Encoding` understood only as `chunked`, last and once.

use super::head::{bad, HeadError};
use hyper::StatusCode;

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes (more than zero).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// `Content-Length`: decimal digits only (no sign, no list), at most 19 of them.
pub(super) fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Reads one `Transfer-Encoding` value (`seen`: an earlier one already named `chunked`). Only
/// `chunked`, last and once, is understood (`identity`, a no-op, is skipped); anything else is 501
/// (the gateway cannot frame it), anything after `chunked` is 400.
pub(super) fn transfer_coding(value: &[u8], seen: bool) -> Result<bool, HeadError> {
    let mut chunked = seen;
    let mut any = false;
    for coding in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
        if coding.is_empty() {
            continue;
        }
        any = true;
        if chunked {
            // Something after `chunked`, or `chunked` twice: the framing cannot be trusted.
            return Err(bad("chunked must be the last transfer coding, once"));
        }
        if coding.eq_ignore_ascii_case(b"chunked") {
            chunked = true;
        } else if !coding.eq_ignore_ascii_case(b"identity") {
            return Err(HeadError {
                status: StatusCode::NOT_IMPLEMENTED,
                code: "unsupported_transfer_coding",
                reason: "Only the chunked transfer coding is supported",
                head: false,
            });
        }
    }
    if !any {
        return Err(bad("Empty Transfer-Encoding"));
    }
    if !chunked {
        return Err(bad("The last transfer coding must be chunked"));
    }
    Ok(chunked)
}

/// The tokens of one `Connection` header value (comma-separated, blanks trimmed, empty ones
/// skipped).
pub fn connection_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// What the `Connection` headers of a message say (RFC 9112 §9.3): `close`, `keep-alive`, and
/// whether they name other headers (hop-by-hop too, so never passed on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// `close` was listed.
    pub close: bool,
    /// `keep-alive` was listed.
    pub keep_alive: bool,
    /// Some other token was listed.
    pub names_others: bool,
}

impl ConnectionOptions {
    /// Adds the tokens of one `Connection` header value.
    pub fn add(&mut self, value: &[u8]) {
        for token in connection_tokens(value) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else {
                self.names_others = true;
            }
        }
    }

    /// Whether a connection of HTTP/1.`minor` stays open after this message: by default from
    /// 1.1 on, on request for 1.0, never after `close`.
    pub fn keeps_alive(&self, minor: u8) -> bool {
        !self.close && (minor >= 1 || self.keep_alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_wins_and_keep_alive_matters_for_http_1_0_only() {
        let mut o = ConnectionOptions::default();
        o.add(b"Keep-Alive, X-Secret");
        assert!(o.keeps_alive(0) && o.keeps_alive(1) && o.names_others);
        o.add(b" close ");
        assert!(!o.keeps_alive(0) && !o.keeps_alive(1));
        assert!(!ConnectionOptions::default().keeps_alive(0));
    }
}
