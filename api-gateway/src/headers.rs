//! Header work of the proxy path: hop-by-hop stripping, the `X-Forwarded-*` set, CORS for proxied
//! responses (preflights are answered by the local router), and the request id.

use crate::net::IpNet;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
    CONNECTION, HOST, VARY,
};
use std::net::IpAddr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) const EXPOSED: &str =
    "x-request-id,ratelimit-limit,ratelimit-remaining,ratelimit-reset,retry-after";

/// Hop-by-hop header names (RFC 9110 §7.6.1), and `Expect` (answered by whoever reads the body).
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
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Removes hop-by-hop headers, including those named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Usually there are none: one pass over the names instead of a removal per name.
    if !headers
        .keys()
        .any(|name| is_hop_by_hop(name.as_str().as_bytes()))
    {
        return;
    }
    if let Some(connection) = headers.remove(CONNECTION) {
        if let Ok(list) = connection.to_str() {
            for name in list.split(',') {
                if let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) {
                    headers.remove(name);
                }
            }
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The client connection a request arrived on, as the proxy needs it.
pub struct Peer {
    /// The peer address (IPv4-mapped addresses as IPv4).
    pub ip: IpAddr,
    /// `ip` as a header value, for `X-Forwarded-For`.
    pub value: HeaderValue,
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
            value: HeaderValue::try_from(ip.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            trusted: is_trusted(ip, trusted),
            keys: crate::limits::ClientKeys::new(ip),
        }
    }
}

/// Sets `Host` to the upstream and adds `X-Forwarded-For` (peer appended), `-Proto` and `-Host`
/// (kept as sent only when the peer is a trusted proxy).
pub fn set_forwarded(headers: &mut HeaderMap, upstream_host: &HeaderValue, peer: &Peer) {
    let original_host = headers.insert(HOST, upstream_host.clone());
    let xff = {
        let mut hops = headers.get_all(&X_FORWARDED_FOR).iter().peekable();
        if hops.peek().is_none() {
            Ok(peer.value.clone())
        } else {
            let mut joined = String::with_capacity(64);
            for hop in hops {
                if let Ok(s) = hop.to_str() {
                    joined.push_str(s);
                    joined.push_str(", ");
                }
            }
            joined.push_str(peer.value.to_str().unwrap_or_default());
            HeaderValue::try_from(joined)
        }
    };
    if let Ok(xff) = xff {
        headers.insert(X_FORWARDED_FOR, xff);
    }
    if !(peer.trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !(peer.trusted && headers.contains_key(&X_FORWARDED_HOST)) {
        match original_host {
            Some(host) => headers.insert(X_FORWARDED_HOST, host),
            None => headers.remove(&X_FORWARDED_HOST),
        };
    }
}

/// The request id: a sane incoming `x-request-id` (same rule as the shared layers) or a new
/// UUID-v4-shaped id from the thread-local RNG (no syscall per request, unlike `uuid::new_v4`).
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    match headers.get(shared::http::REQUEST_ID) {
        Some(v) if is_sane_request_id(v.as_bytes()) => v.clone(),
        _ => fresh_request_id(),
    }
}

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

/// The 400 for a request target [`is_valid_target`] refuses.
pub fn invalid_target() -> shared::ApiError {
    shared::ApiError::bad_request(
        "invalid_target",
        "The request target has characters that must be percent-encoded",
    )
}

/// Whether a client's request id is kept: 1–128 visible ASCII characters.
pub fn is_sane_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && id.iter().all(u8::is_ascii_graphic)
}

/// A new UUID-v4-shaped request id.
pub fn fresh_request_id() -> HeaderValue {
    let mut bits = rand::random::<u128>();
    bits = (bits & !(0xf << 76)) | (0x4 << 76); // version 4
    bits = (bits & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    let mut hex = [0u8; 32];
    for (i, pair) in hex.chunks_exact_mut(2).enumerate() {
        let byte = (bits >> (120 - 8 * i)) as u8;
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte) * 2..usize::from(byte) * 2 + 2]);
    }
    let mut id = bytes::BytesMut::with_capacity(36);
    for (i, group) in [
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32],
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            id.extend_from_slice(b"-");
        }
        id.extend_from_slice(group);
    }
    HeaderValue::from_maybe_shared(id.freeze())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
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

