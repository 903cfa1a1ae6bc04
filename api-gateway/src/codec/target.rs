//! Request targets: the origin form the gateway forwards (absolute-form targets narrowed to their
//! path and query), holding only the bytes RFC 3986 allows, so that every parser behind the
//! gateway reads a target the same way.

use super::head::HeadError;
use hyper::{Method, StatusCode};

/// The refusal of a target with bytes that must be percent-encoded.
pub const INVALID_TARGET: HeadError = HeadError {
    status: StatusCode::BAD_REQUEST,
    code: "invalid_target",
    reason: "The request target has characters that must be percent-encoded",
    head: false,
};

/// Whether an origin-form request target (`/path?query`) holds only the bytes RFC 3986 allows
/// there: letters, digits, `-._~`, the sub-delimiters `!$&'()*+,;=`, `:@/?` and `%` escapes.
/// Anything else (`"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, `[`, `]`, `#`, controls, non-ASCII)
/// is answered 400 by the gateway and never forwarded.
pub fn is_valid_target(target: &[u8]) -> bool {
    target.first() == Some(&b'/') && target.iter().all(|&b| TARGET_BYTES[b as usize])
}

/// The bytes [`is_valid_target`] allows, as a table (one lookup per byte).
static TARGET_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
                    | b'?'
                    | b'%'
            );
        b += 1;
    }
    table
};

/// The origin form of a request target (`/path?query`; `*` for `OPTIONS`), and where its path
/// ends. An absolute-form target (`http://host/path`) is narrowed to its path and query.
pub(super) fn origin_form<'a>(
    method: &Method,
    target: &'a str,
) -> Result<(&'a str, usize), HeadError> {
    let origin = if target.starts_with('/') {
        target
    } else if target == "*" && method == Method::OPTIONS {
        return Ok((target, 1));
    } else {
        let rest = target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
            .ok_or(INVALID_TARGET)?;
        match rest.find('/') {
            Some(i) if i > 0 => &rest[i..],
            _ => return Err(INVALID_TARGET),
        }
    };
    // One pass: every byte allowed, and where the query starts.
    let mut path_end = None;
    for (i, &b) in origin.as_bytes().iter().enumerate() {
        if !TARGET_BYTES[usize::from(b)] {
            return Err(INVALID_TARGET);
        }
        if b == b'?' && path_end.is_none() {
            path_end = Some(i);
        }
    }
    if !origin.starts_with('/') {
        return Err(INVALID_TARGET);
    }
    Ok((origin, path_end.unwrap_or(origin.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_hold_only_what_rfc_3986_allows() {
        for good in [
            "/",
            "/api/products?page=2&limit=10",
            "/api/products?search=caf%C3%A9&sort=-price",
            "/a-b._~!$&'()*+,;=:@/?x=/?",
        ] {
            assert!(is_valid_target(good.as_bytes()), "{good}");
        }
        for bad in [
            "/api/x\\y",
            "/api/x^y",
            "/api/`x",
            "/api/x\u{7f}",
            "/api/x\ty",
            "api/x",
            "",
        ] {
            assert!(!is_valid_target(bad.as_bytes()), "{bad:?}");
        }
    }
}
