//! The MongoDB store started while its server is unreachable: the service comes up, and the first
//! write creates the indexes before inserting, so the unique email rule holds from the first user.
//! Skipped without `MONGO_TEST_URL`.
#![allow(clippy::unwrap_used)]

use auth_service::domain::{Role, User};
use shared::mongo::MongoOptions;
use shared::store::StoreError;
use std::time::Duration;
use test_support::TestMongo;
use tokio::net::{TcpListener, TcpStream};

/// `host:port` of a single-host `mongodb://` URL.
fn authority(url: &str) -> Option<String> {
    let rest = url.strip_prefix("mongodb://")?;
    let hosts = rest.split(['/', '?']).next()?;
    let host = hosts.rsplit('@').next()?;
    (!host.contains(',')).then(|| host.to_string())
}

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

/// Forwards every connection accepted on `listener` to `target`.
async fn forward(listener: TcpListener, target: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[tokio::test]
async fn indexes_missed_at_startup_are_created_by_the_first_write() {
    let Some(db) = TestMongo::new() else { return };
    let Some(target) = std::env::var("MONGO_TEST_URL")
        .ok()
        .as_deref()
        .and_then(authority)
    else {
        eprintln!("MONGO_TEST_URL is not a single-host mongodb:// URL: skipping");
        db.cleanup().await;
        return;
    };
    // A port with nothing listening yet.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let opts = MongoOptions {
        pool_size: 2,
        server_selection_timeout: Duration::from_millis(500),
    };
    let url = format!("mongodb://127.0.0.1:{port}/{}", db.name);
    let store = auth_service::store::connect(&url, opts).await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // The server becomes reachable on that port.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let proxy = tokio::spawn(forward(listener, target));
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

    proxy.abort();
    db.cleanup().await;
}
