//! Parameters that routes of several services share: the pages of a list (`page`, `limit`) and
//! the ObjectId in a path, each documented once with the bounds the service enforces.

/// The pattern of an ObjectId in a path or a body: 24 hex digits, either case
/// ([`ids::is_object_id`](crate::ids::is_object_id)).
pub const OBJECT_ID_PATTERN: &str = r"^[0-9a-fA-F]{24}$";

/// The path parameter `name`, an ObjectId as [`IdPath`](crate::extract::IdPath) reads it,
/// described as `description` (see [`object_id_param!`](crate::object_id_param)).
pub fn object_id_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(utoipa::openapi::Required::True)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .pattern(Some(OBJECT_ID_PATTERN)),
        ))
        .build()
}

/// An ObjectId in a body, as the type of a schema's field (`ids: Vec<ObjectId>`): a string of 24
/// hex digits, either case ([`OBJECT_ID_PATTERN`]).
#[derive(serde::Deserialize)]
pub struct ObjectId;

impl utoipa::PartialSchema for ObjectId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .description(Some("24 hex digits."))
            .pattern(Some(OBJECT_ID_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for ObjectId {}

/// Declares a type for a route's `params(…)`: the path parameter `$name`, an ObjectId (as
/// [`IdPath`](crate::extract::IdPath) reads it), described as `$description`.
///
/// `shared::object_id_param!(pub ProductIdParam, "id", "The product's id (24 hex digits).");`
#[macro_export]
macro_rules! object_id_param {
    ($(#[$meta:meta])* $vis:vis $type:ident, $name:literal, $description:literal) => {
        $(#[$meta])*
        #[doc = concat!("The path parameter `", $name, "`: ", $description)]
        $vis struct $type;

        impl ::utoipa::IntoParams for $type {
            fn into_params(
                _: impl Fn() -> Option<::utoipa::openapi::path::ParameterIn>,
            ) -> Vec<::utoipa::openapi::path::Parameter> {
                vec![$crate::openapi::object_id_param($name, $description)]
            }
        }
    };
}

/// The `page` and `limit` query parameters of a list whose page size defaults to `DEFAULT_LIMIT`:
/// what [`QueryValidator::page`](crate::validate::QueryValidator::page) reads.
pub struct PageParams<const DEFAULT_LIMIT: u64>;

impl<const DEFAULT_LIMIT: u64> utoipa::IntoParams for PageParams<DEFAULT_LIMIT> {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use crate::store::PageRequest;
        vec![
            query_count("page", "1-based page (default 1).", PageRequest::MAX_PAGE),
            query_count(
                "limit",
                &format!("Page size (default {DEFAULT_LIMIT})."),
                PageRequest::MAX_LIMIT,
            ),
        ]
    }
}

/// The optional query parameter `name`, a whole number from 1 to `max`.
fn query_count(name: &str, description: &str, max: u64) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(utoipa::openapi::Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Integer))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .maximum(Some(max)),
        ))
        .build()
}
