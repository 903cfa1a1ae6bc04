//! The document against the code: every client route with its methods, no other; the limits the
//! wire enforces; a valid OpenAPI 3.1 shape.
#![allow(clippy::unwrap_used)]

use super::ApiDoc;
use crate::domain::OrderStatus;
use crate::routes::wire::{ADDRESS_FIELD_LEN, MAX_LINES, MAX_QUANTITY, TRACKING_LEN};
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
fn the_documented_limits_and_statuses_are_the_ones_the_wire_enforces() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let items = &schemas["NewOrder"]["properties"]["items"];
    assert_eq!(items["maxItems"], json!(MAX_LINES));
    let quantity = &schemas["OrderLine"]["properties"]["quantity"];
    assert_eq!(quantity["maximum"], json!(MAX_QUANTITY));
    let address = schemas["ShippingAddress"]["properties"]
        .as_object()
        .unwrap();
    assert_eq!(address.len(), 5);
    for (field, s) in address {
        let len = (s["minLength"].clone(), s["maxLength"].clone());
        assert_eq!(
            len,
            (json!(ADDRESS_FIELD_LEN.0), json!(ADDRESS_FIELD_LEN.1)),
            "{field}"
        );
    }
    let tracking = &schemas["StatusChange"]["properties"]["trackingNumber"];
    assert_eq!(tracking["maxLength"], json!(TRACKING_LEN.1));
    let status = &schemas["Order"]["properties"]["status"]["$ref"];
    assert_eq!(status, "#/components/schemas/OrderStatus");
    let statuses = &schemas["OrderStatus"]["enum"];
    assert_eq!(statuses, &json!(OrderStatus::ALL));
    for name in ["NewOrder", "OrderLine", "ShippingAddress", "StatusChange"] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{name}"
        );
    }
}

#[test]
fn placing_an_order_names_its_idempotency_key_and_every_refusal() {
    let doc = document();
    let place = &doc["paths"]["/api/orders"]["post"];
    assert_eq!(place["security"], json!([{"bearer": []}]));
    let header = &place["parameters"][0];
    assert_eq!(
        (&header["name"], &header["in"]),
        (&json!("Idempotency-Key"), &json!("header"))
    );
    let codes: Vec<&str> = place["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        codes,
        ["201", "400", "401", "404", "409", "413", "422", "503"]
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
