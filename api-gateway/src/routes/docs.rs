//! The API described for its clients: the public documents of the auth, product, order and
//! payment services merged into one, answered as `GET /openapi.json` and `GET /openapi.yaml`, and
//! a docs page (Swagger UI) at `GET /docs/` whose scripts and styles are served from here, so it
//! works with no internet connection. The internal API has documents of its own that the gateway
//! never serves. The gateway's own routes are described here too (`/metrics` answers only the
//! internal token).

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use std::sync::{Arc, LazyLock};
use utoipa::openapi::path::Operation;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder,
};
use utoipa_swagger_ui::Config;

/// Where the docs page lives.
pub const DOCS_PATH: &str = "/docs/";

/// The docs page's policy: the helmet default less `upgrade-insecure-requests` (which would
/// send a page opened over plain HTTP, as on a developer's machine, to fetch its scripts over
/// HTTPS), and no image from elsewhere (the validator badge is off).
const DOCS_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' data:;\
form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';\
script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline'";

/// The merged document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: LazyLock<OpenApi> = LazyLock::new(merged);
    &DOC
}

fn merged() -> OpenApi {
    let info = InfoBuilder::new()
        .title("E-commerce API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The shop's public API, as the gateway serves it. Every answer is JSON in an \
             envelope: `{\"success\": true, \"data\": …}` on success, `{\"success\": false, \
             \"error\": \"…\", \"code\": \"…\"}` on failure. Protected operations take \
             `Authorization: Bearer <accessToken>` (from login or register). Money is a JSON \
             number with at most two decimals. Any JSON request body may instead be sent \
             encrypted, as `{\"encrypted\": \"…\"}` (the `Encrypted` schema).",
        ))
        .build();
    let mut doc = OpenApiBuilder::new().info(info).build();
    for part in [
        auth_service::openapi::api_doc(),
        product_service::routes::openapi::api_doc(),
        order_service::routes::openapi::api_doc(),
        payment_service::routes::openapi::api_doc(),
    ] {
        doc.merge(part.clone());
    }
    let proxied = doc
        .paths
        .paths
        .iter_mut()
        .filter(|(path, _)| path.starts_with("/api/"));
    for (_, item) in proxied {
        shared::openapi::operations_mut(item).for_each(add_gateway_answers);
    }
    // The gateway's own operations, which no service stands behind.
    doc.merge(<dev_tools::GatewayDoc as utoipa::OpenApi>::openapi());
    add_own_routes(&mut doc);
    doc
}

/// The gateway's operations routes (`/metrics` only with the internal token: this is the public
/// port), this document and the docs page.
fn add_own_routes(doc: &mut OpenApi) {
    use shared::openapi::{add_get, error_answer, json_answer, operation};
    shared::openapi::add_operations(doc);
    shared::openapi::add_internal_scheme(doc.components.get_or_insert_with(Default::default));
    let metrics = shared::openapi::metrics_operation();
    add_get(doc, "/metrics", shared::openapi::internal_only(metrics));
    let document = |format: &str| {
        operation(
            &format!("This document, as {format}."),
            json_answer("The merged document."),
        )
    };
    add_get(doc, "/openapi.json", document("JSON"));
    let yaml = ResponseBuilder::new()
        .description("The merged document.")
        .content("application/yaml", ContentBuilder::new().build())
        .build();
    add_get(
        doc,
        "/openapi.yaml",
        operation("This document, as YAML.", yaml),
    );
    let moved = ResponseBuilder::new()
        .description("To `/docs/`, where the page's files are relative.")
        .build();
    let redirect = utoipa::openapi::path::OperationBuilder::new()
        .tag(shared::openapi::OPERATIONS)
        .summary(Some("The docs page."))
        .response("308", moved);
    add_get(doc, "/docs", redirect);
    let page = ResponseBuilder::new()
        .description("Swagger UI, reading this document.")
        .content("text/html", ContentBuilder::new().build())
        .build();
    add_get(doc, "/docs/", operation("The docs page.", page));
    let mut file = ResponseBuilder::new().description("The file.");
    for content_type in DOCS_FILE_TYPES {
        file = file.content(content_type, ContentBuilder::new().build());
    }
    let name = utoipa::openapi::path::ParameterBuilder::new()
        .name("file")
        .parameter_in(utoipa::openapi::path::ParameterIn::Path)
        .required(utoipa::openapi::Required::True)
        .description(Some("A file of the page (`swagger-ui-bundle.js`…)."))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String),
        ));
    let files = operation("A script, style or image of the docs page.", file.build())
        .parameter(name)
        .response("404", error_answer("`route_not_found`: no such file."));
    add_get(doc, "/docs/{file}", files);
}

