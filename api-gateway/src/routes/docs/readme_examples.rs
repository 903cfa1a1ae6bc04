//! Every request the README shows with curl against the gateway is one the document describes: its
//! method and path, its query and header parameters, and its JSON body, which must validate
//! against the operation's schema (or the `Encrypted` form). The document's own examples validate
//! too. `/health` and the other operations routes are described in the README, not here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::document;
use serde_json::{json, Value};

const README: &str = include_str!("../../../../README.md");
const GATEWAY: &str = "http://localhost:3000";
/// What the README's placeholders (`$ORDER_ID`, `<userId>`…) stand for: an id of the right shape.
const SOME_ID: &str = "6b13f727b32d7cebb0000001";
/// The README's placeholder of an encrypted body.
const CIPHERTEXT: &str = "<iv>:<ct>:<mac>";

/// One curl invocation, its shell words unquoted and its variables filled in.
#[derive(Debug)]
struct Example {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// The shell words of a curl command starting at `text`, up to the end of the command (an
/// unquoted newline not escaped, `|` or `)`).
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            (None, '\n' | '|' | ')') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Fills in `$NAME` variables and `<placeholder>`s with a plausible id (or ciphertext).
fn filled(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find(['$', '<']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(name) = tail.strip_prefix('$') {
            let end = name
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(name.len());
            out.push_str(match &name[..end] {
                "TOKEN" | "ADMIN" => "a-token",
                _ => SOME_ID,
            });
            rest = &name[end..];
        } else if let Some(after) = tail.strip_prefix(CIPHERTEXT) {
            out.push_str(super::dev_tools::ENCRYPTED_EXAMPLE);
            rest = after;
        } else if let Some(end) = tail.find('>').filter(|&e| tail[1..e].ends_with("Id")) {
            out.push_str(SOME_ID);
            rest = &tail[end + 1..];
        } else {
            out.push('<');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The README's curl commands against the gateway.
fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    for block in README.split("```bash").skip(1) {
        let block = block.split("```").next().unwrap();
        for (at, _) in block.match_indices("curl ") {
            let words: Vec<String> = words(&block[at..]).iter().map(|w| filled(w)).collect();
            let mut example = Example {
                method: "GET".into(),
                url: String::new(),
                headers: Vec::new(),
                body: None,
            };
            let mut args = words.iter().skip(1);
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "-X" => example.method = args.next().unwrap().clone(),
                    "-H" => {
                        let (name, value) = args.next().unwrap().split_once(':').unwrap();
                        example
                            .headers
                            .push((name.to_ascii_lowercase(), value.trim().into()));
                    }
                    "-d" => example.body = Some(args.next().unwrap().clone()),
                    url if url.starts_with("http") => example.url = url.to_owned(),
                    _ => {}
                }
            }
            out.push(example);
        }
    }
    out
}

/// The operation of `method` and the document's path template matching `path`, with the values
/// of its path parameters.
fn operation<'d>(doc: &'d Value, method: &str, path: &str) -> Option<(&'d Value, Vec<String>)> {
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .find_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut values = Vec::new();
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    values.push((*segment).to_owned());
                } else if part != segment {
                    return None;
                }
            }
            item.get(method.to_ascii_lowercase()).map(|op| (op, values))
        })
}

