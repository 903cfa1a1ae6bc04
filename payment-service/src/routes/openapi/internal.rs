//! The payment service's internal API described by OpenAPI 3.1: the events it consumes from the
//! bus, served at `GET /internal/openapi.json` (internal token) and printed by
//! `--openapi-internal`; never exposed by the gateway.

shared::openapi_document! {
    internal:
    info(title = "Payments (internal)",
        description = "Deliveries from the event bus: `OrderCreated` charges the order (in the \
                       background), `OrderCancelled` refunds or stops it; other types are \
                       ignored. Every call needs the internal token."),
    paths(shared::events::consumer::receive_events),
    components(schemas(shared::openapi::Acknowledged)),
    tags((name = "events", description = "Deliveries from the bus, at least once."))
}
