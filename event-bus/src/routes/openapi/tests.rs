//! The document against the code: every route of the event API with its methods, no other; the
//! wire's limits.

use serde_json::{json, Value};

fn document() -> Value {
    serde_json::to_value(super::api_doc()).expect("the document is JSON")
}

#[test]
fn every_route_of_the_event_api_is_documented_and_no_other() {
    test_support::openapi::assert_documents_internal_routes(include_str!("../mod.rs"), &document());
}

#[test]
fn the_documented_limits_are_the_ones_the_wire_enforces() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let many = &schemas["NewEvents"]["oneOf"][1]["$ref"];
    assert_eq!(many, "#/components/schemas/NewEventBatch");
    let batch = &schemas["NewEventBatch"];
    assert_eq!(
        batch["maxItems"],
        json!(crate::routes::wire::MAX_BATCH),
        "{batch}"
    );
    assert_eq!(batch["items"]["$ref"], "#/components/schemas/NewEvent");
    let event_type = &schemas["NewEvent"]["properties"]["type"];
    assert_eq!(event_type["maxLength"], json!(100));
    assert_eq!(
        doc["components"]["securitySchemes"]["internal"]["in"],
        "header"
    );
}
