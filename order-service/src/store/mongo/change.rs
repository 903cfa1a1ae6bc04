//! The compare-and-set change every state transition goes through, and the payment rules (the
//! same as the SQLite store's conditional `UPDATE`s).

use super::docs::mutable_fields;
use super::{releases, MongoOrderStore};
use crate::domain::{Order, OrderStatus, PaymentChange, PaymentStatus, Transition};
use crate::store::Announce;
use mongodb::bson::doc;
use shared::mongo::outbox;
use shared::store::{now_ms, StoreError};

/// Compare-and-set attempts before giving up (each lost attempt means another change succeeded).
const MAX_ATTEMPTS: usize = 64;

/// What a change does to an order as read.
pub(super) enum Decision {
    /// The order after the change, and whether its stock is to be released.
    Apply(Box<Order>, bool),
    /// The change is not allowed in the order's state.
    Refuse,
    /// The order is not visible to the caller.
    Hide,
}

impl MongoOrderStore {
    /// Decides and applies a change with compare-and-set on `rev`, with the event `announce`
    /// makes of the order after it (and its stock release) through the outbox protocol.
    /// `event_id` (a payment event) is recorded with the outcome, and an order that already
    /// recorded it yields `Ok(None)`.
    pub(super) async fn change<F>(
        &self,
        id: &str,
        event_id: Option<&str>,
        announce: Announce,
        decide: F,
    ) -> Result<Option<Transition>, StoreError>
    where
        F: Fn(&Order) -> Decision + Send + Sync,
    {
        self.ensure_indexes().await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.read(doc! {"_id": id}).await? else {
                return Ok(Some(Transition::NotFound));
            };
            if event_id.is_some_and(|e| current.processed_events.iter().any(|p| p == e)) {
                return Ok(None);
            }
            let rev = current.rev;
            let order = Order::try_from(current)?;
            // The decision rests on these (and on immutable fields): the update applies only if
            // they and `rev` are still what was read.
            let guard = doc! {
                "_id": id,
                "rev": rev,
                "status": order.status.as_str(),
                "payment_status": order.payment_status.as_str(),
            };
            let mut push = doc! {};
            if let Some(e) = event_id {
                push.insert("processed_events", e);
            }
            let mut update = doc! {"$inc": {"rev": 1_i64}};
            let (next, release) = match decide(&order) {
                Decision::Hide => return Ok(Some(Transition::NotFound)),
                Decision::Refuse if event_id.is_none() => {
                    return Ok(Some(Transition::Refused(order)))
                }
                Decision::Refuse => {
                    // Only the payment event is recorded.
                    update.insert("$push", push);
                    let updated = self.orders().update_one(guard, update).await?;
                    if updated.matched_count == 0 {
                        continue;
                    }
                    return Ok(Some(Transition::Refused(order)));
                }
                Decision::Apply(next, release) => (*next, release),
            };
            let event = announce(&next);
            outbox::record(&mut push, &event);
            update.insert("$set", mutable_fields(&next));
            update.insert("$push", push);
            let tasks = if release {
                vec![releases::task(&event.id, id)]
            } else {
                Vec::new()
            };
            let applied = self
                .outbox
                .commit(id, &event, tasks, async {
                    let updated = self.orders().update_one(guard, update).await?;
                    Ok((updated.matched_count == 1).then_some(()))
                })
                .await?;
            if applied.is_some() {
                return Ok(Some(Transition::Applied(next)));
            }
        }
        Err(StoreError::Other(format!(
            "order {id} changed {MAX_ATTEMPTS} times while being updated"
        )))
    }
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
