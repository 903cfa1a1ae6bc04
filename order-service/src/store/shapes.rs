//! The stored shapes of an order's lines and address, the same in both backends (a JSON column in
//! SQLite, embedded documents in MongoDB): snake_case field names like every stored field. Rows
//! written before the names were snake_case (camelCase) are still read.

use crate::domain::{OrderItem, ShippingAddress};
use serde::{Deserialize, Serialize};

/// One stored order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredItem {
    #[serde(alias = "productId")]
    product_id: String,
    name: String,
    #[serde(alias = "priceCents")]
    price_cents: i64,
    quantity: i64,
}

impl From<&OrderItem> for StoredItem {
    fn from(i: &OrderItem) -> Self {
        Self {
            product_id: i.product_id.clone(),
            name: i.name.clone(),
            price_cents: i.price_cents,
            quantity: i.quantity,
        }
    }
}

impl From<StoredItem> for OrderItem {
    fn from(i: StoredItem) -> Self {
        Self {
            product_id: i.product_id,
            name: i.name,
            price_cents: i.price_cents,
            quantity: i.quantity,
        }
    }
}

/// A stored shipping address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredAddress {
    street: String,
    city: String,
    state: String,
    #[serde(alias = "zipCode")]
    zip_code: String,
    country: String,
}

impl From<&ShippingAddress> for StoredAddress {
    fn from(a: &ShippingAddress) -> Self {
        Self {
            street: a.street.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zip_code: a.zip_code.clone(),
            country: a.country.clone(),
        }
    }
}

impl From<StoredAddress> for ShippingAddress {
    fn from(a: StoredAddress) -> Self {
        Self {
            street: a.street,
            city: a.city,
            state: a.state,
            zip_code: a.zip_code,
            country: a.country,
        }
    }
}

/// The stored lines of `items`.
pub(crate) fn stored_items(items: &[OrderItem]) -> Vec<StoredItem> {
    items.iter().map(StoredItem::from).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_and_addresses_are_stored_snake_case_and_camel_case_rows_still_read() {
        let item = OrderItem {
            product_id: "p".into(),
            name: "n".into(),
            price_cents: 5,
            quantity: 2,
        };
        let stored = serde_json::to_value(stored_items(std::slice::from_ref(&item))).unwrap();
        assert_eq!(
            stored,
            serde_json::json!([{"product_id": "p", "name": "n", "price_cents": 5, "quantity": 2}])
        );
        let old: Vec<StoredItem> = serde_json::from_str(
            r#"[{"productId": "p", "name": "n", "priceCents": 5, "quantity": 2}]"#,
        )
        .unwrap();
        assert_eq!(OrderItem::from(old[0].clone()), item);
        let old: StoredAddress = serde_json::from_str(
            r#"{"street": "s", "city": "c", "state": "t", "zipCode": "z", "country": "k"}"#,
        )
        .unwrap();
        let address = ShippingAddress::from(old);
        assert_eq!(address.zip_code, "z");
        let stored = serde_json::to_value(StoredAddress::from(&address)).unwrap();
        assert_eq!(stored["zip_code"], "z");
    }
}
