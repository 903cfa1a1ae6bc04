//! The operations routes every service serves on its own port (`/health`, `/ready`, `/metrics`)
//! as OpenAPI operations, the small builders every hand-made operation uses (a JSON or an error
//! answer, a `GET` added to a document), and the operations of a path, one by one.

/// The tag of the operations routes.
pub const OPERATIONS: &str = "operations";

/// Adds the operations routes every service serves on its own port (`shared::ops`):
/// `GET /health`, `GET /ready` and `GET /metrics`.
pub fn add_operations(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type};
    let object = |required: &[&str], description: &str| {
        let mut schema = ObjectBuilder::new().description(Some(description));
        for field in required {
            schema = schema
                .property(*field, ObjectBuilder::new().schema_type(Type::String))
                .required(*field);
        }
        ContentBuilder::new().schema(Some(schema)).build()
    };
    let states = |values: &[&str], description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied()))
            .description(Some(description))
    };
    let health_schema = ObjectBuilder::new()
        .description(Some(
            "The shape every service's answer shares (`shared::health::Report`); the other \
             fields are the service's own (its upstreams, its queue, its counts).",
        ))
        .property(
            "status",
            states(
                &["healthy", "degraded"],
                "`healthy`, or `degraded` while a dependency it names is `down`.",
            ),
        )
        .required("status")
        .property("service", ObjectBuilder::new().schema_type(Type::String))
        .required("service")
        .property(
            "database",
            states(
                &["up", "down"],
                "Whether its database answered (services with one).",
            ),
        );
    let health = ResponseBuilder::new()
        .description("Alive: the last answer of the background probe (up to a second old).")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(health_schema)).build(),
        )
        .build();
    add_get(
        openapi,
        "/health",
        operation("Liveness, never waiting on a dependency.", health),
    );
    let ready = ResponseBuilder::new()
        .description("Ready: its database answers (the gateway: every upstream was up).")
        .content(
            "application/json",
            object(&["status", "service"], "`status` is `ready`."),
        )
        .build();
    add_get(
        openapi,
        "/ready",
        operation("Readiness.", ready).response(
            "503",
            error_answer("`service_unavailable`: not ready, or shutting down."),
        ),
    );
    add_get(openapi, "/metrics", metrics_operation());
}

/// `GET /metrics`: the Prometheus text exposition.
pub fn metrics_operation() -> utoipa::openapi::path::OperationBuilder {
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type};
    let metrics = ResponseBuilder::new()
        .description(
            "Prometheus text exposition: requests, latencies and the service's own figures, \
             `build_info` (its name and version) and, on Linux, the process's \
             `process_cpu_seconds_total`, `process_resident_memory_bytes` and `process_open_fds`.",
        )
        .content(
            "text/plain",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .build();
    operation("Metrics.", metrics)
}

/// An operation of [`OPERATIONS`] answering `ok` with 200.
pub fn operation(
    summary: &str,
    ok: utoipa::openapi::Response,
) -> utoipa::openapi::path::OperationBuilder {
    utoipa::openapi::path::OperationBuilder::new()
        .tag(OPERATIONS)
        .summary(Some(summary))
        .response("200", ok)
}

/// A 200 answer whose body is a JSON object.
pub fn json_answer(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new()))
                .build(),
        )
        .build()
}

/// An answer in the error envelope.
pub fn error_answer(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorAnswer")))
                .build(),
        )
        .build()
}

/// Adds `GET path` answered by `operation`.
pub fn add_get(
    openapi: &mut utoipa::openapi::OpenApi,
    path: &str,
    operation: utoipa::openapi::path::OperationBuilder,
) {
    use utoipa::openapi::path::{HttpMethod, PathItem};
    openapi.paths.paths.insert(
        path.to_owned(),
        PathItem::new(HttpMethod::Get, operation.build()),
    );
}

/// The operations of `item` that the APIs use (`GET`, `PUT`, `POST`, `DELETE`, `PATCH`), for a
/// change made to each.
pub fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}
