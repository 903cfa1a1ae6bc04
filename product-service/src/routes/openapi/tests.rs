//! The document against the code: every public route with its methods, no other; the limits the
//! wire enforces; a valid OpenAPI 3.1 shape.

use super::ApiDoc;
use crate::routes::wire::{
    CATEGORY_LEN, DESCRIPTION_LEN, MAX_BULK_IDS, MAX_IMAGES, MAX_PRICE_CENTS, MAX_STOCK, NAME_LEN,
    SKU_LEN,
};
use serde_json::{json, Value};
use utoipa::OpenApi;

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON")
}

#[test]
fn every_public_route_is_documented_with_its_methods_and_nothing_else() {
    let public = |path: &str| !path.starts_with("/internal/");
    test_support::openapi::assert_documents_routes(include_str!("../mod.rs"), &document(), public);
}

#[test]
fn the_documented_limits_are_the_ones_the_wire_enforces() {
    let doc = document();
    let fields = &doc["components"]["schemas"]["ProductFields"]["properties"];
    let len = |field: &str| {
        (
            fields[field]["minLength"].clone(),
            fields[field]["maxLength"].clone(),
        )
    };
    for (field, (min, max)) in [
        ("name", NAME_LEN),
        ("description", DESCRIPTION_LEN),
        ("category", CATEGORY_LEN),
        ("sku", SKU_LEN),
    ] {
        assert_eq!(len(field), (json!(min), json!(max)), "{field}");
    }
    assert_eq!(fields["price"]["maximum"], json!(MAX_PRICE_CENTS / 100));
    assert_eq!(fields["stock"]["maximum"], json!(MAX_STOCK));
    assert_eq!(fields["images"]["maxItems"], json!(MAX_IMAGES));
    let bulk = &doc["components"]["schemas"]["BulkProducts"]["properties"]["ids"];
    assert_eq!(bulk["maxItems"], json!(MAX_BULK_IDS));
    assert_eq!(
        doc["components"]["schemas"]["ProductFields"]["additionalProperties"],
        json!(false),
        "unknown fields are refused"
    );
}

#[test]
fn protected_routes_name_the_bearer_scheme_and_answers_use_the_envelopes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let create = &doc["paths"]["/api/products"]["post"];
    assert_eq!(create["security"], json!([{"bearer": []}]));
    let created = &create["responses"]["201"]["content"]["application/json"]["schema"];
    assert!(created.to_string().contains("Product"), "{created}");
    let conflict = &create["responses"]["409"]["content"]["application/json"]["schema"];
    assert_eq!(conflict["$ref"], "#/components/schemas/ErrorAnswer");
    // The list is public; an admin's token only matters for `isActive=false`.
    let list = &doc["paths"]["/api/products"]["get"];
    assert_eq!(list["security"], json!([{}, {"bearer": []}]));
    let parameter = |name: &str| {
        list["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} documented"))
            .clone()
    };
    assert_eq!(parameter("isActive")["schema"]["type"], "boolean");
    assert!(list["responses"]["403"].is_object());
    assert_eq!(
        parameter("sort")["schema"]["enum"],
        json!(crate::domain::SortOrder::ALLOWED)
    );
}

#[test]
fn every_internal_route_is_in_the_internal_document_with_the_wires_limits() {
    let doc = serde_json::to_value(super::internal::api_doc()).expect("JSON");
    test_support::openapi::assert_documents_internal_routes(include_str!("../mod.rs"), &doc);
    let schemas = &doc["components"]["schemas"];
    let quantity = &schemas["ReservationLine"]["properties"]["quantity"];
    assert_eq!(
        quantity["maximum"],
        json!(crate::routes::wire::MAX_QUANTITY)
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["internal"]["name"],
        "x-internal-token"
    );
    assert!(doc["components"]["securitySchemes"].get("bearer").is_none());
}
