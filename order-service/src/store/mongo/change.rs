//! The compare-and-set change every state transition goes through, and the payment rules (the
//! same as the SQLite store's conditional `UPDATE`s).

use super::docs::{mutable_fields, Embedded, OrderDoc};
use super::{outbox, MongoOrderStore};
use crate::domain::{Order, OrderStatus, PaymentChange, PaymentStatus, Transition};
use mongodb::bson::doc;
use mongodb::options::ReturnDocument;
use shared::events::{types, EventEnvelope};
use shared::store::{now_ms, StoreError};

/// Compare-and-set attempts before giving up (each lost attempt means another change succeeded).
const MAX_ATTEMPTS: usize = 64;

/// What a change does to an order as read.
pub(super) enum Decision {
    /// The order after the change, the event to emit, and whether its stock is to be released.
    Apply(Box<(Order, EventEnvelope, bool)>),
    /// The change is not allowed in the order's state.
    Refuse,
    /// The order is not visible to the caller.
    Hide,
}

impl MongoOrderStore {
    /// Decides and applies a change with compare-and-set on `rev`. `event_id` (a payment event) is
    /// recorded with the outcome, and an order that already recorded it yields `Ok(None)`.
    pub(super) async fn change<F>(
        &self,
        id: &str,
        event_id: Option<&str>,
        decide: F,
    ) -> Result<Option<Transition>, StoreError>
    where
        F: Fn(&Order) -> Decision + Send + Sync,
    {
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.read(doc! {"_id": id}).await? else {
                return Ok(Some(Transition::NotFound));
            };
            if event_id.is_some_and(|e| current.processed_events.iter().any(|p| p == e)) {
                return Ok(None);
            }
            let order = current.order()?;
            // The decision rests on these (and on immutable fields): the update applies only if
            // they and `rev` are still what was read.
            let guard = doc! {
                "_id": id,
                "rev": current.rev,
                "status": order.status.as_str(),
                "paymentStatus": order.payment_status.as_str(),
            };
            let (set, push, outcome) = match decide(&order) {
                Decision::Hide => return Ok(Some(Transition::NotFound)),
                Decision::Refuse if event_id.is_none() => {
                    return Ok(Some(Transition::Refused(order)))
                }
                Decision::Refuse => (doc! {}, doc! {}, Transition::Refused(order)),
                Decision::Apply(applied) => {
                    let (next, event, release) = *applied;
                    let mut set = mutable_fields(&next);
                    set.insert("dirty", true);
                    if release {
                        set.insert("releasePending", true);
                    }
                    let embedded = mongodb::bson::to_bson(&Embedded::new(&event, now_ms())?)?;
                    (set, doc! {"outbox": embedded}, Transition::Applied(next))
                }
            };
            let mut push = push;
            if let Some(e) = event_id {
                push.insert("processedEvents", e);
            }
            let mut update = doc! {"$inc": {"rev": 1_i64}};
            if !set.is_empty() {
                update.insert("$set", set);
            }
            if !push.is_empty() {
                update.insert("$push", push);
            }
            let after = self
                .orders()
                .find_one_and_update(guard, update)
                .return_document(ReturnDocument::After)
                .await?;
            let Some(after) = after else { continue };
            if matches!(outcome, Transition::Applied(_)) {
                // The change is committed with its events; a failed flush is redone by the sweep.
                if let Err(e) = outbox::flush(&self.db, &OrderDoc::decode(after)?).await {
                    tracing::warn!(error = %e, order_id = id, "outbox flush deferred to the sweep");
                }
            }
            return Ok(Some(outcome));
        }
        Err(StoreError::Other(format!(
            "order {id} changed {MAX_ATTEMPTS} times while being updated"
        )))
    }
}

pub(super) fn event(order: &Order, event_type: &str, source: &str) -> EventEnvelope {
    let data = if event_type == types::ORDER_CANCELLED {
        crate::app::events::cancelled(order)
    } else {
        crate::app::events::updated(order)
    };
    EventEnvelope::new(event_type, data, source)
}

/// The order after payment `change`, if its state allows the change (the SQLite store's rules).
pub(super) fn after_payment(order: &Order, change: &PaymentChange) -> Option<(Order, bool)> {
    use OrderStatus as S;
    use PaymentStatus as P;
    let mut next = order.clone();
    next.updated_at = now_ms();
    match change {
        // A payment that lands after the order was cancelled is still recorded, so that the
        // refund that follows the cancellation can be shown.
        PaymentChange::Processed { payment_id } => {
            if !matches!(order.payment_status, P::Pending | P::Processing)
                || !matches!(order.status, S::Pending | S::Cancelled)
            {
                return None;
            }
            if order.status == S::Pending {
                next.status = S::Confirmed;
            }
            next.payment_status = P::Completed;
            next.payment_id = Some(payment_id.clone());
            Some((next, false))
        }
        PaymentChange::Failed { reason } => {
            if order.status != S::Pending {
                return None;
            }
            next.status = S::Failed;
            next.payment_status = P::Failed;
            next.notes = Some(reason.clone());
            Some((next, true))
        }
        PaymentChange::Refunded => {
            if order.payment_status == P::Refunded {
                return None;
            }
            next.payment_status = P::Refunded;
            Some((next, false))
        }
    }
}
