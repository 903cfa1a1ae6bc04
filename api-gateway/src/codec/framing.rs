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
