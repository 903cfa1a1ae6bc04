//! What only the MongoDB store has: holds of the outbox protocol left by a stopped process, and
//! the upgrade of data an earlier version stored.

use super::*;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use test_support::TestMongo;

async fn raw(m: &TestMongo) -> mongodb::Database {
    mongodb::Client::with_uri_str(&m.url)
        .await
        .unwrap()
        .database(&m.name)
}

async fn ids(db: &mongodb::Database, collection: &str) -> Vec<String> {
    let docs: Vec<Document> = db
        .collection::<Document>(collection)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.iter()
        .map(|d| d.get_str("_id").unwrap().to_owned())
        .collect()
}

/// The holds a cancellation writes before its update: its event and its stock release.
async fn hold_cancellation(db: &mongodb::Database, o: &Order, created_at: i64) -> EventEnvelope {
    let e = cancellation(o);
    let hold = doc! {"held": &e.id, "aggregate_id": &o.id, "created_at": created_at};
    let mut event = doc! {
        "_id": &e.id, "event": serde_json::to_string(&e).unwrap(), "attempts": 0_i64,
        "next_attempt_at": 0_i64,
    };
    event.extend(hold.clone());
    db.collection::<Document>("outbox")
        .insert_one(event)
        .await
        .unwrap();
    let mut task =
        doc! {"_id": &e.id, "order_id": &o.id, "attempts": 0_i64, "next_attempt_at": 0_i64};
    task.extend(hold);
    db.collection::<Document>("release_tasks")
        .insert_one(task)
        .await
        .unwrap();
    e
}

#[tokio::test]
async fn mongo_holds_a_stopped_process_left_are_released_or_deleted_once_old() {
    let Some(m) = TestMongo::new() else { return };
    let store = connect(&m.url).await;
    let db = raw(&m).await;
    let (applied, never, young) = (order("u", 1), order("u", 2), order("u", 3));
    for o in [&applied, &never, &young] {
        insert(store.as_ref(), o).await;
    }
    store
        .outbox()
        .delivered(&ids(&db, "outbox").await)
        .await
        .unwrap();
    // Stopped after the update applied (the order records the change), before the release.
    let kept = hold_cancellation(&db, &applied, 1).await;
    db.collection::<Document>("orders")
        .update_one(
            doc! {"_id": &applied.id},
            doc! {"$set": {"status": "cancelled"}, "$push": {"event_ids": &kept.id}},
        )
        .await
        .unwrap();
    // Stopped before the update: nothing records the change.
    let lost = hold_cancellation(&db, &never, 1).await;
    // A change still in flight: too young to settle.
    let pending = hold_cancellation(&db, &young, shared::store::now_ms()).await;

    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![applied.id.clone()]
    );
    assert_eq!(
        store.outbox().claim(10, Duration::ZERO).await.unwrap(),
        vec![kept.clone()]
    );
    for collection in ["outbox", "release_tasks"] {
        let left = ids(&db, collection).await;
        assert!(left.contains(&kept.id), "{collection}: {left:?}");
        assert!(!left.contains(&lost.id), "{collection}: {left:?}");
        assert!(left.contains(&pending.id), "{collection}: {left:?}");
    }
    assert_eq!(store.outbox().pending().await.unwrap(), 1);
    m.cleanup().await;
}

