//! What every service's OpenAPI document shares: the answer envelopes (`{success, data}`,
//! `{success, data, pagination}`, and the error envelope with its `code`), the bearer scheme of
//! protected routes, the internal token of the internal API's document (and of the gateway's
//! `/metrics`), the operations routes (`operations`), the shared parameters (`params`: pages,
//! ids), and the route serving a document.

use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{IntoResponses, Modify, ToSchema};

mod operations;
mod params;
#[cfg(test)]
mod tests;
mod text;

pub use operations::{
    add_get, add_operations, error_answer, json_answer, metrics_operation, operation,
    operations_mut, OPERATIONS,
};
pub use params::{object_id_param, ObjectId, PageParams, OBJECT_ID_PATTERN};
pub use text::{describe_text, MULTI_LINE_TEXT, RAW_TEXT, TRIMMED_TEXT};

/// The name of the bearer scheme in `components.securitySchemes` (`security(("bearer" = []))`).
pub const BEARER: &str = "bearer";

/// The name of the internal token's scheme in the internal API's documents
/// (`security(("internal" = []))`).
pub const INTERNAL: &str = "internal";

/// What every public document shares, added to it: the bearer scheme (the access token of
/// `POST /api/auth/login` in `Authorization`), the error envelope's schemas, the route of the
/// document itself, `GET /openapi.json`, and the wire's rule for the text requests carry
/// ([`describe_text`]).
pub struct SharedParts;

impl Modify for SharedParts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "The access token from `POST /api/auth/login` or `/register` (15 minutes).",
            ))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
        add_error_schemas(components);
        let own = operation(
            "This document (OpenAPI 3.1).",
            json_answer("The API's document."),
        );
        add_get(openapi, "/openapi.json", own);
        describe_text(openapi);
    }
}

/// What every internal API document shares, added to it: the internal token's scheme (the
/// shared `INTERNAL_TOKEN` in `x-internal-token`, required by every internal route), the error
/// envelope's schemas, and the rest of the service's own port: the operations routes
/// ([`add_operations`]) and this document's route, `/internal/openapi.json`.
pub struct InternalParts;

impl Modify for InternalParts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        add_internal_scheme(components);
        add_error_schemas(components);
        add_operations(openapi);
        let own = internal_only(operation(
            "This document.",
            json_answer("The internal API's document."),
        ));
        add_get(openapi, "/internal/openapi.json", own);
    }
}

/// Adds the internal token's scheme ([`INTERNAL`]: the shared `INTERNAL_TOKEN` in
/// `x-internal-token`) to a document's components.
pub fn add_internal_scheme(components: &mut utoipa::openapi::Components) {
    let key = ApiKeyValue::with_description(
        crate::auth::INTERNAL_TOKEN_HEADER,
        "`INTERNAL_TOKEN`, shared by the services; clients never have it.",
    );
    components.add_security_scheme(INTERNAL, SecurityScheme::ApiKey(ApiKey::Header(key)));
}

/// `operation` answered only with the internal token: its security requirement and the 401 of
/// every other caller (the document needs [`add_internal_scheme`]).
pub fn internal_only(
    operation: utoipa::openapi::path::OperationBuilder,
) -> utoipa::openapi::path::OperationBuilder {
    operation
        .security(SecurityRequirement::new(INTERNAL, Vec::<String>::new()))
        .response(
            "401",
            error_answer("`internal_token_invalid`: no `x-internal-token`, or not the service's."),
        )
}

fn add_error_schemas(components: &mut utoipa::openapi::Components) {
    for (name, schema) in [
        (
            ErrorAnswer::name(),
            <ErrorAnswer as utoipa::PartialSchema>::schema(),
        ),
        (
            FieldProblem::name(),
            <FieldProblem as utoipa::PartialSchema>::schema(),
        ),
    ] {
        components.schemas.insert(name.into_owned(), schema);
    }
}

