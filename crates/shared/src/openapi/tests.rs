#![allow(clippy::unwrap_used)]
use super::*;
use crate::store::PageRequest;
use utoipa::IntoParams;

#[test]
fn page_params_name_the_default_and_keep_the_validators_bounds() {
    let params = serde_json::to_value(PageParams::<10>::into_params(|| None)).unwrap();
    let (page, limit) = (&params[0], &params[1]);
    assert_eq!(
        (&page["name"], &page["in"]),
        (&"page".into(), &"query".into())
    );
    assert_eq!(page["description"], "1-based page (default 1).");
    assert_eq!(page["schema"]["minimum"].as_f64(), Some(1.0));
    assert_eq!(
        page["schema"]["maximum"].as_f64(),
        Some(PageRequest::MAX_PAGE as f64)
    );
    assert_eq!(
        (&limit["name"], &limit["in"]),
        (&"limit".into(), &"query".into())
    );
    assert_eq!(limit["description"], "Page size (default 10).");
    assert_eq!(limit["schema"]["minimum"].as_f64(), Some(1.0));
    assert_eq!(
        limit["schema"]["maximum"].as_f64(),
        Some(PageRequest::MAX_LIMIT as f64)
    );
    assert_eq!(params.as_array().map(Vec::len), Some(2));
}

#[test]
fn an_object_id_param_is_a_required_path_string_of_24_hex_digits() {
    crate::object_id_param!(ThingId, "id", "The thing's id (24 hex digits).");
    let params = serde_json::to_value(ThingId::into_params(|| None)).unwrap();
    assert_eq!(
        params,
        serde_json::json!([{
            "name": "id",
            "in": "path",
            "description": "The thing's id (24 hex digits).",
            "required": true,
            "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
        }])
    );
}

/// Whether `text` matches `pattern` as a JSON Schema validator matches it.
fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern).unwrap().is_match(text)
}

#[test]
fn the_text_patterns_accept_exactly_what_the_wire_takes_unchanged() {
    use crate::validate::Validator;
    type Reader = fn(&mut Validator<'_>) -> Option<String>;
    // Control characters of each range, whitespace of several kinds, and text around them.
    let samples = [
        "",
        "a",
        "ab c",
        " a",
        "a ",
        "\ta",
        "a\n",
        "a\tb",
        "a\nb",
        "a\rb",
        "a\u{0}b",
        "a\u{1f}b",
        "a\u{7f}b",
        "a\u{85}b",
        "a\u{9f}b",
        "\u{a0}a",
        "a\u{2028}",
        "\u{3000}a",
        "a\u{a0}b",
        "é ü",
        "😀",
        "\u{feff}a",
        "\u{200b}a",
        "a\u{2028}b",
        "x\u{1}",
    ];
    let readers: [(&str, Reader); 3] = [
        (RAW_TEXT, |v| v.raw_string("f", 0, 100)),
        (TRIMMED_TEXT, |v| v.string("f", 0, 100)),
        (MULTI_LINE_TEXT, |v| v.text("f", 0, 100)),
    ];
    for (pattern, read) in readers {
        for sample in samples {
            let body = serde_json::json!({ "f": sample });
            let mut v = Validator::new(&body).unwrap();
            let unchanged = read(&mut v).as_deref() == Some(sample) && v.finish().is_ok();
            assert_eq!(
                matches(pattern, sample),
                unchanged,
                "{pattern} on {sample:?} (the wire takes it unchanged: {unchanged})"
            );
        }
    }
}

#[test]
fn describe_text_gives_the_strings_requests_carry_the_trimmed_pattern_and_nothing_else() {
    use serde_json::json;
    let mut doc: utoipa::openapi::OpenApi = serde_json::from_value(json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things": {
            "post": {
                "parameters": [
                    {"name": "q", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}
                ],
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/NewThing"}
                }}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}
                }}}}
            }
        }},
        "components": {"schemas": {
            "NewThing": {"type": "object", "properties": {
                "name": {"type": "string", "minLength": 1},
                "note": {"type": ["string", "null"]},
                "email": {"type": "string", "format": "email"},
                "secret": {"type": "string", "pattern": "^x$"},
                "password": {"type": "string", "format": "password"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "count": {"type": "integer"},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                "either": {"oneOf": [{"type": "null"}, {"type": "string"}]}
            }},
            "Tag": {"type": "string"},
            "Thing": {"type": "object", "properties": {"name": {"type": "string"}}}
        }}
    }))
    .unwrap();
    describe_text(&mut doc);
    let doc = serde_json::to_value(&doc).unwrap();
    let schemas = &doc["components"]["schemas"];
    let new = &schemas["NewThing"]["properties"];
    let trimmed = json!(TRIMMED_TEXT);
    for described in [
        &new["name"]["pattern"],
        &new["note"]["pattern"],
        &new["either"]["oneOf"][1]["pattern"],
        &schemas["Tag"]["pattern"],
        &doc["paths"]["/things"]["post"]["parameters"][0]["schema"]["pattern"],
    ] {
        assert_eq!(described, &trimmed);
    }
    assert_eq!(new["secret"]["pattern"], "^x$", "its own pattern is kept");
    assert_eq!(
        new["password"]["pattern"], RAW_TEXT,
        "a secret is kept as sent"
    );
    for untouched in [
        &new["email"],
        &new["kind"],
        &new["count"],
        &schemas["Thing"]["properties"]["name"],
        &doc["paths"]["/things"]["post"]["parameters"][1]["schema"],
    ] {
        assert!(untouched.get("pattern").is_none(), "{untouched}");
    }
}