#[tokio::test]
async fn mongo_orders_stored_by_the_camel_case_version_are_upgraded_at_connect() {
    let Some(m) = TestMongo::new() else { return };
    let db = raw(&m).await;
    let o = order("u", 7);
    let stranded = cancellation(&o);
    let delivered = update(&o);
    let waiting = update(&o);
    let orders = db.collection::<Document>("orders");
    orders
        .create_index(
            IndexModel::builder()
                .keys(doc! {"userId": 1, "createdAt": -1, "_id": -1})
                .options(IndexOptions::builder().build())
                .build(),
        )
        .await
        .unwrap();
    // An order whose cancellation event and stock release were never moved out of it.
    let item = &o.items[0];
    orders
        .insert_one(doc! {
            "_id": &o.id, "userId": &o.user_id,
            "items": [{"productId": &item.product_id, "name": &item.name,
                "priceCents": item.price_cents, "quantity": item.quantity}],
            "totalCents": o.total_cents, "status": "pending", "paymentStatus": "pending",
            "paymentId": null,
            "shippingAddress": {"street": "1 Main St", "city": "Pune", "state": "MH",
                "zipCode": "411001", "country": "India"},
            "trackingNumber": null, "notes": null, "createdAt": 7_i64, "updatedAt": 7_i64,
            "idem": format!("o:{}", o.id), "idempotencyKey": null, "fingerprint": null,
            "rev": 3_i64, "dirty": true, "releasePending": true, "processedEvents": ["p-1"],
            "outbox": [{"id": &stranded.id, "at": 5_i64,
                "event": serde_json::to_string(&stranded).unwrap()}],
        })
        .await
        .unwrap();
    let outbox = db.collection::<Document>("outbox");
    for (e, at, done) in [(&delivered, 1_i64, true), (&waiting, 2, false)] {
        let mut d = doc! {
            "_id": &e.id, "event": serde_json::to_string(e).unwrap(), "createdAt": at,
            "attempts": 0_i64, "nextAttemptAt": at, "delivered": done,
        };
        if done {
            d.insert("deliveredAt", 3_i64);
        }
        outbox.insert_one(d).await.unwrap();
    }
    let earlier = new_object_id();
    db.collection::<Document>("release_tasks")
        .insert_one(
            doc! {"_id": &earlier, "attempts": 2_i64, "nextAttemptAt": 0_i64, "done": false},
        )
        .await
        .unwrap();

    let store = connect(&m.url).await;

    assert_eq!(store.get(&o.id).await.unwrap().unwrap(), o);
    let filter = order_service::store::OrderFilter {
        user_id: Some("u".into()),
        status: None,
    };
    let page = shared::store::PageRequest { page: 1, limit: 10 };
    assert_eq!(
        store.list(&filter, page).await.unwrap(),
        (vec![o.clone()], 1)
    );
    assert_eq!(
        store.outbox().claim(10, Duration::ZERO).await.unwrap(),
        vec![waiting, stranded]
    );
    let mut due = store.claim_releases(10, Duration::ZERO).await.unwrap();
    due.sort();
    let mut expected = vec![o.id.clone(), earlier];
    expected.sort();
    assert_eq!(due, expected);
    let stored = orders.find_one(doc! {"_id": &o.id}).await.unwrap().unwrap();
    for gone in [
        "userId",
        "dirty",
        "outbox",
        "releasePending",
        "release_pending",
    ] {
        assert!(!stored.contains_key(gone), "{gone}: {stored}");
    }
    assert_eq!(
        stored
            .get_document("shipping_address")
            .unwrap()
            .get_str("zip_code")
            .unwrap(),
        "411001"
    );
    // The payment event applied before the upgrade is still recognised.
    let paid = PaymentChange::Processed {
        payment_id: "x".into(),
    };
    assert_eq!(
        store
            .apply_payment(&payment_event("p-1", &o.id, &paid), update)
            .await
            .unwrap(),
        None
    );
    m.cleanup().await;
}

/// A claimer that stopped between its two writes leaves a claim token and a document still due:
/// once the token is older than a lease another replica takes the document over; a fresh token
/// keeps it from everyone else.
#[tokio::test]
async fn a_claim_token_its_claimer_left_behind_is_taken_over_after_a_lease() {
    let Some(m) = TestMongo::new() else { return };
    let store = connect(&m.url).await;
    let db = raw(&m).await;
    let (stale, fresh) = (new_object_id(), new_object_id());
    store.queue_release(&stale).await.unwrap();
    store.queue_release(&fresh).await.unwrap();
    let now = shared::store::now_ms();
    let tokens = db.collection::<Document>(shared::mongo::CLAIMS);
    for (id, at) in [(&stale, now - 120_000), (&fresh, now)] {
        let token = doc! {"_id": format!("release_tasks/{id}/0"), "at": at};
        tokens.insert_one(token).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    assert_eq!(store.claim_releases(10, lease).await.unwrap(), vec![stale]);
    assert!(store.claim_releases(10, lease).await.unwrap().is_empty());
    m.cleanup().await;
}