/// Validates `value` against `schema`, whose references point into the document's components.
fn check(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("the schema does not compile: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A parameter's value as JSON: a number or a boolean where the schema wants one.
fn parameter_value(schema: &Value, raw: &str) -> Value {
    let numeric = ["integer", "number"]
        .map(|t| json!(t))
        .contains(&schema["type"]);
    let boolean = schema["type"] == "boolean";
    match raw.parse::<f64>() {
        Ok(_) if numeric => serde_json::from_str(raw).unwrap(),
        _ if boolean && (raw == "true" || raw == "false") => json!(raw == "true"),
        _ => json!(raw),
    }
}

fn parameter<'d>(op: &'d Value, name: &str, place: &str) -> Option<&'d Value> {
    op["parameters"].as_array()?.iter().find(|p| {
        p["in"] == place
            && p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn check_example(doc: &Value, example: &Example) -> Result<(), String> {
    let target = example.url.strip_prefix(GATEWAY).ok_or("not the gateway")?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (op, path_values) =
        operation(doc, &example.method, path).ok_or("no such operation in the document")?;
    let path_params = op["parameters"].as_array().into_iter().flatten();
    for (p, value) in path_params.filter(|p| p["in"] == "path").zip(&path_values) {
        check(doc, &p["schema"], &json!(value)).map_err(|e| format!("path {}: {e}", p["name"]))?;
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let p = parameter(op, name, "query").ok_or(format!("query `{name}` is not described"))?;
        let value = parameter_value(&p["schema"], value);
        check(doc, &p["schema"], &value).map_err(|e| format!("query {name}: {e}"))?;
    }
    for (name, value) in &example.headers {
        match name.as_str() {
            // Public operations take a token too (admins see more).
            "content-type" | "authorization" => {}
            _ => {
                let p = parameter(op, name, "header")
                    .ok_or(format!("header `{name}` is not described"))?;
                check(doc, &p["schema"], &json!(value)).map_err(|e| format!("{name}: {e}"))?;
            }
        }
    }
    if let Some(body) = &example.body {
        let value: Value = serde_json::from_str(body).map_err(|e| format!("body: {e}"))?;
        let schema = if value
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("encrypted"))
        {
            json!({"$ref": "#/components/schemas/Encrypted"})
        } else {
            op["requestBody"]["content"]["application/json"]["schema"].clone()
        };
        if schema.is_null() {
            return Err("a body where none is described".into());
        }
        check(doc, &schema, &value).map_err(|e| format!("body: {e}"))?;
    }
    Ok(())
}

#[test]
fn every_readme_example_request_is_described_and_valid() {
    let doc = serde_json::to_value(document()).unwrap();
    let examples = examples();
    let mut checked = 0;
    let mut failures = Vec::new();
    for example in &examples {
        let Some(target) = example.url.strip_prefix(GATEWAY) else {
            continue; // a service's own port: the internal API
        };
        if !target.starts_with("/api/") {
            continue; // /health and the other operations routes
        }
        checked += 1;
        if let Err(e) = check_example(&doc, example) {
            failures.push(format!("{} {}: {e}", example.method, example.url));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The walkthrough alone has nine; every resource's table has more.
    assert!(
        checked >= 20,
        "only {checked} examples found in {examples:#?}"
    );
}

#[test]
fn a_request_the_document_does_not_describe_is_caught() {
    let doc = serde_json::to_value(document()).unwrap();
    let example = |method: &str, target: &str, body: Option<&str>| Example {
        method: method.into(),
        url: format!("{GATEWAY}{target}"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.map(str::to_owned),
    };
    let bad = [
        example("DELETE", "/api/orders", None),
        example("GET", "/api/products?colour=red", None),
        example("GET", "/api/products?limit=1000", None),
        example("GET", "/api/orders/not-an-id", None),
        example("POST", "/api/orders", Some(r#"{"items": []}"#)),
        example(
            "POST",
            "/api/auth/login",
            Some(r#"{"email": "a@b.co", "pw": "x"}"#),
        ),
    ];
    for e in bad {
        assert!(check_example(&doc, &e).is_err(), "{e:?} passed");
    }
    let good = example(
        "POST",
        "/api/auth/login",
        Some(r#"{"email": "a@b.co", "password": "x"}"#),
    );
    assert_eq!(check_example(&doc, &good), Ok(()));
}

#[test]
fn every_example_in_the_document_is_valid_against_its_schema() {
    let doc = serde_json::to_value(document()).unwrap();
    let mut seen = 0;
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for example in schema["examples"].as_array().into_iter().flatten() {
            seen += 1;
            let reference = json!({"$ref": format!("#/components/schemas/{name}")});
            assert_eq!(
                check(&doc, &reference, example),
                Ok(()),
                "{name}: {example}"
            );
        }
    }
    assert!(seen >= 10, "{seen} examples");
}
