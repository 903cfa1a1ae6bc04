//! The MongoDB user store creates the index each of its queries needs: the fields a query filters
//! on, then the fields it sorts by (the SQLite plans are checked in the store's unit tests). Runs
//! when `MONGO_TEST_URL` is set (a fresh database), and must under `CI=true`.
#![allow(clippy::unwrap_used)]

use mongodb::bson::doc;
use shared::mongo::MongoOptions;
use test_support::indexes::assert_mongo_indexes;

#[tokio::test]
async fn every_mongo_list_and_lookup_has_its_index() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    auth_service::store::connect(&db.url, MongoOptions::default())
        .await
        .unwrap();
    // The email lookup (unique, lowercased) and the user list, newest first.
    let users = [doc! {"email_lc": 1}, doc! {"created_at": -1, "_id": -1}];
    assert_mongo_indexes(&db.url, "users", &users).await;
    // Ending every session of a user.
    assert_mongo_indexes(&db.url, "sessions", &[doc! {"user_id": 1}]).await;
    // Ending a session's refresh tokens.
    assert_mongo_indexes(&db.url, "refresh_tokens", &[doc! {"sid": 1}]).await;
    // Created without names, they carry the server's default ones, which is how a restart knows
    // them (`IndexSpec::server_name` gives the same, by its unit test)...
    let mut names = test_support::indexes::mongo_index_names(&db.url, "users").await;
    names.sort();
    assert_eq!(names, ["_id_", "created_at_-1__id_-1", "email_lc_1"]);
    // ...and leaves them as they are.
    let before = test_support::indexes::mongo_index_keys(&db.url, "users").await;
    let store = auth_service::store::connect(&db.url, MongoOptions::default())
        .await
        .unwrap();
    store.ping().await.unwrap();
    assert_eq!(
        test_support::indexes::mongo_index_keys(&db.url, "users").await,
        before
    );
    db.cleanup().await;
}
