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

/// Whether `text` matches a document's `pattern`, as JSON Schema validators match one (anywhere
/// in the text unless the pattern is anchored).
pub fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern)
        .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
        .is_match(text)
}

/// The strings requests carry (JSON bodies, query parameters) that `doc` describes with no
/// `pattern`, `format` or `enum`, each as `METHOD path: where`. The wire refuses control
/// characters in every one, so the document should say so (`shared::openapi::describe_text`).
pub fn undescribed_request_strings(doc: &Value) -> Vec<String> {
    fn walk(
        schema: &Value,
        at: &str,
        doc: &Value,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if let Some(Value::String(to)) = schema.get("$ref") {
            let name = to.trim_start_matches("#/components/schemas/");
            if seen.insert(name.to_owned()) {
                walk(&doc["components"]["schemas"][name], name, doc, seen, out);
            }
            return;
        }
        let is_string = match &schema["type"] {
            Value::String(t) => t == "string",
            Value::Array(types) => types.iter().any(|t| t == "string"),
            _ => false,
        };
        let described = ["pattern", "format", "enum"]
            .iter()
            .any(|k| schema.get(k).is_some());
        if is_string && !described {
            out.push(at.to_owned());
        }
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                walk(property, &format!("{at}.{name}"), doc, seen, out);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{at}[]"), doc, seen, out);
        }
        for k in ["oneOf", "allOf", "anyOf"] {
            for item in schema[k].as_array().into_iter().flatten() {
                walk(item, at, doc, seen, out);
            }
        }
    }
    let mut out = Vec::new();
    let paths = doc["paths"].as_object().into_iter().flatten();
    for (path, item) in paths {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let mut found = Vec::new();
            let mut seen = BTreeSet::new();
            let bodies = operation["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten();
            for (_, content) in bodies {
                walk(&content["schema"], "body", doc, &mut seen, &mut found);
            }
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            for parameter in parameters.filter(|p| p["in"] == "query") {
                let at = format!("query {}", parameter["name"].as_str().unwrap_or("?"));
                walk(&parameter["schema"], &at, doc, &mut seen, &mut found);
            }
            let method = method.to_uppercase();
            out.extend(found.into_iter().map(|at| format!("{method} {path}: {at}")));
        }
    }
    out
}
