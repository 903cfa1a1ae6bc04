//! The MongoDB event store started while its server is unreachable: it still connects (the
//! service comes up answering 503), and once the server answers the first operation creates the
//! indexes. Skipped without `MONGO_TEST_URL`.
#![allow(clippy::unwrap_used)]

use event_bus::domain::Subscription;
use event_bus::store::{NewEvents, StoreError};
use serde_json::json;
use shared::events::EventEnvelope;
use shared::mongo::MongoOptions;
use std::time::Duration;
use test_support::{authority_of, Forwarder, TestMongo};

async fn index_names(url: &str, name: &str, collection: &str) -> Vec<String> {
    let client = mongodb::Client::with_uri_str(url).await.unwrap();
    client
        .database(name)
        .collection::<mongodb::bson::Document>(collection)
        .list_index_names()
        .await
        .unwrap()
}

#[tokio::test]
async fn indexes_missed_at_startup_are_created_by_the_first_operation_that_reaches_the_server() {
    let Some(db) = TestMongo::new() else { return };
    // A forwarder to the server, cut until the store has started.
    let mut proxy = Forwarder::start(&authority_of(&db.url)).await;
    proxy.cut().await;
    let opts = MongoOptions {
        pool_size: 2,
        server_selection_timeout: Duration::from_millis(500),
    };
    let url = format!("mongodb://{}/{}", proxy.addr, db.name);
    let store = event_bus::store::connect(&url, opts).await.unwrap();
    let err = store.counts().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // The server becomes reachable on that port.
    proxy.restore().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server never reachable"
        );
    }
    let event = EventEnvelope {
        id: "late-1".into(),
        event_type: "A".into(),
        data: json!({}),
        occurred_at: "2026-11-25T10:00:00.000Z".into(),
        source: "order-service".into(),
    };
    let stored = store
        .append(NewEvents::due_now(
            &[event],
            &[Subscription::all("orders")],
            1,
        ))
        .await
        .unwrap();
    assert_eq!(stored, ["late-1"]);
    let deliveries = index_names(&db.url, &db.name, "deliveries").await;
    for name in [
        "deliveries_due_seq",
        "deliveries_next",
        "deliveries_status",
        "deliveries_event",
    ] {
        assert!(deliveries.iter().any(|n| n == name), "{deliveries:?}");
    }
    let events = index_names(&db.url, &db.name, "events").await;
    assert!(
        events.iter().any(|n| n == "events_complete_type_seq"),
        "{events:?}"
    );
    proxy.cut().await;
    db.cleanup().await;
}