/// The answer to a request that failed: always this envelope, whatever the status.
#[derive(ToSchema)]
pub struct ErrorAnswer {
    /// Always `false`.
    pub success: bool,
    /// What went wrong, for people.
    pub error: String,
    /// What went wrong, for programs: `validation_failed`, `malformed_json`, `token_missing`,
    /// `forbidden`, `rate_limited`, `payload_too_large`, or the route's own (`product_not_found`,
    /// `sku_taken`, …).
    pub code: String,
    /// Every field that failed validation (`validation_failed` only).
    pub errors: Option<Vec<FieldProblem>>,
}

/// The refusal of every route that needs a token.
#[derive(IntoResponses)]
pub enum TokenRefusals {
    /// `token_missing`, `token_invalid`, `token_expired` or `session_revoked`.
    #[response(status = 401)]
    Unauthenticated(ErrorAnswer),
}

/// The refusal of a route whose path holds an id that is not one: 400 `invalid_id`, as
/// [`IdPath`](crate::extract::IdPath) answers.
#[derive(IntoResponses)]
pub enum InvalidId {
    /// `invalid_id`.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
}

/// The refusal of every internal route.
#[derive(IntoResponses)]
pub enum InternalRefusals {
    /// `internal_token_invalid`: no `x-internal-token`, or not the service's.
    #[response(status = 401)]
    NotInternal(ErrorAnswer),
}

/// One event or an array of them.
#[derive(ToSchema, serde::Deserialize)]
#[schema(as = Events)]
#[serde(untagged)]
pub enum EventsSchema {
    /// One event.
    One(crate::events::EventEnvelope),
    /// Several, applied in order.
    Many(Vec<crate::events::EventEnvelope>),
}

/// The answers of a consumer's `POST /events` (the orders and payment services').
#[derive(IntoResponses)]
pub enum DeliveryAnswers {
    /// Applied (each event id once; a repeat is acknowledged without applying it again).
    #[response(status = 200)]
    Applied(Acknowledged),
    /// `invalid_event`: an event this service takes with bad `data` (none of the batch is
    /// applied), or `validation_failed`.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
    /// `internal_token_invalid`: no `x-internal-token`, or not the service's.
    #[response(status = 401)]
    NotInternal(ErrorAnswer),
    /// `payload_too_large`.
    #[response(status = 413)]
    TooLarge(ErrorAnswer),
}

/// `{"success": true}`: received and applied (or recorded for applying).
#[derive(ToSchema)]
#[schema(as = Acknowledged)]
pub struct Acknowledged {
    /// Always `true`.
    pub success: bool,
}

/// The refusals of every route that needs an admin's token.
#[derive(IntoResponses)]
pub enum AdminRefusals {
    /// `token_missing`, `token_invalid`, `token_expired` or `session_revoked`.
    #[response(status = 401)]
    Unauthenticated(ErrorAnswer),
    /// `forbidden`: not an admin.
    #[response(status = 403)]
    Forbidden(ErrorAnswer),
}

/// One field that failed validation.
#[derive(ToSchema)]
pub struct FieldProblem {
    /// The field's path (`items.0.quantity`).
    pub field: String,
    /// Why, Joi-style (`"items[0].quantity" must be greater than or equal to 1`).
    pub message: String,
}

/// `{"success": true, "data": …}`.
#[derive(ToSchema)]
pub struct Answer<T> {
    /// Always `true`.
    pub success: bool,
    /// The answer.
    pub data: T,
}

/// `{"success": true, "data": [...], "pagination": {...}}`.
#[derive(ToSchema)]
pub struct PageAnswer<T> {
    /// Always `true`.
    pub success: bool,
    /// The page.
    pub data: Vec<T>,
    /// Where the page is in the whole list.
    pub pagination: PaginationSchema,
}

/// Where a page is in the whole list.
#[derive(ToSchema)]
#[schema(as = Pagination)]
pub struct PaginationSchema {
    /// 1-based page number.
    pub page: u64,
    /// Page size.
    pub limit: u64,
    /// Items matching in all.
    pub total: u64,
    /// Pages in all (`ceil(total / limit)`).
    pub pages: u64,
}

