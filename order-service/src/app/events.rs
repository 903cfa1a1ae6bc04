//! What the service tells others: the `data` of `OrderCreated`, `OrderCancelled` and
//! `OrderUpdated`, built from the order as it is after the change, and the events the store
//! writes with a cancellation or any other change (`store::Announce`).

use crate::domain::{Order, OrderItem};
use crate::SERVICE;
use serde_json::{json, Value};
use shared::events::{types, EventEnvelope};
use shared::money::cents_to_json;

/// The event of a cancellation: `OrderCancelled`.
pub fn cancellation(order: &Order) -> EventEnvelope {
    EventEnvelope::new(types::ORDER_CANCELLED, cancelled(order), SERVICE)
}

/// The event of any other change: `OrderUpdated`.
pub fn update(order: &Order) -> EventEnvelope {
    EventEnvelope::new(types::ORDER_UPDATED, updated(order), SERVICE)
}

/// One line as clients and subscribers see it (`price` as a money number).
pub fn item_json(item: &OrderItem) -> Value {
    json!({
        "productId": item.product_id,
        "name": item.name,
        "price": cents_to_json(item.price_cents),
        "quantity": item.quantity,
    })
}

fn items_json(order: &Order) -> Vec<Value> {
    order.items.iter().map(item_json).collect()
}

/// `OrderCreated` data.
pub fn created(order: &Order) -> Value {
    json!({
        "orderId": order.id,
        "userId": order.user_id,
        "items": items_json(order),
        "totalAmount": cents_to_json(order.total_cents),
    })
}

/// `OrderCancelled` data.
pub fn cancelled(order: &Order) -> Value {
    json!({
        "orderId": order.id,
        "userId": order.user_id,
        "items": items_json(order),
        "paymentStatus": order.payment_status.as_str(),
    })
}

/// `OrderUpdated` data.
pub fn updated(order: &Order) -> Value {
    json!({
        "orderId": order.id,
        "status": order.status.as_str(),
        "paymentStatus": order.payment_status.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_money_numbers() {
        let item = OrderItem {
            product_id: "a".repeat(24),
            name: "x".into(),
            price_cents: 1999,
            quantity: 3,
        };
        assert_eq!(item_json(&item)["price"], json!(19.99));
    }
}
