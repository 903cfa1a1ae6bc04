//! The MongoDB payment store creates the index each of its queries needs: the fields a query
//! filters on by equality, then the fields it sorts by (the SQLite plans are checked in the
//! store's unit tests). Runs when `MONGO_TEST_URL` is set (a fresh database), and must under
//! `CI=true`.
#![allow(clippy::unwrap_used)]

use mongodb::bson::doc;
use test_support::indexes::assert_mongo_indexes;

#[tokio::test]
async fn every_mongo_lookup_and_worker_query_has_its_compound_index() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    payment_service::store::connect(&db.url).await.unwrap();
    let payments = [
        // `get_by_order` (one payment per order).
        doc! {"order_id": 1},
        // `due_work`'s branches, oldest first: by status (pending; processing/refunding, stale
        // ones), and completed with a refund requested.
        doc! {"status": 1, "created_at": 1, "_id": 1},
        doc! {"status": 1, "refund_requested": 1, "created_at": 1, "_id": 1},
    ];
    assert_mongo_indexes(&db.url, "payments", &payments).await;
    let outbox = [
        // The relay: undelivered, unheld events oldest first, due time from the index.
        doc! {"delivered_at": 1, "held": 1, "created_at": 1, "_id": 1, "next_attempt_at": 1},
        // Holds left by a crash.
        doc! {"held": 1, "created_at": 1},
    ];
    assert_mongo_indexes(&db.url, "outbox", &outbox).await;
    db.cleanup().await;
}
