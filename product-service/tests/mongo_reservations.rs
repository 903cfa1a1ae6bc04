//! MongoDB-only reservation recovery (skipped without `MONGO_TEST_URL`): a `pending` claim is the
//! Mongo store's stand-in for SQLite's transaction, so what happens when its owner dies is
//! checked here by writing such a claim directly.
#![allow(clippy::unwrap_used)]

use mongodb::bson::{doc, Document};
use product_service::domain::{NewProduct, ReservationLine};
use product_service::store::{connect, ProductStore, ReserveError};
use shared::mongo::MongoOptions;
use shared::store::{now_ms, StoreError};
use test_support::TestMongo;

const ORDER: &str = "00000000000000000000abc1";

async fn setup(db: &TestMongo) -> (std::sync::Arc<dyn ProductStore>, String, mongodb::Database) {
    let store = connect(&db.url, MongoOptions::default()).await.unwrap();
    let p = store
        .create(NewProduct {
            name: "Lamp".into(),
            description: "A lamp".into(),
            price_cents: 4500,
            stock: 10,
            category: "Home".into(),
            sku: "LAMP-1".into(),
            images: vec![],
            is_active: true,
            metadata: None,
        })
        .await
        .unwrap();
    let raw = shared::mongo::connect(&db.url, "unused", "test", MongoOptions::default())
        .await
        .unwrap();
    (store, p.id, raw)
}

/// What a call that died after taking 3 units would leave behind, last touched at `updated_at`.
async fn leave_pending_claim(raw: &mongodb::Database, product_id: &str, updated_at: i64) {
    raw.collection::<Document>("products")
        .update_one(doc! {"_id": product_id}, doc! {"$inc": {"stock": -3}})
        .await
        .unwrap();
    let item =
        doc! {"product_id": product_id, "name": "Lamp", "price_cents": 4500_i64, "quantity": 3_i64};
    raw.collection::<Document>("reservations")
        .insert_one(doc! {"_id": ORDER, "status": "pending", "claim": "dead", "items": [item], "created_at": updated_at, "updated_at": updated_at})
        .await
        .unwrap();
}

fn line(id: &str, quantity: i64) -> ReservationLine {
    ReservationLine {
        product_id: id.into(),
        quantity,
    }
}

#[tokio::test]
async fn a_stale_pending_claim_is_undone_and_the_order_can_reserve_again() {
    let Some(db) = TestMongo::new() else { return };
    let (store, id, raw) = setup(&db).await;
    leave_pending_claim(&raw, &id, now_ms() - 60_000).await;
    assert!(
        store.reservation(ORDER).await.unwrap().is_none(),
        "pending is not a reservation"
    );

    let reserved = store.reserve(ORDER, &[line(&id, 2)]).await.unwrap();

    assert!(reserved.created);
    assert_eq!(reserved.reservation.items[0].quantity, 2);
    let stock = store.get(&id).await.unwrap().unwrap().fields.stock;
    assert_eq!(
        stock, 8,
        "the dead claim's 3 units came back and 2 were taken"
    );
    assert_eq!(
        store.reservation(ORDER).await.unwrap(),
        Some(reserved.reservation)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_live_pending_claim_makes_other_calls_answer_unavailable_without_touching_stock() {
    let Some(db) = TestMongo::new() else { return };
    let (store, id, raw) = setup(&db).await;
    leave_pending_claim(&raw, &id, now_ms()).await;

    let err = store.release(ORDER).await.unwrap_err();

    assert!(
        matches!(err, ReserveError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().fields.stock,
        7,
        "nothing was put back"
    );
    db.cleanup().await;
}
