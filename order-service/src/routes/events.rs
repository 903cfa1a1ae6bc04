//! Internal routes: `POST /events` (payment outcomes from the bus, each event id applied once),
//! `GET /internal/orders/:id`, and `POST /internal/orders/:id/refund` (the order side of a refund).

use super::openapi::internal::InternalOrderIdParam;
use super::wire::{order_json, RefundOrderRequest};
use crate::app::{self, events};
use crate::domain::{PaymentChange, PaymentEvent, Transition};
use crate::error::Error;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use shared::auth::InternalCaller;
use shared::error::ok;
use shared::events::{types, EventConsumer, EventEnvelope};
use shared::extract::{IdPath, JsonBody};
use shared::openapi::{Answer, ErrorAnswer, InternalRefusals, InvalidId};
use shared::ApiError;

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_event", message)
}

fn text(event: &EventEnvelope, key: &str) -> Result<Option<String>, ApiError> {
    match &event.data[key] {
        Value::Null => Ok(None),
        Value::String(s) if !s.is_empty() && s.len() <= 500 => Ok(Some(s.clone())),
        _ => Err(invalid(format!(
            "{} data.{key} must be a non-empty string",
            event.event_type
        ))),
    }
}

/// The order an event is about and what it changes; `None` for types this service ignores.
fn change_of(event: &EventEnvelope) -> Result<Option<(String, PaymentChange)>, ApiError> {
    let change = match event.event_type.as_str() {
        types::PAYMENT_PROCESSED => PaymentChange::Processed {
            payment_id: text(event, "paymentId")?
                .ok_or_else(|| invalid("PaymentProcessed data.paymentId is required".into()))?,
        },
        types::PAYMENT_FAILED => PaymentChange::Failed {
            // A reason is informational: never refuse the event over it, keep at most 500 chars.
            reason: match event.data["reason"].as_str().map(str::trim) {
                Some(r) if !r.is_empty() => r.chars().take(500).collect(),
                _ => "Payment failed".into(),
            },
        },
        types::PAYMENT_REFUNDED => PaymentChange::Refunded,
        _ => return Ok(None),
    };
    let order_id = text(event, "orderId")?
        .filter(|id| shared::ids::is_object_id(id))
        .ok_or_else(|| invalid(format!("{} data.orderId must be an id", event.event_type)))?;
    Ok(Some((order_id.to_ascii_lowercase(), change)))
}

/// `POST /events` ([`shared::events::receive_events`]): payment outcomes, each applied to its
/// order once.
impl EventConsumer for AppState {
    type Reaction = PaymentEvent;

    fn reaction_to(event: &EventEnvelope) -> Result<Option<PaymentEvent>, ApiError> {
        Ok(change_of(event)?.map(|(order_id, change)| PaymentEvent {
            id: event.id.clone(),
            order_id,
            change,
        }))
    }

    async fn apply(&self, payment: PaymentEvent) -> Result<(), ApiError> {
        let outcome = self.store.apply_payment(&payment, events::update).await?;
        let counted = match outcome {
            None => "duplicate",
            Some(Transition::NotFound) => "unknown_order",
            Some(Transition::Refused(_)) => "not_applicable",
            Some(Transition::Applied(_)) => {
                self.event_written();
                if matches!(payment.change, PaymentChange::Failed { .. }) {
                    self.release_queued();
                }
                "applied"
            }
        };
        self.count_event("payment_event", counted);
        Ok(())
    }
}

/// `POST /internal/orders/:id/refund` `{by: "owner"|"admin"}`: the payment service asks before it
/// refunds. The order is cancelled (stock released, `OrderCancelled` emitted) when the refund may
/// still do so, in the same conditional update as any other status change, so a refund racing a
/// shipment ends one way or the other. Answers `{order, cancelled}`; the payment service decides
/// from the order's status whether to go on.
#[utoipa::path(
    post,
    path = "/internal/orders/{id}/refund",
    tag = "orders",
    params(InternalOrderIdParam),
    request_body = super::openapi::internal::RefundRequestSchema,
    responses(
        (status = 200, description = "The order, and whether this call cancelled it.",
            body = Answer<super::openapi::internal::RefundedOrderSchema>),
        (status = 400, description = "`invalid_id` or `validation_failed`.", body = ErrorAnswer),
        InternalRefusals,
        (status = 404, description = "`order_not_found`.", body = ErrorAnswer),
    ),
    security(("internal" = []))
)]
pub async fn refund_order(
    State(state): State<AppState>,
    _caller: InternalCaller,
    IdPath(id): IdPath,
    JsonBody(req): JsonBody<RefundOrderRequest>,
) -> Result<Response, Error> {
    let (order, cancelled) =
        match app::cancel(&state, &id, None, req.cancels_from(), "refund").await? {
            Transition::Applied(order) => (order, true),
            Transition::Refused(order) => (order, false),
            Transition::NotFound => return Err(Error::OrderNotFound),
        };
    Ok(ok(
        json!({"order": order_json(&order), "cancelled": cancelled}),
    ))
}

/// `GET /internal/orders/:id`: the order as clients see it.
#[utoipa::path(
    get,
    path = "/internal/orders/{id}",
    tag = "orders",
    params(InternalOrderIdParam),
    responses(
        (status = 200, description = "The order.", body = Answer<super::openapi::OrderSchema>),
        InvalidId,
        InternalRefusals,
        (status = 404, description = "`order_not_found`.", body = ErrorAnswer),
    ),
    security(("internal" = []))
)]
pub async fn internal_order(
    State(state): State<AppState>,
    _caller: InternalCaller,
    IdPath(id): IdPath,
) -> Result<Response, Error> {
    match state.store.get(&id).await? {
        Some(order) => Ok(ok(order_json(&order))),
        None => Err(Error::OrderNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str) -> EventEnvelope {
        EventEnvelope {
            id: "e-1".into(),
            event_type: event_type.into(),
            data: json!({}),
            occurred_at: "2026-01-01T00:00:00.000Z".into(),
            source: "test".into(),
        }
    }

    /// The service's bus subscription lists exactly the types it acts on: those are checked (an
    /// event without an order id is refused), every other type is ignored.
    #[test]
    fn it_acts_on_exactly_the_types_it_subscribes_to() {
        for t in types::ALL {
            let acted_on = change_of(&event(t)).is_err();
            assert_eq!(acted_on, types::ORDER_SERVICE_CONSUMES.contains(&t), "{t}");
        }
    }
}
