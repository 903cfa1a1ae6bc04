//! The document against the code: every route under `/api/auth` with its methods, no other; the
//! limits the wire enforces; a valid OpenAPI 3.1 shape.
#![allow(clippy::unwrap_used)]

use super::ApiDoc;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use test_support::openapi::{documented, routed};
use utoipa::OpenApi;

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON")
}

#[test]
fn every_route_under_api_auth_is_documented_with_its_methods_and_nothing_else() {
    // The API router is nested under `/api/auth`; the others are on the service's own paths.
    let mut api: BTreeSet<_> = routed(include_str!("../mod.rs"))
        .into_iter()
        .filter(|(_, path)| !path.starts_with("/internal/") && path != "/openapi.json")
        .map(|(method, path)| (method, format!("/api/auth{path}")))
        .collect();
    assert_eq!(api.len(), 8);
    api.insert(("GET".to_owned(), "/openapi.json".to_owned()));
    assert_eq!(documented(&document()), api);
}

#[test]
fn the_documented_limits_and_roles_are_the_ones_the_wire_enforces() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let registration = &schemas["Registration"]["properties"];
    assert_eq!(registration["name"]["minLength"], json!(2));
    assert_eq!(registration["name"]["maxLength"], json!(50));
    assert_eq!(registration["password"]["minLength"], json!(8));
    assert_eq!(registration["password"]["maxLength"], json!(128));
    assert_eq!(schemas["Role"]["enum"], json!(["user", "admin"]));
    for name in ["Registration", "Login", "Refresh", "Logout", "UserChange"] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{name}"
        );
    }
    let login = &doc["paths"]["/api/auth/login"]["post"];
    assert!(login.get("security").is_none(), "logging in needs no token");
    assert!(
        login["responses"]["429"].is_object(),
        "attempts are rate limited"
    );
}

#[test]
fn every_internal_route_is_in_the_internal_document() {
    let doc = serde_json::to_value(super::internal::api_doc()).unwrap();
    test_support::openapi::assert_documents_internal_routes(include_str!("../mod.rs"), &doc);
    assert_eq!(
        doc["components"]["securitySchemes"]["internal"]["in"],
        "header"
    );
}

#[test]
fn the_documented_text_and_changes_are_what_the_wire_takes() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    // Passwords and tokens are kept as sent: no trimming, only no control characters.
    for (schema, field) in [
        ("Registration", "password"),
        ("Login", "password"),
        ("Refresh", "refreshToken"),
    ] {
        let described = &schemas[schema]["properties"][field];
        assert_eq!(described["format"], "password", "{schema}.{field}");
        assert_eq!(
            described["pattern"],
            shared::openapi::RAW_TEXT,
            "{schema}.{field}"
        );
    }
    // A change names at least one field, with a value: a null is no change.
    let change = &schemas["UserChange"];
    assert_eq!(change["minProperties"], 1);
    for (field, schema) in change["properties"].as_object().unwrap() {
        assert!(!schema.to_string().contains("null"), "{field}: {schema}");
    }
}