/// The schema of a string enum whose spellings are `values` (a domain enum's, so that the
/// document lists exactly what the wire accepts).
pub fn string_enum(values: &[&str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(values.iter().copied()))
        .into()
}

/// Declares a schema type for a string enum of the domain: `spelled_schema!(Type as "Name" =
/// VALUES)` makes `Type`, the component `Name` described by [`string_enum`] with `VALUES` (the
/// enum's spellings).
#[macro_export]
macro_rules! spelled_schema {
    ($(#[$doc:meta])* $name:ident as $public:literal = $values:expr) => {
        $(#[$doc])*
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::string_enum($values)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($public)
            }
        }
    };
}

/// Declares a schema type made from another type's object schema, changed where `#[schema]`
/// cannot say it: `object_schema!(Type as "Name" = Base, |object| { … })` makes `Type`, the
/// component `Name`: `Base`'s schema with `object` (its `Object`) changed. For a body two routes
/// read differently (`POST` requires fields `PATCH` leaves optional), and for `minProperties`,
/// which utoipa 5's `#[schema(min_properties = …)]` writes as `maxProperties`.
#[macro_export]
macro_rules! object_schema {
    (
        $(#[$doc:meta])* $vis:vis $name:ident as $public:literal = $base:ty,
        |$object:ident| $change:block
    ) => {
        $(#[$doc])*
        $vis struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::{schema::Schema, RefOr};
                let mut schema = <$base as utoipa::PartialSchema>::schema();
                if let RefOr::T(Schema::Object($object)) = &mut schema {
                    $change
                }
                schema
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($public)
            }

            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                <$base as utoipa::ToSchema>::schemas(schemas);
            }
        }
    };
}

/// Declares a service's document: `ApiDoc`, deriving `utoipa::OpenApi` from the given `#[openapi]`
/// arguments (`info`, `paths`, `tags`…) with [`SharedParts`] added; `api_doc()`, the document
/// built once; and `document()`, the handler answering it as JSON.
///
/// `openapi_document!(internal: …)` declares the same for the internal API, with
/// [`InternalParts`] added, and a `document()` that only answers the internal token.
#[macro_export]
macro_rules! openapi_document {
    (internal: $($args:tt)*) => {
        $crate::openapi_document!(@doc InternalParts, $($args)*);

        /// The handler answering the document (to the other services only).
        pub async fn document(_: $crate::auth::InternalCaller) -> axum::response::Response {
            $crate::openapi::document_response(api_doc())
        }
    };
    (@doc $parts:ident, $($args:tt)*) => {
        use $crate::openapi::$parts;

        /// The document's description, read by `api_doc()`.
        #[derive(utoipa::OpenApi)]
        #[openapi(modifiers(&$parts), $($args)*)]
        pub struct ApiDoc;

        /// The document, built once.
        pub fn api_doc() -> &'static utoipa::openapi::OpenApi {
            static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
            DOC.get_or_init(<ApiDoc as utoipa::OpenApi>::openapi)
        }
    };
    ($($args:tt)*) => {
        $crate::openapi_document!(@doc SharedParts, $($args)*);

        /// The handler answering the document.
        pub async fn document() -> axum::response::Response {
            $crate::openapi::document_response(api_doc())
        }
    };
}

/// A document as the answer of `GET /openapi.json`.
pub fn document_response(doc: &utoipa::openapi::OpenApi) -> Response {
    Json(doc).into_response()
}

/// `--openapi` (`flag`) on a service's command line, or `--openapi-internal` for the internal
/// API's document: writes `doc` as JSON to stdout and exits (for validators and client
/// generators that work from a file).
pub fn print_if_requested(flag: &str, doc: impl FnOnce() -> &'static utoipa::openapi::OpenApi) {
    if std::env::args().skip(1).any(|a| a == flag) {
        let json = serde_json::to_string_pretty(doc()).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let written = std::io::Write::write_all(&mut out, json.as_bytes())
            .and_then(|()| std::io::Write::write_all(&mut out, b"\n"));
        std::process::exit(i32::from(written.is_err()));
    }
}
