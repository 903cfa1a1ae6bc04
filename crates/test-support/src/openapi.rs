//! Checks of a service's OpenAPI document against its router: the `(METHOD, path)` pairs a
//! `routes/mod.rs` declares, and the ones a document describes.

use serde_json::Value;
use std::collections::BTreeSet;

/// `(METHOD, path)` of every `.route(path, method(..).method(..))` in the source of a router.
pub fn routed(source: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for part in source.split(".route(").skip(1) {
        let path = part.split('"').nth(1).expect("a path literal");
        // The handler expression ends where the route call's parentheses close.
        let mut depth = 1;
        let end = part
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(part.len(), |(i, _)| i);
        let handler = &part[..end];
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = handler.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0 || !handler[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.insert((method.to_uppercase(), path.to_string()));
            }
        }
    }
    out
}

/// `(METHOD, path)` of every operation in an OpenAPI document.
pub fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// Asserts that `doc` describes exactly the routes of `source` that `public` keeps, and that its
/// references resolve.
pub fn assert_documents_routes(source: &str, doc: &Value, public: impl Fn(&str) -> bool) {
    assert_refs_resolve(doc);
    let routes: BTreeSet<_> = routed(source)
        .into_iter()
        .filter(|(_, path)| public(path))
        .collect();
    assert!(!routes.is_empty(), "no route found in the router's source");
    assert_eq!(documented(doc), routes);
}

/// Asserts that an internal API document describes exactly the internal routes of `source`
/// (`/internal/*`, the bus's and the consumers' `/events*`) and the operations routes every
/// service serves (`shared::ops`).
pub fn assert_documents_internal_routes(source: &str, doc: &Value) {
    assert_refs_resolve(doc);
    let mut routes: BTreeSet<_> = routed(source)
        .into_iter()
        .filter(|(_, path)| path.starts_with("/internal/") || path.starts_with("/events"))
        .collect();
    for path in ["/health", "/ready", "/metrics"] {
        routes.insert(("GET".to_owned(), path.to_owned()));
    }
    assert_eq!(documented(doc), routes);
}

/// Asserts that every `$ref` in `doc` names a schema the document has.
pub fn assert_refs_resolve(doc: &Value) {
    fn walk(value: &Value, schemas: &Value, missing: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let name = r.trim_start_matches("#/components/schemas/");
                    if schemas.get(name).is_none() {
                        missing.push(r.clone());
                    }
                }
                map.values().for_each(|v| walk(v, schemas, missing));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, schemas, missing)),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(doc, &doc["components"]["schemas"], &mut missing);
    assert!(missing.is_empty(), "references to nothing: {missing:?}");
}
