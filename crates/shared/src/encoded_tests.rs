//! Tests of stored answers: negotiation equal to the compression layer's, the framing, the forms,
//! and what a stored answer looks like after the standard layers.

use super::*;
use crate::http::{standard_layers, HttpOptions};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use std::io::Read;
use std::time::Duration;
use tower::ServiceExt;

/// A JSON-ish body of `len` bytes that compresses like text, not like a run of one byte.
fn body(len: usize) -> Bytes {
    let mut s = String::from("{\"data\":[");
    let mut i = 0u64;
    while s.len() < len - 2 {
        s.push_str(&format!(
            "{{\"n\":{i},\"h\":\"{:x}\"}},",
            i.wrapping_mul(2654435761)
        ));
        i += 1;
    }
    s.truncate(len - 2);
    s.push_str("]}");
    Bytes::from(s)
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn accepts(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_str(value).unwrap(),
    );
    h
}

fn layered(route: Router) -> Router {
    standard_layers(
        route,
        &HttpOptions {
            service: "test",
            allowed_origins: vec![],
            request_timeout: Duration::from_secs(5),
        },
        crate::metrics::Metrics::new("test", "0.0.0"),
    )
}

/// The standard layers around a route answering `answer` as stored.
fn serving(answer: EncodedBody) -> Router {
    layered(Router::new().route(
        "/x",
        get(move |accepted: AcceptedCoding| {
            let answer = answer.clone();
            async move { answer.respond(accepted) }
        }),
    ))
}

