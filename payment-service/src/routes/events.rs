//! `POST /events` from the event bus: `OrderCreated` records a payment to charge, `OrderCancelled`
//! marks the order's payment for refund. Each event id is applied once; the answer comes as soon
//! as the reaction is stored, the charge or refund runs in the worker.

use crate::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use shared::auth::InternalCaller;
use shared::events::{types, EventEnvelope, IncomingEvents};
use shared::extract::JsonBody;
use shared::validate::Validator;
use shared::ApiError;

/// `POST /events`: one event or an array. Every event is checked before any is applied.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    request_body = shared::openapi::EventsSchema,
    responses(shared::openapi::DeliveryAnswers),
    security(("internal" = []))
)]
pub async fn receive_events(
    _caller: InternalCaller,
    State(state): State<AppState>,
    JsonBody(IncomingEvents(events)): JsonBody<IncomingEvents>,
) -> Result<Response, ApiError> {
    let reactions = events
        .iter()
        .map(reaction_to)
        .collect::<Result<Vec<_>, _>>()?;
    for (event_id, reaction) in reactions {
        apply(&state, event_id, reaction).await?;
    }
    Ok(Json(json!({"success": true})).into_response())
}

/// What an incoming event asks of this service.
enum Reaction {
    /// Record a payment to charge.
    Charge(Payment),
    /// Refund (or never charge) the order's payment.
    Cancel(String),
    /// Not for us.
    Ignore,
}

fn reaction_to(event: &EventEnvelope) -> Result<(&str, Reaction), ApiError> {
    let reaction = match event.event_type.as_str() {
        types::ORDER_CREATED => Reaction::Charge(Payment::from_new(
            order_created(&event.data)?,
            PaymentStatus::Pending,
        )),
        types::ORDER_CANCELLED => Reaction::Cancel(order_cancelled(&event.data)?),
        _ => Reaction::Ignore,
    };
    Ok((event.id.as_str(), reaction))
}

async fn apply(state: &AppState, event_id: &str, reaction: Reaction) -> Result<(), ApiError> {
    match reaction {
        Reaction::Charge(payment) => {
            if state.store.record_order_created(event_id, &payment).await? {
                tracing::info!(order_id = %payment.order_id, payment_id = %payment.id, "payment recorded");
                state.processor.worker_wake.notify_one();
            }
        }
        Reaction::Cancel(order_id) => {
            let payment = state
                .store
                .record_order_cancelled(event_id, &order_id)
                .await?;
            if payment.is_some_and(|p| p.status == PaymentStatus::Completed) {
                state.processor.worker_wake.notify_one();
            }
        }
        Reaction::Ignore => {}
    }
    Ok(())
}

fn event_data_error(e: ApiError) -> ApiError {
    let mut e = e;
    e.message = "Invalid event data".to_string();
    e
}

/// Reads `{orderId, userId, totalAmount, …}` (other fields such as `items` are ignored).
fn order_created(data: &Value) -> Result<NewPayment, ApiError> {
    let obj = data
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid_event", "Invalid event data"))?;
    let mut v = Validator::nested(obj, "data");
    let order_id = v.object_id("orderId");
    let user_id = v.string("userId", 1, 100);
    let amount = v.money("totalAmount", i64::MAX / 100);
    let errors = v.finish_nested();
    let errors: Vec<_> = errors
        .into_iter()
        .filter(|e| !e.message.ends_with("is not allowed"))
        .collect();
    match (order_id, user_id, amount) {
        (Some(order_id), Some(user_id), Some(amount_cents)) if errors.is_empty() => {
            Ok(NewPayment {
                order_id,
                user_id,
                amount_cents,
                method: PaymentMethod::CreditCard,
            })
        }
        _ => Err(event_data_error(ApiError::validation(errors))),
    }
}

/// Reads the `orderId` of `OrderCancelled`.
fn order_cancelled(data: &Value) -> Result<String, ApiError> {
    match data["orderId"].as_str() {
        Some(id) if shared::ids::is_object_id(id) => Ok(id.to_ascii_lowercase()),
        _ => Err(event_data_error(ApiError::validation(vec![
            shared::FieldError::new("data.orderId", "\"data.orderId\" must be a valid id"),
        ]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service's bus subscription lists exactly the types it acts on: those are checked (an
    /// event without data is refused), every other type is ignored.
    #[test]
    fn it_acts_on_exactly_the_types_it_subscribes_to() {
        for t in types::ALL {
            let event = EventEnvelope {
                id: "e-1".into(),
                event_type: t.into(),
                data: json!({}),
                occurred_at: "2026-01-01T00:00:00.000Z".into(),
                source: "test".into(),
            };
            let acted_on = reaction_to(&event).is_err();
            assert_eq!(
                acted_on,
                types::PAYMENT_SERVICE_CONSUMES.contains(&t),
                "{t}"
            );
        }
    }
}
