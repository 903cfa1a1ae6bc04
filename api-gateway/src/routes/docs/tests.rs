//! The merged document keeps every service's operations and schemas as they are; the page and its
//! files are served from the gateway itself.
#![allow(clippy::unwrap_used)]

use super::*;
use axum::body::to_bytes;
use serde_json::Value;
use std::collections::BTreeSet;

fn json(doc: &OpenApi) -> Value {
    serde_json::to_value(doc).unwrap()
}

fn gateway() -> Value {
    json(&<dev_tools::GatewayDoc as utoipa::OpenApi>::openapi())
}

fn services() -> [(&'static str, Value); 4] {
    [
        ("auth", json(auth_service::openapi::api_doc())),
        (
            "products",
            json(product_service::routes::openapi::api_doc()),
        ),
        ("orders", json(order_service::routes::openapi::api_doc())),
        (
            "payments",
            json(payment_service::routes::openapi::api_doc()),
        ),
    ]
}

#[test]
fn the_merged_document_holds_every_operation_and_schema_of_every_service_unchanged() {
    let merged = json(document());
    assert_eq!(merged["openapi"], "3.1.0");
    assert_eq!(merged["info"]["title"], "E-commerce API");
    // The developer tools, and the gateway's own routes (each checked against its router below).
    let own = routed(include_str!("../mod.rs")).len();
    let mut operations = own;
    for (name, doc) in services() {
        let paths = doc["paths"].as_object().unwrap().iter();
        // Every document describes itself at /openapi.json; here that is the merged one.
        for (path, item) in paths.filter(|(path, _)| *path != "/openapi.json") {
            for (method, operation) in item.as_object().unwrap() {
                let kept = &merged["paths"][path][method];
                let mut without_gateway = kept.clone();
                let responses = without_gateway["responses"].as_object_mut().unwrap();
                for (status, _) in GATEWAY_ANSWERS {
                    if operation["responses"].get(status).is_none() {
                        assert!(kept["responses"][status]["description"].is_string());
                        responses.remove(status);
                    }
                }
                assert_eq!(&without_gateway, operation, "{name}: {method} {path}");
                operations += 1;
            }
        }
        // Two services naming different schemas alike would lose one of them in the merge.
        for (schema, body) in doc["components"]["schemas"].as_object().unwrap() {
            let kept = &merged["components"]["schemas"][schema];
            assert_eq!(kept, body, "{name}: schema {schema} differs from another's");
        }
        let tags = doc["tags"].as_array().unwrap();
        assert!(tags
            .iter()
            .all(|t| merged["tags"].as_array().unwrap().contains(t)));
    }
    let merged_operations: usize = merged["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(merged_operations, operations);
    let paths = merged["paths"].as_object().unwrap();
    let internal = |p: &&String| p.starts_with("/internal/") || p.starts_with("/events");
    assert_eq!(paths.keys().find(internal), None, "only the public API");
    assert_eq!(
        merged["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// The gateway's own routes, in OpenAPI's spelling (`{*file}` is `{file}`).
fn routed(source: &str) -> BTreeSet<(String, String)> {
    test_support::openapi::routed(source)
        .into_iter()
        .map(|(method, path)| (method, path.replace("{*", "{")))
        .collect()
}

#[test]
fn every_route_of_the_gateways_own_router_is_documented() {
    let merged = json(document());
    let own: BTreeSet<_> = test_support::openapi::documented(&merged)
        .into_iter()
        .filter(|(_, path)| !path.starts_with("/api/") || path.starts_with("/api/dev/"))
        .collect();
    assert_eq!(own, routed(include_str!("../mod.rs")));
    test_support::openapi::assert_refs_resolve(&merged);
    for (path, item) in gateway()["paths"].as_object().unwrap() {
        assert_eq!(
            &merged["paths"][path], item,
            "{path}: no gateway answers on local routes"
        );
    }
}

#[test]
fn every_id_in_a_path_is_described_as_an_object_id() {
    let merged = json(document());
    let mut ids = 0;
    let paths = merged["paths"].as_object().unwrap().iter();
    for (_, item) in paths.filter(|(path, _)| path.starts_with("/api/")) {
        for operation in item.as_object().unwrap().values() {
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            for p in parameters.filter(|p| p["in"] == "path") {
                assert_eq!(p["schema"]["pattern"], "^[0-9a-fA-F]{24}$", "{p}");
                ids += 1;
            }
        }
    }
    assert_eq!(ids, 10);
}

async fn body_of(response: Response) -> (StatusCode, String, String) {
    let status = response.status();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn the_document_is_answered_as_json_and_as_yaml() {
    let (status, content_type, body) = body_of(openapi_json().await).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json(document())
    );
    let (status, content_type, body) = body_of(openapi_yaml().await).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/yaml")
    );
    assert!(body.starts_with("openapi: 3.1.0\n"), "{}", &body[..40]);
    assert!(body.contains("\n  /api/orders:\n"));
}

#[tokio::test]
async fn the_page_and_its_scripts_come_from_the_gateway() {
    let (status, content_type, page) = body_of(docs_file(None).await).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/html")
    );
    for script in ["./swagger-ui-bundle.js", "./swagger-initializer.js"] {
        assert!(page.contains(script), "the page loads {script}");
    }
    assert!(
        !page.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    let file = |f: &str| docs_file(Some(Path(f.to_owned())));
    let (status, content_type, init) = body_of(file("swagger-initializer.js").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.contains("javascript"), "{content_type}");
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    let response = file("swagger-ui-bundle.js").await;
    let csp = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("upgrade-insecure-requests"));
    let (status, _, bundle) = body_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bundle.len() > 100_000, "the whole bundle is served");
    let (status, content_type, _) = body_of(file("nothing-here.js").await).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/json")
    );
}

#[test]
fn the_gateways_metrics_are_documented_as_answering_only_the_internal_token() {
    let merged = json(document());
    let metrics = &merged["paths"]["/metrics"]["get"];
    assert_eq!(metrics["security"], serde_json::json!([{"internal": []}]));
    assert_eq!(
        metrics["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorAnswer"
    );
    let scheme = &merged["components"]["securitySchemes"]["internal"];
    assert_eq!(
        (&scheme["in"], &scheme["name"]),
        (&"header".into(), &"x-internal-token".into())
    );
    for open in ["/health", "/ready", "/openapi.json"] {
        assert!(
            merged["paths"][open]["get"].get("security").is_none(),
            "{open}"
        );
    }
}

#[test]
fn every_string_a_request_carries_states_what_the_wire_takes() {
    let merged = json(document());
    let undescribed = test_support::openapi::undescribed_request_strings(&merged);
    assert!(undescribed.is_empty(), "{undescribed:#?}");
}

#[test]
fn the_encrypted_form_is_described_as_the_cipher_writes_it() {
    use shared::payload::{MacPolicy, PayloadCipher};
    use test_support::openapi::matches;
    let merged = json(document());
    let encrypted = &merged["components"]["schemas"]["Encrypted"]["properties"]["encrypted"];
    let pattern = encrypted["pattern"].as_str().unwrap();
    let cipher =
        PayloadCipher::new("0123456789abcdef0123456789abcdef", MacPolicy::Optional).unwrap();
    for plain in [&b"{}"[..], br#"{"payload":"sixteen bytes..."}"#] {
        for written in [cipher.encrypt(plain), cipher.encrypt_legacy(plain)] {
            assert!(matches(pattern, &written), "{written}");
            assert!(cipher.decrypt(&written).is_ok());
        }
    }
    let (iv, block) = ("0".repeat(32), "0".repeat(32));
    for malformed in [
        "0".to_owned(),
        "<iv>:<ct>:<mac>".to_owned(),
        format!("{iv}:{}", "0".repeat(31)),
        format!("{iv}:{block}:{}", "0".repeat(63)),
        format!("{}:{block}", "0".repeat(30)),
        format!("{iv}:{block}:{}:{block}", "0".repeat(64)),
    ] {
        assert!(!matches(pattern, &malformed), "{malformed}");
        assert!(cipher.decrypt(&malformed).is_err(), "{malformed}");
    }
}
