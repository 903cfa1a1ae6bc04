//! What the bus sends to subscribers: the body of a delivery, the same for every subscriber of
//! an event, built once from the stored columns (or the event as received) without parsing `data`.

use bytes::Bytes;

/// The body every subscriber gets for an event: `data` is spliced in as the JSON text it was
/// stored as (written from a `serde_json::Value`, so already valid and compact), never parsed
/// and serialised again.
pub fn delivery_body(
    id: &str,
    event_type: &str,
    data_json: &str,
    occurred_at: &str,
    source: &str,
) -> Bytes {
    let mut out = Vec::with_capacity(96 + id.len() + data_json.len() + source.len());
    let mut field = |name: &[u8], value: &str| {
        out.extend_from_slice(name);
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, value);
    };
    field(b"{\"id\":", id);
    field(b",\"type\":", event_type);
    field(b",\"occurredAt\":", occurred_at);
    field(b",\"source\":", source);
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data_json.as_bytes());
    out.push(b'}');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::EventEnvelope;

    #[test]
    fn a_delivery_body_is_the_envelope_with_data_as_stored() {
        let data = serde_json::json!({"big": u64::MAX, "f": 1.5, "s": "a\"b"});
        let envelope = EventEnvelope {
            id: "e\"1".to_string(),
            event_type: "OrderCreated".to_string(),
            data: data.clone(),
            occurred_at: "2026-11-25T10:00:00.000Z".to_string(),
            source: "order-service".to_string(),
        };
        let stored = serde_json::to_string(&data).unwrap_or_default();
        let body = delivery_body(
            &envelope.id,
            &envelope.event_type,
            &stored,
            &envelope.occurred_at,
            &envelope.source,
        );
        let parsed: EventEnvelope = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(parsed, envelope);
    }
}