/// Whether `peer` is one of `TRUSTED_PROXIES`.
pub fn is_trusted(peer: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|n| n.contains(peer))
}

/// The CORS policy applied to proxied responses (same rules as the shared CORS layer).
#[derive(Debug, Clone)]
pub enum Cors {
    /// `ALLOWED_ORIGINS` empty or `*`: any origin.
    Any,
    /// Only these origins.
    List(Vec<HeaderValue>),
}

impl Cors {
    /// From `ALLOWED_ORIGINS`.
    pub fn new(allowed: &[String]) -> Self {
        if allowed.is_empty() || allowed.iter().any(|o| o == "*") {
            Cors::Any
        } else {
            Cors::List(
                allowed
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect(),
            )
        }
    }

    /// Replaces whatever CORS answer the upstream gave with the gateway's.
    pub fn apply(&self, headers: &mut HeaderMap, origin: Option<&HeaderValue>) {
        match (self, origin) {
            (Cors::Any, _) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
            (Cors::List(list), Some(origin)) if list.contains(origin) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                if !headers.contains_key(VARY) {
                    headers.insert(VARY, HeaderValue::from_static("origin"));
                }
            }
            (Cors::List(_), _) => {
                headers.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
            }
        }
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn targets_hold_only_what_rfc_3986_allows() {
        for ok in [
            "/",
            "/api/products?page=2&limit=10",
            "/api/products/64b7f0c2a1b2c3d4e5f60718",
            "/api/products?search=caf%C3%A9&sort=-price",
            "/a-b._~!$&'()*+,;=:@/?x=/?",
        ] {
            assert!(is_valid_target(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "/api/products/\"x",
            "/api/<x>",
            "/api/x\\y",
            "/api/x^y",
            "/api/`x",
            "/api/{x}",
            "/api/x|y",
            "/api/x[0]",
            "/api/x#frag",
            "/api/caf\u{e9}",
            "/api/x\u{7f}",
            "/api/x\ty",
            "api/x",
            "",
        ] {
            assert!(!is_valid_target(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, "keep-alive, x-secret-hop".parse().unwrap());
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert(hyper::header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }

    #[test]
    fn forwarded_headers_append_the_peer_and_ignore_untrusted_proto() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "shop.example".parse().unwrap());
        h.append(X_FORWARDED_FOR, "1.1.1.1".parse().unwrap());
        h.append(X_FORWARDED_FOR, "2.2.2.2".parse().unwrap());
        h.insert(X_FORWARDED_PROTO, "https".parse().unwrap());
        let upstream = HeaderValue::from_static("auth:4001");
        let peer = Peer::new("::ffff:9.9.9.9".parse().unwrap(), &[]);
        set_forwarded(&mut h, &upstream, &peer);
        assert_eq!(h[HOST], "auth:4001");
        assert_eq!(h[X_FORWARDED_FOR], "1.1.1.1, 2.2.2.2, 9.9.9.9");
        assert_eq!(h[X_FORWARDED_PROTO], "http");
        assert_eq!(h[X_FORWARDED_HOST], "shop.example");
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_otherwise_fresh_uuids() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", "has space".parse().unwrap());
        let fresh = request_id(&h);
        let s = fresh.to_str().unwrap();
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
        assert_ne!(request_id(&h), fresh);
    }

    #[test]
    fn listed_origins_are_echoed_and_others_get_no_allow_origin() {
        let cors = Cors::new(&["https://shop.example".to_string()]);
        let mut h = HeaderMap::new();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().unwrap());
        cors.apply(
            &mut h,
            Some(&HeaderValue::from_static("https://evil.example")),
        );
        assert!(!h.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        cors.apply(
            &mut h,
            Some(&HeaderValue::from_static("https://shop.example")),
        );
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://shop.example");
    }
}