async fn call(app: &Router, method: Method, accept: Option<&str>) -> (HeaderMap, Bytes) {
    let mut req = Request::builder().uri("/x").method(method);
    if let Some(a) = accept {
        req = req.header(header::ACCEPT_ENCODING, a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (headers, bytes)
}

const ACCEPT_CASES: [(&str, Coding); 17] = [
    ("gzip", Coding::Gzip),
    ("br", Coding::Br),
    ("gzip, br", Coding::Br),
    ("br, gzip", Coding::Br),
    ("gzip, deflate, br, zstd", Coding::Br),
    ("br;q=0.5, gzip", Coding::Gzip),
    ("gzip;q=0.8, br;q=0.9", Coding::Br),
    ("gzip, br;q=0", Coding::Gzip),
    ("br;q=0", Coding::Identity),
    ("gzip;q=0, br;q=0.000", Coding::Identity),
    ("GZIP", Coding::Gzip),
    ("x-gzip", Coding::Gzip),
    ("gzip;q=0.5, identity", Coding::Identity),
    ("deflate", Coding::Identity),
    ("*", Coding::Identity),
    ("br;q=2, gzip;q=0.1", Coding::Gzip),
    ("identity", Coding::Identity),
];

#[test]
fn negotiation_prefers_br_then_gzip_and_respects_q_values() {
    assert_eq!(Coding::preferred(&HeaderMap::new()), Coding::Identity);
    for (accept, expected) in ACCEPT_CASES {
        assert_eq!(Coding::preferred(&accepts(accept)), expected, "{accept}");
    }
}

#[tokio::test]
async fn negotiation_agrees_with_the_compression_layer() {
    // The layer compressing a plain 4 KiB answer must pick what a stored answer would serve.
    let app = layered(Router::new().route("/x", get(|| async { body(4096) })));
    for (accept, _) in ACCEPT_CASES {
        let (headers, _) = call(&app, Method::GET, Some(accept)).await;
        let layer = match headers
            .get(header::CONTENT_ENCODING)
            .map(HeaderValue::as_bytes)
        {
            Some(b"gzip") => Coding::Gzip,
            Some(b"br") => Coding::Br,
            _ => Coding::Identity,
        };
        assert_eq!(Coding::preferred(&accepts(accept)), layer, "{accept}");
    }
}

#[test]
fn forms_decompress_to_the_identity_bytes_and_small_bodies_have_none() {
    let big = EncodedBody::new(body(15_000));
    let gz = big.form(Coding::Gzip).unwrap();
    let br = big.form(Coding::Br).unwrap();
    assert_eq!(gunzip(gz), big.identity().as_ref());
    assert_eq!(unbrotli(br), big.identity().as_ref());
    assert!(gz.len() < big.identity().len() / 2 && br.len() < big.identity().len() / 2);
    let small = EncodedBody::new(body(usize::from(COMPRESS_FROM) - 1));
    assert_eq!(small.form(Coding::Gzip), None);
    assert_eq!(small.form(Coding::Br), None);
    assert!(EncodedBody::new(body(usize::from(COMPRESS_FROM)))
        .form(Coding::Br)
        .is_some());
}

#[test]
fn framing_round_trips_without_copying_and_refuses_bad_lengths() {
    for original in [EncodedBody::new(body(5000)), EncodedBody::new(body(10))] {
        let mut out = BytesMut::from(&b"pre"[..]);
        original.write_to(&mut out);
        assert_eq!(out.len(), 3 + original.framed_len());
        let framed = out.freeze().slice(3..);
        let read = EncodedBody::read_from(framed.clone()).unwrap();
        assert_eq!(read, original);
        let inside = framed.as_ptr_range();
        assert!(
            inside.contains(&read.identity().as_ptr()),
            "a copy was made"
        );
        assert_eq!(
            EncodedBody::read_from(framed.slice(..framed.len() - 1)),
            None
        );
        assert_eq!(EncodedBody::read_from(framed.slice(..5)), None);
    }
    assert_eq!(
        EncodedBody::read_from(Bytes::from_static(b"{\"old\":1}")),
        None
    );
}

#[tokio::test]
async fn stored_forms_pass_the_standard_layers_unchanged() {
    let stored = EncodedBody::new(body(15_000));
    let app = serving(stored.clone());
    for (accept, coding) in [
        (Some("gzip"), Coding::Gzip),
        (Some("gzip, br"), Coding::Br),
        (Some("br;q=0, gzip;q=0"), Coding::Identity),
        (None, Coding::Identity),
    ] {
        let (headers, bytes) = call(&app, Method::GET, accept).await;
        // Exactly the stored form: compressed once, never again by the layer.
        assert_eq!(&bytes, stored.form(coding).unwrap(), "{accept:?}");
        let encoding = headers.get(header::CONTENT_ENCODING);
        assert_eq!(
            encoding,
            coding.header_value().as_ref(),
            "{accept:?} {headers:?}"
        );
        assert_eq!(vary_accept_encoding(&headers), 1, "{headers:?}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            headers[header::CONTENT_LENGTH],
            bytes.len().to_string().as_str()
        );
    }
    // HEAD: the identity headers and length, no body, whatever the client accepts.
    let (headers, bytes) = call(&app, Method::HEAD, Some("gzip, br")).await;
    assert!(bytes.is_empty());
    assert_eq!(headers.get(header::CONTENT_ENCODING), None);
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        stored.identity().len().to_string().as_str()
    );
}

#[tokio::test]
async fn small_stored_answers_are_sent_as_they_are_without_vary() {
    let stored = EncodedBody::new(Bytes::from_static(b"{\"success\":true}"));
    let app = serving(stored.clone());
    let (headers, bytes) = call(&app, Method::GET, Some("gzip, br")).await;
    assert_eq!(&bytes, stored.identity());
    assert_eq!(headers.get(header::CONTENT_ENCODING), None);
    assert_eq!(vary_accept_encoding(&headers), 0, "{headers:?}");
}

#[tokio::test]
async fn an_uncompressed_answer_is_left_to_the_compression_layer() {
    let sent = EncodedBody::uncompressed(body(15_000));
    assert_eq!(sent.form(Coding::Gzip), None);
    let app = serving(sent.clone());
    let (headers, bytes) = call(&app, Method::GET, Some("gzip")).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gunzip(&bytes), sent.identity().as_ref());
    assert_eq!(vary_accept_encoding(&headers), 1, "{headers:?}");
}

/// How many `Vary` values name `Accept-Encoding` (CORS adds its own `Vary` line).
fn vary_accept_encoding(headers: &HeaderMap) -> usize {
    headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
        .count()
}
