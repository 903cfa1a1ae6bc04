//! Memory per request body: a hostile 1 MiB JSON body must not build a large tree. Measured with
//! an instrumented global allocator (peak bytes while the body is read), so this binary holds only
//! this one test: other tests' allocations would blur the peak.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use shared::extract::{read_json, BodyLimits};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

fn request(body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri("/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn hostile_one_mib_bodies_are_refused_without_building_a_large_tree() {
    // Half a million array elements where a string is expected, a wide object, a deep nest: each
    // is about 1 MiB of JSON that a plain `serde_json::Value` parse turns into tens of MiB.
    let array = format!(r#"{{"name":[{}1]}}"#, "1,".repeat(500_000));
    let keys: Vec<String> = (0..90_000).map(|i| format!("\"{i:x}\":0")).collect();
    let object = format!(r#"{{"metadata":{{{}}}}}"#, keys.join(","));
    let nest = format!(r#"{{"a":{}{}}}"#, "[".repeat(100), "]".repeat(100));
    for (what, body, field) in [
        ("array", array, "name"),
        ("object", object, "metadata"),
        ("nest", nest, "a.0.0"),
    ] {
        assert!(body.len() <= BodyLimits::DEFAULT.max_bytes, "{what}");
        let len = body.len();
        let req = request(body.into_bytes());
        GLOBAL.reset_peak_memory();
        let err = read_json(req, None, BodyLimits::DEFAULT).await.unwrap_err();
        let peak = GLOBAL.get_peak_memory();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(err.code, "validation_failed", "{what}");
        assert!(
            err.errors[0].field.starts_with(field),
            "{what}: {}",
            err.errors[0].field
        );
        // The body's bytes are collected once; the tree stays within the value budget.
        assert!(
            peak < len + 4 * 1024 * 1024,
            "{what}: reading a {len}-byte body peaked at {peak} bytes"
        );
    }
}
