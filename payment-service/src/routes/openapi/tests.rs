//! The document against the code: every client route with its methods, no other; the statuses
//! and methods from the domain; a valid OpenAPI 3.1 shape.
#![allow(clippy::unwrap_used)]

use super::ApiDoc;
use crate::domain::PaymentMethod;
use serde_json::{json, Value};
use utoipa::OpenApi;

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON")
}

#[test]
fn every_client_route_is_documented_with_its_methods_and_nothing_else() {
    let public = |path: &str| path.starts_with("/api/") || path == "/openapi.json";
    test_support::openapi::assert_documents_routes(include_str!("../mod.rs"), &document(), public);
}

#[test]
fn charges_list_every_answer_and_the_methods_the_wire_accepts() {
    let doc = document();
    let charge = &doc["paths"]["/api/payments/process"]["post"];
    let codes: Vec<&str> = charge["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(codes, ["201", "202", "400", "401", "404", "409"]);
    assert_eq!(charge["security"], json!([{"bearer": []}]));
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["PaymentMethod"]["enum"],
        json!(PaymentMethod::NAMES)
    );
    assert_eq!(
        schemas["ChargeRequest"]["additionalProperties"],
        json!(false)
    );
}

#[test]
fn every_internal_route_is_in_the_internal_document() {
    let doc = serde_json::to_value(super::internal::api_doc()).expect("JSON");
    test_support::openapi::assert_documents_internal_routes(include_str!("../mod.rs"), &doc);
    assert_eq!(
        doc["components"]["securitySchemes"]["internal"]["in"],
        "header"
    );
}

#[test]
fn the_documented_amount_is_the_money_the_wire_takes() {
    let doc = document();
    let amount = &doc["components"]["schemas"]["ChargeRequest"]["properties"]["amount"];
    assert_eq!(amount["maximum"].as_f64(), Some(shared::money::MAX_MONEY));
    assert_eq!(amount["multipleOf"], json!(0.01));
    assert_eq!(amount["minimum"], json!(0));
}
