//! The shared MongoDB helpers against a real server (`MONGO_TEST_URL`; FerretDB in CI).
#![allow(clippy::unwrap_used)]

use mongodb::bson::doc;
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use shared::mongo::{connect, ping, MongoOptions};
use shared::store::StoreError;
use test_support::TestMongo;

#[tokio::test]
async fn connect_pings_and_unique_violations_are_conflicts() {
    let Some(m) = TestMongo::new() else { return };
    let db = connect(&m.url, "unused", "test", MongoOptions::default())
        .await
        .unwrap();
    assert_eq!(db.name(), m.name);
    ping(&db).await.unwrap();
    let coll = db.collection::<mongodb::bson::Document>("things");
    coll.create_index(
        IndexModel::builder()
            .keys(doc! {"sku": 1})
            .options(IndexOptions::builder().unique(true).build())
            .build(),
    )
    .await
    .unwrap();
    coll.insert_one(doc! {"_id": "a", "sku": "X"})
        .await
        .unwrap();
    let err = StoreError::from(
        coll.insert_one(doc! {"_id": "b", "sku": "X"})
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    m.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_within_the_selection_timeout() {
    let opts = MongoOptions {
        pool_size: 2,
        server_selection_timeout: std::time::Duration::from_millis(300),
    };
    let db = connect("mongodb://127.0.0.1:1/x", "x", "test", opts)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = ping(&db).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}
