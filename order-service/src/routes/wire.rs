//! Wire request types of the order API, validated with every bad field reported at once.

use crate::app::events::item_json;
use crate::domain::{NewOrder, Order, OrderLine, OrderStatus, ShippingAddress};
use serde_json::{json, Map, Value};
use shared::extract::{BodyLimits, FromJson};
use shared::money::cents_to_json;
use shared::store::iso_ms;
use shared::validate::Validator;
use shared::ApiError;

/// The order JSON clients and other services see (the payment status as shown:
/// `Order::shown_payment_status`).
pub fn order_json(order: &Order) -> Value {
    let mut v = json!({
        "_id": order.id,
        "userId": order.user_id,
        "items": order.items.iter().map(item_json).collect::<Vec<_>>(),
        "totalAmount": cents_to_json(order.total_cents),
        "status": order.status.as_str(),
        "paymentStatus": order.shown_payment_status().as_str(),
        "shippingAddress": order.shipping_address,
        "createdAt": iso_ms(order.created_at),
        "updatedAt": iso_ms(order.updated_at),
    });
    for (key, value) in [
        ("paymentId", &order.payment_id),
        ("trackingNumber", &order.tracking_number),
        ("notes", &order.notes),
    ] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    v
}

/// Most lines in one order.
pub const MAX_LINES: usize = 50;
/// An order body: 50 lines and an address fit in a few KiB, encrypted or not.
pub const ORDER_BODY_LIMITS: BodyLimits = BodyLimits {
    max_bytes: 64 * 1024,
    ..BodyLimits::DEFAULT
};
/// Most units of one line.
pub const MAX_QUANTITY: i64 = 1000;
/// Lengths in characters (least, most) of each shipping address field.
pub const ADDRESS_FIELD_LEN: (usize, usize) = (1, 200);
/// Lengths in characters (least, most) of a tracking number.
pub const TRACKING_LEN: (usize, usize) = (1, 100);

/// `POST /api/orders` body: the order asked for (duplicate lines summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOrderRequest(pub NewOrder);

fn line(v: &mut Validator<'_>, index: usize, item: &Value) -> Option<OrderLine> {
    let Some(obj) = item.as_object() else {
        v.error_at(format!("items.{index}"), "must be of type object");
        return None;
    };
    let mut n = Validator::nested(obj, &format!("items.{index}"));
    let product_id = n.object_id("productId");
    let quantity = n.int("quantity", 1, MAX_QUANTITY);
    v.extend(n.finish_nested());
    Some(OrderLine {
        product_id: product_id?,
        quantity: quantity?,
    })
}

fn address(v: &mut Validator<'_>, obj: &Map<String, Value>) -> Option<ShippingAddress> {
    let mut n = Validator::nested(obj, "shippingAddress");
    let (min, max) = ADDRESS_FIELD_LEN;
    let street = n.string("street", min, max);
    let city = n.string("city", min, max);
    let state = n.string("state", min, max);
    let zip_code = n.string("zipCode", min, max);
    let country = n.string("country", min, max);
    v.extend(n.finish_nested());
    Some(ShippingAddress {
        street: street?,
        city: city?,
        state: state?,
        zip_code: zip_code?,
        country: country?,
    })
}

impl FromJson for CreateOrderRequest {
    const LIMITS: BodyLimits = ORDER_BODY_LIMITS;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let items = v.array("items", 1, MAX_LINES);
        let lines: Option<Vec<OrderLine>> = items.map(|items| {
            let parsed: Vec<Option<OrderLine>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| line(&mut v, i, item))
                .collect();
            parsed.into_iter().flatten().collect()
        });
        let address = v
            .object("shippingAddress")
            .and_then(|obj| address(&mut v, obj));
        v.finish()?;
        match (lines, address) {
            (Some(lines), Some(shipping_address)) => {
                Ok(Self(NewOrder::new(lines, shipping_address)))
            }
            _ => Err(ApiError::validation(Vec::new())),
        }
    }
}

/// `PUT /api/orders/:id/status` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStatusRequest {
    /// Target status.
    pub status: OrderStatus,
    /// Carrier tracking number.
    pub tracking_number: Option<String>,
}

impl FromJson for UpdateStatusRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let status = v.one_of("status", OrderStatus::ALL, true);
        let tracking_number = v.opt_string("trackingNumber", TRACKING_LEN.0, TRACKING_LEN.1);
        v.finish()?;
        let status = status
            .as_deref()
            .and_then(OrderStatus::parse)
            .ok_or_else(|| ApiError::validation(Vec::new()))?;
        Ok(Self {
            status,
            tracking_number,
        })
    }
}

/// `POST /internal/orders/:id/refund` body: who refunds the order's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundOrderRequest {
    /// An admin's refund (a return) rather than the owner's.
    pub by_admin: bool,
}

impl RefundOrderRequest {
    /// The statuses the refund cancels the order from: the owner's only while the order could
    /// still be cancelled, an admin's until it ships.
    pub fn cancels_from(self) -> &'static [OrderStatus] {
        if self.by_admin {
            &OrderStatus::UNSHIPPED
        } else {
            &OrderStatus::CANCELLABLE
        }
    }
}

impl FromJson for RefundOrderRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let by = v.one_of("by", &["owner", "admin"], true);
        v.finish()?;
        Ok(Self {
            by_admin: by.as_deref() == Some("admin"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const P1: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

    fn address() -> Value {
        json!({"street": "1 Main", "city": "X", "state": "Y", "zipCode": "1", "country": "Z"})
    }

    #[test]
    fn duplicate_lines_are_summed_in_first_seen_order() {
        let body = json!({
            "items": [{"productId": P1, "quantity": 2}, {"productId": "b".repeat(24), "quantity": 1},
                      {"productId": P1, "quantity": 3}],
            "shippingAddress": address(),
        });
        let CreateOrderRequest(new) = CreateOrderRequest::from_json(&body).unwrap();
        assert_eq!(new.lines.len(), 2);
        assert_eq!(new.lines[0].quantity, 5);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let body = json!({
            "items": [{"productId": "nope", "quantity": 0, "price": 1}],
            "shippingAddress": {"street": "", "city": 5},
            "extra": true,
        });
        let err = CreateOrderRequest::from_json(&body).unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "items.0.productId",
            "items.0.quantity",
            "items.0.price",
            "shippingAddress.street",
            "shippingAddress.city",
            "shippingAddress.state",
            "extra",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }
}
