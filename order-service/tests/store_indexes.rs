//! The MongoDB order store creates the index each of its queries needs: the equality fields the
//! query filters on, then the fields it sorts by (the SQLite plans are checked in the store's unit
//! tests). Runs when `MONGO_TEST_URL` is set (a fresh database), and must under `CI=true`.
#![allow(clippy::unwrap_used)]

use mongodb::bson::doc;
use shared::mongo::MongoOptions;
use test_support::indexes::assert_mongo_indexes;

#[tokio::test]
async fn every_mongo_list_and_worker_query_has_its_compound_index() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    order_service::store::connect(&db.url, MongoOptions::default())
        .await
        .unwrap();
    let wanted = [
        // `list`: own orders, own orders in a status, all in a status, all; newest first.
        doc! {"user_id": 1, "created_at": -1, "_id": -1},
        doc! {"user_id": 1, "status": 1, "created_at": -1, "_id": -1},
        doc! {"status": 1, "created_at": -1, "_id": -1},
        doc! {"created_at": -1, "_id": -1},
        // `find_by_key` / `create`: the unique user + idempotency key.
        doc! {"idem": 1},
    ];
    assert_mongo_indexes(&db.url, "orders", &wanted).await;
    // The relay: undelivered, unheld events oldest first, due time read from the index;
    // `pending`; holds left by a stopped process.
    let outbox = [
        doc! {"delivered_at": 1, "held": 1, "created_at": 1, "_id": 1, "next_attempt_at": 1},
        doc! {"held": 1, "created_at": 1},
    ];
    assert_mongo_indexes(&db.url, "outbox", &outbox).await;
    // `claim_releases`: not done, not held, due first; `release_done`/`release_failed` by order;
    // holds left by a stopped process.
    let releases = [
        doc! {"done_at": 1, "held": 1, "next_attempt_at": 1, "_id": 1},
        doc! {"order_id": 1},
        doc! {"held": 1, "created_at": 1},
    ];
    assert_mongo_indexes(&db.url, "release_tasks", &releases).await;
    db.cleanup().await;
}
