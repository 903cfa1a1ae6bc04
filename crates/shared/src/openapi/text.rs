//! The wire's rule for text, stated in the public documents. Every string a request carries (a
//! JSON body's field, a query parameter) is refused when it holds a control character, and most
//! are trimmed before their length is checked ([`Validator`](crate::validate::Validator),
//! [`QueryValidator`](crate::validate::QueryValidator)). So [`describe_text`] gives every string a
//! request carries that the document describes without a `pattern`, `format` or `enum` of its own
//! the pattern [`TRIMMED_TEXT`]: without surrounding whitespace, a string's length is what the
//! wire measures, and `minLength`/`maxLength` mean what they say. A secret kept as sent (passwords,
//! tokens: `format: password`) gets [`RAW_TEXT`]; a multi-line text states its own pattern,
//! [`MULTI_LINE_TEXT`] (descriptions).

use std::collections::BTreeSet;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// Text kept as sent (passwords, tokens): any characters but control characters (C0, DEL and C1:
/// `char::is_control`).
pub const RAW_TEXT: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// Single-line text, trimmed by the wire: no control character, and no whitespace first or last
/// (sent, it would be trimmed away, and the rest measured).
pub const TRIMMED_TEXT: &str = r"^(?:[^\s\u0000-\u001F\u007F-\u009F](?:[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F])?)?$";

/// Multi-line text (descriptions), trimmed: as [`TRIMMED_TEXT`], but tab and line feed are
/// allowed inside.
pub const MULTI_LINE_TEXT: &str = r"^(?:[^\s\u0000-\u001F\u007F-\u009F](?:[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F])?)?$";

/// Gives [`TRIMMED_TEXT`] to every string schema a request body or a query parameter of `openapi`
/// reaches (through `$ref`s to its components, properties, array items and `oneOf`/`allOf`/
/// `anyOf`) that has no `pattern`, `format` or `enum`, and [`RAW_TEXT`] to each of `format:
/// password` with no `pattern`.
pub fn describe_text(openapi: &mut OpenApi) {
    let mut referenced = Vec::new();
    for item in openapi.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            for schema in request_schemas(operation) {
                describe(schema, &mut referenced);
            }
        }
    }
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let mut done = BTreeSet::new();
    while let Some(name) = referenced.pop() {
        if done.insert(name.clone()) {
            if let Some(schema) = components.schemas.get_mut(&name) {
                describe(schema, &mut referenced);
            }
        }
    }
}

/// The schemas of what a request to `operation` carries: its bodies and its query parameters.
fn request_schemas(operation: &mut Operation) -> impl Iterator<Item = &mut RefOr<Schema>> {
    let bodies = operation
        .request_body
        .iter_mut()
        .flat_map(|body| body.content.values_mut())
        .filter_map(|content| content.schema.as_mut());
    let query = operation
        .parameters
        .iter_mut()
        .flatten()
        .filter(|parameter| parameter.parameter_in == ParameterIn::Query)
        .filter_map(|parameter| parameter.schema.as_mut());
    bodies.chain(query)
}

/// Describes the strings of `schema`, noting the components it refers to in `referenced`.
fn describe(schema: &mut RefOr<Schema>, referenced: &mut Vec<String>) {
    match schema {
        RefOr::Ref(to) => {
            if let Some(name) = to.ref_location.strip_prefix("#/components/schemas/") {
                referenced.push(name.to_string());
            }
        }
        RefOr::T(Schema::Object(object)) => {
            let pattern = match &object.format {
                None if object.enum_values.is_none() => Some(TRIMMED_TEXT),
                Some(SchemaFormat::KnownFormat(KnownFormat::Password)) => Some(RAW_TEXT),
                Some(_) | None => None,
            };
            if object.pattern.is_none() && is_string(&object.schema_type) {
                object.pattern = pattern.map(String::from);
            }
            for property in object.properties.values_mut() {
                describe(property, referenced);
            }
        }
        RefOr::T(Schema::Array(array)) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                describe(items, referenced);
            }
        }
        RefOr::T(Schema::OneOf(one)) => one.items.iter_mut().for_each(|s| describe(s, referenced)),
        RefOr::T(Schema::AllOf(all)) => all.items.iter_mut().for_each(|s| describe(s, referenced)),
        RefOr::T(Schema::AnyOf(any)) => any.items.iter_mut().for_each(|s| describe(s, referenced)),
        RefOr::T(_) => {}
    }
}

/// A string type, nullable or not.
fn is_string(schema_type: &SchemaType) -> bool {
    match schema_type {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}
