//! Cached answers are sent as stored: the gzip and br forms decompress to the identity bytes, the
//! coding follows `Accept-Encoding`, HEAD sends the headers alone, and a write is seen at once in
//! every form.

use crate::helpers::{product_body, spawn_app, TestApp};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, VARY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Read;

/// One raw answer: status, headers, undecoded body.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    accept: Option<&str>,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.request(method, format!("{}{path}", app.url));
    if let Some(a) = accept {
        req = req.header(ACCEPT_ENCODING, a);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

/// A catalogue whose first page is well over the compression threshold.
async fn catalogue(app: &TestApp) {
    for i in 0..12 {
        app.create(product_body(&format!("ENC-{i:02}"))).await;
    }
}

#[tokio::test]
async fn every_coding_of_a_cached_page_is_the_same_answer() {
    let app = spawn_app().await;
    catalogue(&app).await;
    let (status, headers, identity) = raw(&app, Method::GET, "/api/products", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(CONTENT_ENCODING).is_none());
    assert_eq!(headers[VARY], "accept-encoding");
    assert!(identity.len() > 1024, "{}", identity.len());
    let page: Value = serde_json::from_slice(&identity).unwrap();
    assert_eq!(page["pagination"]["total"], 12);
    for (accept, coding) in [
        ("gzip", Some("gzip")),
        ("br", Some("br")),
        ("gzip, deflate, br", Some("br")),
        ("br;q=0.5, gzip", Some("gzip")),
        ("identity", None),
        ("br;q=0, gzip;q=0", None),
        ("deflate", None),
    ] {
        // The first request may be the one that stored the entry: ask twice.
        for _ in 0..2 {
            let (status, headers, body) =
                raw(&app, Method::GET, "/api/products", Some(accept), None).await;
            assert_eq!(status, StatusCode::OK, "{accept}");
            let got = headers.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap());
            assert_eq!(got, coding, "{accept}");
            assert_eq!(headers[VARY], "accept-encoding", "{accept}");
            if coding.is_some() {
                assert!(body.len() < identity.len() / 2, "{accept}: {}", body.len());
            }
            assert_eq!(decode(coding, &body), identity, "{accept}");
        }
    }
    // HEAD: the identity headers and length, no body.
    let (status, headers, body) =
        raw(&app, Method::HEAD, "/api/products", Some("gzip"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(CONTENT_ENCODING).is_none());
    assert_eq!(headers[CONTENT_LENGTH], identity.len().to_string());
    assert!(body.is_empty());
}

#[tokio::test]
async fn a_write_is_seen_at_once_in_every_stored_form() {
    let app = spawn_app().await;
    catalogue(&app).await;
    let first = app.get("/api/products?limit=1", None).await.body["data"][0].clone();
    let id = first["_id"].as_str().unwrap().to_string();
    let path = format!("/api/products/{id}");
    let long = "A long description that makes the product answer compressible. ".repeat(14);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin()),
            Some(json!({"description": long})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for coding in ["gzip", "br"] {
        // Warm the stored forms of the product and of the page.
        for p in [path.as_str(), "/api/products"] {
            let (_, headers, _) = raw(&app, Method::GET, p, Some(coding), None).await;
            assert_eq!(headers[CONTENT_ENCODING], coding, "{p}");
        }
    }
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin()),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for coding in ["gzip", "br"] {
        let (_, headers, body) = raw(&app, Method::GET, &path, Some(coding), None).await;
        let product: Value = serde_json::from_slice(&decode(Some(coding), &body)).unwrap();
        assert_eq!(headers[CONTENT_ENCODING], coding);
        assert_eq!(product["data"]["name"], "Renamed", "{coding}");
        let (_, _, body) = raw(&app, Method::GET, "/api/products", Some(coding), None).await;
        let page: Value = serde_json::from_slice(&decode(Some(coding), &body)).unwrap();
        let names: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["_id"] == id.as_str())
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Renamed"], "{coding}");
    }
}

#[tokio::test]
async fn a_cached_inactive_product_is_shown_to_admins_only() {
    let app = spawn_app().await;
    let p = app.create(product_body("ENC-HIDDEN")).await;
    let path = format!("/api/products/{}", p["_id"].as_str().unwrap());
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin()),
            Some(json!({"isActive": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The admin's read stores the entry; the anonymous and customer reads after it hit it.
    for _ in 0..2 {
        let admin = app.get(&path, Some(&app.admin())).await;
        assert_eq!(admin.status, StatusCode::OK);
        assert_eq!(admin.body["data"]["isActive"], false);
        assert_eq!(app.get(&path, None).await.status, StatusCode::NOT_FOUND);
        let customer = app.get(&path, Some(&app.user())).await;
        assert_eq!(customer.status, StatusCode::NOT_FOUND);
        assert_eq!(customer.body["code"], "product_not_found");
    }
}