/// What the files of the docs page are.
const DOCS_FILE_TYPES: [&str; 7] = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/png",
    "text/plain",
];

/// What the gateway itself may answer to any proxied request, whatever the service would.
const GATEWAY_ANSWERS: [(&str, &str); 5] = [
    (
        "401",
        "`token_invalid`, `token_expired` or `session_revoked`: a bearer token was presented and \
         is not valid (the operation itself needs none; send none, or a valid one).",
    ),
    (
        "429",
        "`rate_limited`: over the gateway's limit for this client (`RateLimit-*` and \
         `Retry-After` say when to come back).",
    ),
    (
        "502",
        "`upstream_error`: the service behind this route failed or could not be reached.",
    ),
    (
        "503",
        "`service_unavailable`: the service is unavailable for now (its circuit is open after \
         repeated failures, or the gateway is shutting down).",
    ),
    (
        "504",
        "`upstream_timeout`: the service did not answer in time.",
    ),
];

/// Adds [`GATEWAY_ANSWERS`] an operation does not describe already.
fn add_gateway_answers(operation: &mut Operation) {
    for (status, description) in GATEWAY_ANSWERS {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                let error = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorAnswer")))
                    .build();
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content("application/json", error)
                        .build(),
                )
            });
    }
}

/// The document as JSON and as YAML, serialised once.
struct Serialised {
    json: Bytes,
    yaml: Bytes,
}

static SERIALISED: LazyLock<Serialised> = LazyLock::new(|| {
    let doc = document();
    Serialised {
        json: Bytes::from(serde_json::to_vec(doc).unwrap_or_default()),
        yaml: Bytes::from(doc.to_yaml().unwrap_or_default()),
    }
});

/// `GET /openapi.json`.
pub async fn openapi_json() -> Response {
    answer("application/json", SERIALISED.json.clone())
}

/// `GET /openapi.yaml`.
pub async fn openapi_yaml() -> Response {
    answer("application/yaml", SERIALISED.yaml.clone())
}

fn answer(content_type: &'static str, body: Bytes) -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

/// `GET /docs`: to the page, whose files are relative to `/docs/`.
pub async fn docs_redirect() -> Redirect {
    Redirect::permanent(DOCS_PATH)
}

/// `GET /docs/` and `GET /docs/{file}`: the page and its files.
pub async fn docs_file(file: Option<Path<String>>) -> Response {
    static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
        Arc::new(
            Config::from("/openapi.json")
                .validator_url("none")
                .try_it_out_enabled(true)
                .persist_authorization(false),
        )
    });
    let tail = file.as_ref().map_or("", |Path(f)| f.as_str());
    match utoipa_swagger_ui::serve(tail, CONFIG.clone()) {
        Ok(Some(found)) => {
            let headers = [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_str(&found.content_type).ok(),
                ),
                (
                    CONTENT_SECURITY_POLICY,
                    Some(HeaderValue::from_static(DOCS_CSP)),
                ),
                (CACHE_CONTROL, Some(HeaderValue::from_static("no-cache"))),
            ];
            let mut response = found.bytes.into_owned().into_response();
            for (name, value) in headers {
                if let Some(value) = value {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Ok(None) => shared::ApiError::route_not_found().into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "the docs page could not be built");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub(crate) mod dev_tools;

#[cfg(test)]
mod readme_examples;
#[cfg(test)]
mod tests;
