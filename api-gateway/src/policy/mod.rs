//! The gateway's rules for proxied requests, each written once and applied by the codec's writer:
//! what goes upstream (`up`: hop-by-hop headers dropped, `Host`, `X-Forwarded-*`, the request id,
//! the body's framing), what comes back (`down`: the upstream's headers minus hop-by-hop ones, the
//! security set, the request id, CORS, `RateLimit-*`, the JSON error envelope, the gateway's own
//! routes' answers), and CORS itself (`cors`: answer headers and the preflight answer). Also the
//! peer and request-id rules.

pub mod cors;
pub mod down;
pub mod up;

pub use cors::Cors;

use crate::codec::framing::connection_tokens;
use crate::net::IpNet;
use bytes::Bytes;
use shared::http::is_sane_request_id;
use std::net::IpAddr;

/// Hop-by-hop header names (RFC 9110 §7.6.1), and `Expect` (answered by the gateway itself).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "expect",
];

/// Whether `name` is a hop-by-hop header (any case).
#[inline]
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    one_of(name, &HOP_BY_HOP)
}

/// Whether `name` is one of `names` (any case).
#[inline]
fn one_of(name: &[u8], names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// The header names a message's `Connection` headers list (hop-by-hop too; looked for only when
/// its `ConnectionOptions` say there are any besides `close` and `keep-alive`).
fn connection_named<'a>(headers: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<&'a [u8]> {
    headers
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"connection"))
        .flat_map(|(_, value)| connection_tokens(value))
        .filter(|t| !t.eq_ignore_ascii_case(b"close") && !t.eq_ignore_ascii_case(b"keep-alive"))
        .collect()
}

/// The client connection a request arrived on, as the proxy needs it.
pub struct Peer {
    /// The peer address (IPv4-mapped addresses as IPv4).
    pub ip: IpAddr,
    /// `ip` as text, for `X-Forwarded-For`.
    pub value: String,
    /// Whether the peer is one of `TRUSTED_PROXIES` (its forwarded headers are believed).
    pub trusted: bool,
    /// Rate-limit keys of the peer as the client (used when it is not a trusted proxy).
    pub keys: crate::limits::ClientKeys,
}

impl Peer {
    /// The peer `ip`, trusted when it lies in one of `trusted`.
    pub fn new(ip: IpAddr, trusted: &[IpNet]) -> Self {
        let ip = crate::net::canonical(ip);
        Self {
            ip,
            value: ip.to_string(),
            trusted: trusted.iter().any(|n| n.contains(ip)),
            keys: crate::limits::ClientKeys::new(ip),
        }
    }
}

/// The request id of a request whose head is `head`: the client's `sent` one (a slice of `head`,
/// not copied) when sane, else a fresh one.
pub fn request_id(head: &Bytes, sent: Option<&[u8]>) -> Bytes {
    match sent {
        Some(id) if is_sane_request_id(id) => head.slice_ref(id),
        _ => fresh_request_id(),
    }
}

/// A new UUID-v4-shaped request id from the thread-local RNG (no syscall per request, unlike
/// `uuid::new_v4`).
pub fn fresh_request_id() -> Bytes {
    // Where each byte's two digits go (the dashes stay).
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut bits = rand::random::<u128>();
    bits = (bits & !(0xf << 76)) | (0x4 << 76); // version 4
    bits = (bits & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    let mut id = [b'-'; 36];
    for (i, at) in AT.into_iter().enumerate() {
        let byte = usize::from((bits >> (120 - 8 * i)) as u8);
        id[at..at + 2].copy_from_slice(&HEX_PAIRS[byte * 2..byte * 2 + 2]);
    }
    Bytes::copy_from_slice(&id)
}

/// Two lowercase hex digits for every byte value.
const HEX_PAIRS: [u8; 512] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [0u8; 512];
    let mut b = 0;
    while b < 256 {
        table[b * 2] = DIGITS[b >> 4];
        table[b * 2 + 1] = DIGITS[b & 0xf];
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn request_ids_are_kept_when_sane_and_otherwise_fresh_uuids() {
        let head = Bytes::from_static(b"abc-123 has space");
        assert_eq!(request_id(&head, Some(&head[..7])), "abc-123");
        let fresh = request_id(&head, Some(&head[8..]));
        let s = std::str::from_utf8(&fresh).unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(s
            .bytes()
            .enumerate()
            .all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit() && !b.is_ascii_uppercase()
            }));
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(request_id(&head, None), fresh);
        assert!(!is_sane_request_id(&[b'a'; 129]));
    }

    #[test]
    fn connection_lists_name_extra_hop_by_hop_headers() {
        let headers = [
            (&b"Connection"[..], &b"keep-alive, X-Secret"[..]),
            (b"x-other", b"1"),
        ];
        assert_eq!(connection_named(headers.into_iter()), [&b"X-Secret"[..]]);
        assert!(is_hop_by_hop(b"Transfer-Encoding"));
        assert!(!is_hop_by_hop(b"content-type"));
    }
}
