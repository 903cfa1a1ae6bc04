//! The MongoDB store started while its server is unreachable: the service comes up, and the first
//! write creates the indexes before inserting, so the unique email rule holds from the first user.
//! Skipped without `MONGO_TEST_URL`.
#![allow(clippy::unwrap_used)]

use auth_service::domain::{Role, User};
use shared::mongo::MongoOptions;
use shared::store::StoreError;
use std::time::Duration;
use test_support::{authority_of, Forwarder, TestMongo};

fn user(email: &str) -> User {
    User {
        id: shared::ids::new_object_id(),
        name: "Late".into(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=8,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: Role::User,
        is_active: true,
        created_at: 1,
        updated_at: 1,
    }
}

#[tokio::test]
async fn indexes_missed_at_startup_are_created_by_the_first_write() {
    let Some(db) = TestMongo::new() else { return };
    // A forwarder to the server, cut until the store has started.
    let mut proxy = Forwarder::start(&authority_of(&db.url)).await;
    proxy.cut().await;
    let opts = MongoOptions {
        pool_size: 2,
        server_selection_timeout: Duration::from_millis(500),
    };
    let url = format!("mongodb://{}/{}", proxy.addr, db.name);
    let store = auth_service::store::connect(&url, opts).await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // The server becomes reachable on that port.
    proxy.restore().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server never became reachable"
        );
    }

    store.create_user(&user("late@example.com")).await.unwrap();
    let err = store
        .create_user(&user("LATE@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    proxy.cut().await;
    db.cleanup().await;
}
