//! The collections of the order database, the fields a change sets, and the indexes (the order
//! document is the stored shape both backends share, `store::shapes::StoredOrder`).

use crate::domain::Order;
use mongodb::bson::{doc, Document};
use shared::mongo::{IndexSpec, MongoOutbox};

/// Collection names.
pub(super) const ORDERS: &str = "orders";
pub(super) const RELEASES: &str = "release_tasks";
pub(super) const PROCESSED: &str = "processed_events";

/// The `$set` of every mutable order field, from the order after a change.
pub(super) fn mutable_fields(order: &Order) -> Document {
    doc! {
        "status": order.status.as_str(),
        "payment_status": order.payment_status.as_str(),
        "payment_id": order.payment_id.clone(),
        "tracking_number": order.tracking_number.clone(),
        "notes": order.notes.clone(),
        "updated_at": order.updated_at,
    }
}

/// The indexes of each collection: the unique `idem`; one per list (its equality fields, then its
/// sort, newest first with `_id` breaking ties); the due releases; the outbox's.
pub(super) fn indexes() -> Vec<IndexSpec> {
    let mut specs = vec![
        IndexSpec::keys(ORDERS, doc! {"idem": 1}).unique(),
        IndexSpec::keys(ORDERS, doc! {"user_id": 1, "created_at": -1, "_id": -1}),
        IndexSpec::keys(
            ORDERS,
            doc! {"user_id": 1, "status": 1, "created_at": -1, "_id": -1},
        ),
        IndexSpec::keys(ORDERS, doc! {"status": 1, "created_at": -1, "_id": -1}),
        IndexSpec::keys(ORDERS, doc! {"created_at": -1, "_id": -1}),
        IndexSpec::keys(
            RELEASES,
            doc! {"done_at": 1, "held": 1, "next_attempt_at": 1, "_id": 1},
        ),
        IndexSpec::keys(RELEASES, doc! {"order_id": 1}),
    ];
    specs.extend(MongoOutbox::indexes(&[RELEASES]));
    specs
}
