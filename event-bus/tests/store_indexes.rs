//! The MongoDB event store creates the index each of its queries needs: the fields a query
//! filters on by equality, then the fields it sorts by, then those it filters by range (the
//! SQLite plans are checked in the store's unit tests). Runs when `MONGO_TEST_URL` is set (a fresh
//! database), and must under `CI=true`.
#![allow(clippy::unwrap_used)]

use mongodb::bson::doc;
use shared::mongo::MongoOptions;
use test_support::indexes::assert_mongo_indexes;

#[tokio::test]
async fn every_mongo_list_and_dispatch_query_has_its_compound_index() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    event_bus::store::connect(&db.url, MongoOptions::default())
        .await
        .unwrap();
    let events = [
        // `recent` without and with a type, newest first; the count of events.
        doc! {"complete": 1, "seq": -1, "_id": -1},
        doc! {"complete": 1, "type": 1, "seq": -1, "_id": -1},
    ];
    assert_mongo_indexes(&db.url, "events", &events).await;
    let deliveries = [
        // `due`: a subscriber's pending deliveries in event order, due time from the index.
        doc! {"subscriber": 1, "status": 1, "seq": 1, "event_id": 1, "next_attempt_at": 1},
        // `next_due_at`.
        doc! {"subscriber": 1, "status": 1, "next_attempt_at": 1},
        // `dead`, latest first; the counts by status.
        doc! {"status": 1, "updated_at": -1, "seq": -1},
        // The deliveries of the events `recent` lists; `replay`.
        doc! {"event_id": 1, "subscriber": 1},
    ];
    assert_mongo_indexes(&db.url, "deliveries", &deliveries).await;
    db.cleanup().await;
}
