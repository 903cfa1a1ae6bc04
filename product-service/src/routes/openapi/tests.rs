//! The document against the code: every public route with its methods, no other; the limits the
//! wire enforces; a valid OpenAPI 3.1 shape.
#![allow(clippy::unwrap_used)]

use super::ApiDoc;
use crate::routes::wire::{
    is_http_url, CreateProductRequest, PatchProductRequest, ReplaceProductRequest, CATEGORY_LEN,
    DESCRIPTION_LEN, MAX_BULK_IDS, MAX_IMAGES, MAX_PRICE_CENTS, MAX_STOCK, NAME_LEN, SKU_LEN,
};
use serde_json::{json, Value};
use shared::extract::FromJson;
use test_support::openapi::matches;
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
    let fields = &doc["components"]["schemas"]["NewProduct"]["properties"];
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
        doc["components"]["schemas"]["NewProduct"]["additionalProperties"],
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

#[test]
fn the_bodies_require_what_the_wire_requires() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let body = |method: &str, path: &str| {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .clone()
    };
    assert_eq!(
        body("post", "/api/products"),
        "#/components/schemas/NewProduct"
    );
    assert_eq!(
        body("put", "/api/products/{id}"),
        "#/components/schemas/NewProduct"
    );
    assert_eq!(
        body("patch", "/api/products/{id}"),
        "#/components/schemas/ProductChange"
    );
    // What an empty body is told is missing.
    let missing = |refused: Result<(), shared::ApiError>| -> Vec<String> {
        let errors = refused.expect_err("an empty body is refused").errors;
        errors
            .into_iter()
            .filter(|e| e.message.ends_with(" is required"))
            .map(|e| e.field)
            .collect()
    };
    let empty = json!({});
    let required = json!(super::REQUIRED_FIELDS);
    assert_eq!(
        json!(missing(CreateProductRequest::from_json(&empty).map(drop))),
        required
    );
    assert_eq!(
        json!(missing(ReplaceProductRequest::from_json(&empty).map(drop))),
        required
    );
    assert_eq!(schemas["NewProduct"]["required"], required);
    // PATCH: any field, at least one.
    assert!(PatchProductRequest::from_json(&empty).is_err());
    assert!(PatchProductRequest::from_json(&json!({"stock": 1})).is_ok());
    assert_eq!(schemas["ProductChange"]["minProperties"], 1);
    assert!(schemas["ProductChange"].get("maxProperties").is_none());
    assert!(schemas["ProductChange"].get("required").is_none());
    // The same fields in both, none of them null.
    assert_eq!(
        schemas["NewProduct"]["properties"],
        schemas["ProductChange"]["properties"]
    );
    for (field, schema) in schemas["ProductChange"]["properties"].as_object().unwrap() {
        assert!(!schema.to_string().contains("null"), "{field}: {schema}");
    }
}

#[test]
fn the_documented_text_and_money_are_what_the_wire_takes() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["NewProduct"]["properties"]["description"]["pattern"],
        shared::openapi::MULTI_LINE_TEXT
    );
    // What the document calls an image URL the wire takes, and the usual ones are such.
    let image = schemas["ImageUrl"]["pattern"].as_str().unwrap();
    let usual = [
        "https://example.com/a.png",
        "http://x",
        "https://h:8080/p?q=1&r=%20#f",
        "https://user@host/~a(b)",
    ];
    for url in usual {
        assert!(matches(image, url), "{url}");
    }
    let unusual = [
        "http://",
        "https:///a",
        "https://?a",
        "https://#a",
        "ftp://example.com/a",
        "https://a b",
        "https://a\u{85}",
        "https://a\u{7f}",
        "example.com/a.png",
        " https://a",
        "https://bücher.example/",
        "HTTPS://A",
    ];
    for url in usual.into_iter().chain(unusual) {
        if matches(image, url) {
            assert!(is_http_url(url), "{url}: documented, refused");
        }
    }
    assert_eq!(schemas["ImageUrl"]["maxLength"], 2048);
    assert!(is_http_url(&format!("https://{}", "a".repeat(2040))));
    assert!(!is_http_url(&format!("https://{}", "a".repeat(2041))));
    let ids = &schemas["BulkProducts"]["properties"]["ids"]["items"];
    assert_eq!(ids["$ref"], "#/components/schemas/ObjectId");
    assert_eq!(
        schemas["ObjectId"]["pattern"],
        shared::openapi::OBJECT_ID_PATTERN
    );
    for parameter in doc["paths"]["/api/products"]["get"]["parameters"]
        .as_array()
        .unwrap()
    {
        if ["minPrice", "maxPrice"].contains(&parameter["name"].as_str().unwrap()) {
            let schema = &parameter["schema"];
            let maximum = schema["maximum"].as_f64();
            assert_eq!(maximum, Some(shared::money::MAX_MONEY), "{parameter}");
            assert_eq!(schema["multipleOf"], json!(0.01), "{parameter}");
        }
    }
}

#[test]
fn the_documented_metadata_is_what_the_wire_stores() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let metadata = &schemas["NewProduct"]["properties"]["metadata"];
    assert_eq!(metadata["$ref"], "#/components/schemas/Metadata");
    let key = schemas["Metadata"]["propertyNames"]["pattern"]
        .as_str()
        .unwrap();
    let value = json!({"$ref": "#/components/schemas/MetadataValue"});
    assert_eq!(schemas["Metadata"]["additionalProperties"], value);
    let kinds = schemas["MetadataValue"]["oneOf"].as_array().unwrap();
    assert_eq!(kinds[3]["pattern"], shared::openapi::RAW_TEXT, "strings");
    assert_eq!(kinds[4]["items"], value, "arrays");
    assert_eq!(kinds[5]["propertyNames"]["pattern"], key, "objects");
    assert_eq!(kinds[5]["additionalProperties"], value, "objects");
    for sample in [
        "", "a", "a b", " a", "a$", "$a", "a.b", ".", "é", "a\u{0}", "\u{1f}", "a\u{85}", "\t",
    ] {
        let stored = PatchProductRequest::from_json(&json!({"metadata": {sample: 1}})).is_ok();
        let nested = PatchProductRequest::from_json(&json!({"metadata": {"a": [{sample: 1}]}}));
        assert_eq!(matches(key, sample), stored, "{sample:?}");
        assert_eq!(stored, nested.is_ok(), "{sample:?}");
    }
}
