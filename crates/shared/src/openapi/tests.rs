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
