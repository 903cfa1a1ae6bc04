//! The upstream request head, written straight from the client's parsed head: request line in
//! origin form over HTTP/1.1, the client's headers minus hop-by-hop ones (and those `Connection`
//! names) and those the gateway sets itself, then `Host` (the upstream), `X-Forwarded-For` (the
//! peer appended), `X-Forwarded-Proto` and `-Host` (kept as sent only from trusted proxies), the
//! request id, and the body's framing.

use super::{connection_named, is_hop_by_hop, one_of, Peer};
use crate::codec::head::headers;
use crate::codec::write::{decimal, header};
use crate::codec::{BodyFraming, RequestHead};

/// Request headers never forwarded as sent: hop-by-hop ones, and those the gateway sets itself.
fn dropped_on_the_way_up(name: &[u8]) -> bool {
    is_hop_by_hop(name)
        || one_of(
            name,
            &[
                "host",
                "content-length",
                "x-request-id",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-forwarded-host",
            ],
        )
}

/// Writes the upstream request head for `req` (whose bytes are `raw`) into `up`.
pub fn request_head(
    up: &mut Vec<u8>,
    req: &RequestHead,
    raw: &[u8],
    upstream_host: &[u8],
    peer: &Peer,
    request_id: &[u8],
) {
    up.clear();
    up.extend_from_slice(req.method.as_str().as_bytes());
    up.push(b' ');
    up.extend_from_slice(req.target(raw));
    up.extend_from_slice(b" HTTP/1.1\r\n");
    let named = if req.connection_names {
        connection_named(headers(raw, &req.spans))
    } else {
        Vec::new()
    };
    let mut original_host = None;
    let mut forwarded_for: Option<Vec<u8>> = None;
    let (mut kept_proto, mut kept_host) = (false, false);
    for (name, value) in headers(raw, &req.spans) {
        if !dropped_on_the_way_up(name) {
            if !named.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                header(up, name, value);
            }
            continue;
        }
        if name.eq_ignore_ascii_case(b"host") {
            original_host.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            let joined = forwarded_for.get_or_insert_with(Vec::new);
            joined.extend_from_slice(value);
            joined.extend_from_slice(b", ");
        } else if peer.trusted && name.eq_ignore_ascii_case(b"x-forwarded-proto") {
            header(up, name, value);
            kept_proto = true;
        } else if peer.trusted && name.eq_ignore_ascii_case(b"x-forwarded-host") {
            header(up, name, value);
            kept_host = true;
        }
    }
    header(up, b"host", upstream_host);
    match forwarded_for {
        Some(mut joined) => {
            joined.extend_from_slice(peer.value.as_bytes());
            header(up, b"x-forwarded-for", &joined);
        }
        None => header(up, b"x-forwarded-for", peer.value.as_bytes()),
    }
    if !kept_proto {
        header(up, b"x-forwarded-proto", b"http");
    }
    if let (false, Some(host)) = (kept_host, original_host) {
        header(up, b"x-forwarded-host", host);
    }
    header(up, b"x-request-id", request_id);
    match req.body {
        BodyFraming::Length(n) => {
            up.extend_from_slice(b"content-length: ");
            decimal(up, n);
            up.extend_from_slice(b"\r\n");
        }
        BodyFraming::Chunked => up.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        BodyFraming::None if req.had_length => up.extend_from_slice(b"content-length: 0\r\n"),
        BodyFraming::None => {}
    }
    up.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn written(raw: &str, peer: &Peer) -> String {
        let req = crate::codec::head::parse(raw.as_bytes()).unwrap().unwrap();
        let mut up = Vec::new();
        request_head(
            &mut up,
            &req,
            raw.as_bytes(),
            b"products:4002",
            peer,
            b"id-1",
        );
        String::from_utf8(up).unwrap()
    }

    #[test]
    fn hop_by_hop_headers_stay_behind_and_the_gateways_own_are_set() {
        let peer = Peer::new("::ffff:9.9.9.9".parse().unwrap(), &[]);
        let up = written(
            "POST http://shop/api/p?x=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Secret\r\n\
             X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nExpect: 100-continue\r\n\
             X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\nX-Forwarded-Proto: https\r\n\
             X-Request-Id: theirs\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            &peer,
        );
        assert_eq!(
            up,
            "POST /api/p?x=1 HTTP/1.1\r\nContent-Type: application/json\r\nhost: products:4002\r\n\
             x-forwarded-for: 1.1.1.1, 2.2.2.2, 9.9.9.9\r\nx-forwarded-proto: http\r\n\
             x-forwarded-host: shop.example\r\nx-request-id: id-1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn a_trusted_proxy_keeps_its_forwarded_proto_and_host() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let peer = Peer::new("10.0.0.2".parse().unwrap(), &trusted);
        let up = written(
            "GET /api/p HTTP/1.1\r\nHost: inner\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop\r\nContent-Length: 0\r\n\r\n",
            &peer,
        );
        assert!(
            up.contains("X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop\r\n"),
            "{up}"
        );
        assert!(!up.contains("x-forwarded-host"), "{up}");
        assert!(
            up.ends_with(
                "x-forwarded-for: 10.0.0.2\r\nx-request-id: id-1\r\ncontent-length: 0\r\n\r\n"
            ),
            "{up}"
        );
    }
}
