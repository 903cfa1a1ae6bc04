//! Stock reservations: the lines an order asks for, the reservation kept per order id, and the
//! rule that duplicate lines of one product are summed before anything is taken.

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantNames};

/// One requested line: a product and a quantity (≥ 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationLine {
    /// Product id.
    pub product_id: String,
    /// Units to take.
    pub quantity: i64,
}

/// One reserved line with the product's name and price at reservation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservedItem {
    /// Product id.
    pub product_id: String,
    /// Product name.
    pub name: String,
    /// Unit price in cents.
    pub price_cents: i64,
    /// Units taken.
    pub quantity: i64,
}

/// Whether a reservation still holds its stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum ReservationStatus {
    /// The stock is taken.
    Reserved,
    /// The stock was put back.
    Released,
}

shared::spelled!(ReservationStatus);

/// The stock held for one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The order it belongs to (unique).
    pub order_id: String,
    /// Current status.
    pub status: ReservationStatus,
    /// What was taken.
    pub items: Vec<ReservedItem>,
}

/// Sums duplicate lines of the same product, keeping the order of first appearance.
pub fn merge_lines(lines: &[ReservationLine]) -> Vec<ReservationLine> {
    let mut merged: Vec<ReservationLine> = Vec::with_capacity(lines.len());
    for line in lines {
        match merged.iter_mut().find(|m| m.product_id == line.product_id) {
            Some(m) => m.quantity = m.quantity.saturating_add(line.quantity),
            None => merged.push(line.clone()),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, q: i64) -> ReservationLine {
        ReservationLine {
            product_id: id.into(),
            quantity: q,
        }
    }

    #[test]
    fn duplicate_lines_are_summed_in_first_seen_order() {
        let merged = merge_lines(&[line("b", 1), line("a", 2), line("b", 3)]);
        assert_eq!(merged, vec![line("b", 4), line("a", 2)]);
    }

    #[test]
    fn statuses_round_trip() {
        for s in [ReservationStatus::Reserved, ReservationStatus::Released] {
            assert_eq!(ReservationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ReservationStatus::parse("x"), None);
    }
}
