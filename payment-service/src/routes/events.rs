//! `POST /events` from the event bus: `OrderCreated` records a payment to charge, `OrderCancelled`
//! marks the order's payment for refund. Each event id is applied once; the answer comes as soon
//! as the reaction is stored, the charge or refund runs in the worker.

use crate::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use crate::state::AppState;
use serde_json::Value;
use shared::events::{types, EventConsumer, EventEnvelope};
use shared::validate::Validator;
use shared::ApiError;

/// What an incoming event asks of this service.
pub enum Reaction {
    /// Record a payment to charge.
    Charge {
        /// The event's id (applied once).
        event_id: String,
        /// The payment to record.
        payment: Payment,
    },
    /// Refund (or never charge) the order's payment.
    Cancel {
        /// The event's id (applied once).
        event_id: String,
        /// The cancelled order.
        order_id: String,
    },
}

/// `POST /events` ([`shared::events::receive_events`]): orders to charge and orders cancelled.
impl EventConsumer for AppState {
    type Reaction = Reaction;

    fn reaction_to(event: &EventEnvelope) -> Result<Option<Reaction>, ApiError> {
        let event_id = event.id.clone();
        Ok(match event.event_type.as_str() {
            types::ORDER_CREATED => Some(Reaction::Charge {
                event_id,
                payment: Payment::from_new(order_created(&event.data)?, PaymentStatus::Pending),
            }),
            types::ORDER_CANCELLED => Some(Reaction::Cancel {
                event_id,
                order_id: order_cancelled(&event.data)?,
            }),
            _ => None,
        })
    }

    async fn apply(&self, reaction: Reaction) -> Result<(), ApiError> {
        match reaction {
            Reaction::Charge { event_id, payment } => {
                if self.store.record_order_created(&event_id, &payment).await? {
                    tracing::info!(order_id = %payment.order_id, payment_id = %payment.id, "payment recorded");
                    self.processor.worker_wake.notify_one();
                }
            }
            Reaction::Cancel { event_id, order_id } => {
                let payment = self
                    .store
                    .record_order_cancelled(&event_id, &order_id)
                    .await?;
                if payment.is_some_and(|p| p.status == PaymentStatus::Completed) {
                    self.processor.worker_wake.notify_one();
                }
            }
        }
        Ok(())
    }
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
    use serde_json::json;

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
            let acted_on = AppState::reaction_to(&event).is_err();
            assert_eq!(
                acted_on,
                types::PAYMENT_SERVICE_CONSUMES.contains(&t),
                "{t}"
            );
        }
    }
}
