//! The MongoDB side of the payment store: the collection names, the startup indexes and the
//! upgrade of data stored by earlier versions (the document is the stored shape both backends
//! share, `store::shapes::StoredPayment`).

use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;
use shared::mongo::outbox::OUTBOX;
use shared::mongo::upgrade::{to_snake_case, Upgrade};
use shared::mongo::{IndexSpec, MongoOutbox};
use shared::store::StoreError;

/// Payments, one document per order (`_id` = payment id), with the ids of the events they caused
/// (the outbox protocol's `event_ids`).
pub(super) const PAYMENTS: &str = "payments";
/// Ids of applied incoming events (`_id` = event id).
pub(super) const PROCESSED_EVENTS: &str = "processed_events";
/// Orders whose cancellation was seen (`_id` = order id).
pub(super) const CANCELLED_ORDERS: &str = "cancelled_orders";

/// The indexes: one payment per order; the worker's scan (`due_work`: one `$or` branch per status,
/// each read in `created_at` order from its own index and merged; a completed payment is only in
/// the second's range when a refund is requested); the owner lookup; and the outbox's.
pub(super) fn indexes() -> Vec<IndexSpec> {
    let mut specs = vec![
        IndexSpec::named(PAYMENTS, "payments_order_unique", doc! {"order_id": 1}).unique(),
        IndexSpec::named(
            PAYMENTS,
            "payments_status_created",
            doc! {"status": 1, "created_at": 1, "_id": 1},
        ),
        IndexSpec::named(
            PAYMENTS,
            "payments_refund_due",
            doc! {"status": 1, "refund_requested": 1, "created_at": 1, "_id": 1},
        ),
        IndexSpec::named(PAYMENTS, "payments_user", doc! {"user_id": 1}),
    ];
    specs.extend(MongoOutbox::indexes(&[]));
    specs
}

/// Upgrades of data stored by earlier versions, oldest first.
pub(super) fn upgrades() -> Vec<Upgrade> {
    vec![Upgrade {
        name: "payments_snake_case_fields",
        run: |db| Box::pin(snake_case_fields(db)),
    }]
}

/// Field names were camelCase, and an outbox hold was `held: true` with the `paymentId` it
/// concerned: now snake_case, and a hold names its change and aggregate as the shared outbox
/// protocol does (the change id of a payment's event is the event id).
async fn snake_case_fields(db: &Database) -> Result<(), StoreError> {
    let collections = [PAYMENTS, OUTBOX, PROCESSED_EVENTS, CANCELLED_ORDERS];
    to_snake_case(db, &collections, |collection, mut d: Document| {
        if collection == OUTBOX {
            if let Some(Bson::String(payment)) = d.remove("payment_id") {
                d.insert("aggregate_id", payment);
            }
            if d.get("held") == Some(&Bson::Boolean(true)) {
                let id = d.get("_id").cloned().unwrap_or(Bson::Null);
                d.insert("held", id);
            }
        }
        d
    })
    .await
}
