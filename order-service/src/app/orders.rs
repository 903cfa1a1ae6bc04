//! Placing an order: idempotency-key replay, the stock reservation at the product service, and the
//! order + `OrderCreated` written together, one transaction or one document (the reservation is
//! released if that fails).

use crate::domain::{NewOrder, Order, OrderStatus, PaymentStatus};
use crate::error::Error;
use crate::state::AppState;
use crate::store::IdempotencyKey;
use crate::SERVICE;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::events::{types, EventEnvelope};
use shared::store::{now_ms, StoreError};
use shared::ApiError;

/// The order a create request produced, and whether it is a replay of an earlier request.
pub struct Placed {
    /// The order.
    pub order: Order,
    /// True when an earlier request with the same idempotency key created it.
    pub replayed: bool,
}

fn replay(order: Order, stored: &str, fingerprint: &str) -> Result<Placed, Error> {
    if stored == fingerprint {
        Ok(Placed {
            order,
            replayed: true,
        })
    } else {
        Err(Error::IdempotencyKeyReused)
    }
}

/// Hash of the order asked for, to recognise a replay under the same idempotency key (the same
/// canonical JSON as ever, so keys stored before stay valid).
fn fingerprint(new: &NewOrder) -> String {
    let lines: Vec<Value> = new
        .lines
        .iter()
        .map(|l| json!([l.product_id, l.quantity]))
        .collect();
    let canonical = json!({"lines": lines, "address": new.shipping_address}).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Places an order for `user_id`.
pub async fn place_order(
    state: &AppState,
    user_id: &str,
    new: NewOrder,
    key: Option<String>,
) -> Result<Placed, Error> {
    let key = key.map(|key| IdempotencyKey {
        key,
        fingerprint: fingerprint(&new),
    });
    if let Some(k) = &key {
        if let Some((order, stored)) = state.store.find_by_key(user_id, &k.key).await? {
            return replay(order, &stored, &k.fingerprint);
        }
    }
    let order_id = shared::ids::new_object_id();
    let items = state.products.reserve(&order_id, &new.lines).await?;
    let now = now_ms();
    let order = Order {
        id: order_id,
        user_id: user_id.to_string(),
        total_cents: Order::total_of(&items),
        items,
        status: OrderStatus::Pending,
        payment_status: PaymentStatus::Pending,
        payment_id: None,
        shipping_address: new.shipping_address,
        tracking_number: None,
        notes: None,
        created_at: now,
        updated_at: now,
    };
    let event = EventEnvelope::new(
        types::ORDER_CREATED,
        super::events::created(&order),
        SERVICE,
    );
    match state.store.create(&order, key.as_ref(), &event).await {
        Ok(()) => {
            state.event_written();
            Ok(Placed {
                order,
                replayed: false,
            })
        }
        Err(e) => {
            release_unplaced(state, &order.id).await;
            match (e, &key) {
                // A concurrent request with the same key won the race: answer with its order.
                (StoreError::Conflict(_), Some(k)) => {
                    match state.store.find_by_key(user_id, &k.key).await? {
                        Some((order, stored)) => replay(order, &stored, &k.fingerprint),
                        None => Err(ApiError::internal_from(
                            &"idempotency conflict without an order",
                        )
                        .into()),
                    }
                }
                (e, _) => Err(e.into()),
            }
        }
    }
}

/// Gives back the stock of an order that could not be stored: queued for the release worker, or
/// released at once when even the queue cannot be written.
async fn release_unplaced(state: &AppState, order_id: &str) {
    match state.store.queue_release(order_id).await {
        Ok(()) => state.release_queued(),
        Err(e) => {
            tracing::warn!(error = %e, order_id, "cannot queue release; releasing now");
            if let Err(e) = state.products.release(order_id).await {
                tracing::error!(error = %e, order_id, "reservation of an unstored order not released");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderLine, ShippingAddress};

    fn asked(quantity: i64) -> NewOrder {
        let address = ShippingAddress {
            street: "1 Main".into(),
            city: "X".into(),
            state: "Y".into(),
            zip_code: "1".into(),
            country: "Z".into(),
        };
        let line = OrderLine {
            product_id: "a".repeat(24),
            quantity,
        };
        NewOrder::new(vec![line], address)
    }

    #[test]
    fn the_fingerprint_is_the_hash_of_the_canonical_request() {
        assert_ne!(fingerprint(&asked(1)), fingerprint(&asked(2)));
        assert_eq!(fingerprint(&asked(1)), fingerprint(&asked(1)));
        // Pinned: keys stored by earlier versions must keep matching their requests. (serde_json's
        // `preserve_order`, enabled through our dependencies, keeps the keys in written order.)
        assert_eq!(
            fingerprint(&asked(1)),
            hex::encode(Sha256::digest(
                br#"{"lines":[["aaaaaaaaaaaaaaaaaaaaaaaa",1]],"address":{"street":"1 Main","city":"X","state":"Y","zipCode":"1","country":"Z"}}"#
            ))
        );
    }
}
