//! Incoming order events applied to the MongoDB payment store as idempotent steps, the
//! processed-event record last (see the module above for why).

use super::MongoPaymentStore;
use crate::domain::{Payment, PaymentStatus};
use crate::store::shapes::StoredPayment;
use crate::store::PaymentStore;
use mongodb::bson::doc;
use shared::mongo::insert_new;
use shared::store::{now_ms, StoreError};

impl MongoPaymentStore {
    async fn is_cancelled(&self, order_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .cancelled
            .find_one(doc! {"_id": order_id})
            .await?
            .is_some())
    }

    async fn was_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .processed
            .find_one(doc! {"_id": event_id})
            .await?
            .is_some())
    }

    pub(super) async fn order_created(
        &self,
        event_id: &str,
        payment: &Payment,
    ) -> Result<bool, StoreError> {
        self.indexed().await?;
        if self.was_processed(event_id).await? {
            return Ok(false);
        }
        let mut payment = payment.clone();
        if self.is_cancelled(&payment.order_id).await? {
            // The cancellation overtook the creation: record the payment, never charge it.
            payment.status = PaymentStatus::Cancelled;
            payment.refund_requested = true;
        }
        let created = insert_new(&self.payments, &StoredPayment::from(&payment)).await?;
        if created
            && payment.status == PaymentStatus::Pending
            && self.is_cancelled(&payment.order_id).await?
        {
            // Cancelled between the check and the insert: the cancellation may not have seen it.
            self.transition(
                doc! {"_id": &payment.id, "status": "pending"},
                doc! {"$set": {"status": "cancelled", "refund_requested": true, "updated_at": now_ms()}},
            )
            .await?;
        }
        self.mark_event_processed(event_id).await?;
        Ok(created)
    }

    pub(super) async fn order_cancelled(
        &self,
        event_id: &str,
        order_id: &str,
    ) -> Result<Option<Payment>, StoreError> {
        self.indexed().await?;
        if self.was_processed(event_id).await? {
            return Ok(None);
        }
        insert_new(
            &self.cancelled,
            &doc! {"_id": order_id, "cancelled_at": now_ms()},
        )
        .await?;
        // Flag first: a payment claimed in between is charged, then refunded for the flag.
        let flagged = self
            .transition(
                doc! {"order_id": order_id},
                doc! {"$set": {"refund_requested": true, "updated_at": now_ms()}},
            )
            .await?;
        let payment = match flagged {
            Some(p) if p.status == PaymentStatus::Pending => {
                let cancelled = self
                    .transition(
                        doc! {"_id": &p.id, "status": "pending"},
                        doc! {"$set": {"status": "cancelled", "updated_at": now_ms()}},
                    )
                    .await?;
                match cancelled {
                    Some(c) => Some(c),
                    // Claimed in between: it is charged, then refunded for the flag.
                    None => self.get(&p.id).await?,
                }
            }
            other => other,
        };
        self.mark_event_processed(event_id).await?;
        Ok(payment)
    }
}
