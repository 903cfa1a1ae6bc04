//! The `UserStore` contract: every check runs against SQLite, and against MongoDB (a fresh database
//! per test) when `MONGO_TEST_URL` is set; the concurrency race runs on SQLite only.
#![allow(clippy::unwrap_used)]

use auth_service::domain::{RefreshToken, Role, Session, User, UserPatch};
use auth_service::store::UserStore;
use shared::mongo::MongoOptions;
use shared::store::{PageRequest, StoreError};

fn user(email: &str, created_at: i64) -> User {
    User {
        id: shared::ids::new_object_id(),
        name: "Test User".into(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=8,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: Role::User,
        is_active: true,
        created_at,
        updated_at: created_at,
    }
}

fn session(user_id: &str) -> Session {
    Session {
        sid: shared::ids::new_object_id(),
        user_id: user_id.into(),
        created_at: 1_000,
        revoked_at: None,
    }
}

fn token(s: &Session, hash: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        sid: s.sid.clone(),
        user_id: s.user_id.clone(),
        created_at: 1_000,
        expires_at: 2_000,
        used_at: None,
    }
}

async fn check_users_are_found_by_id_and_by_email_in_any_case(store: &dyn UserStore) {
    let u = user("jane@example.com", 1);
    store.create_user(&u).await.unwrap();
    assert_eq!(store.find_user(&u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        store.find_user_by_email("JANE@Example.com").await.unwrap(),
        Some(u)
    );
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_user(&shared::ids::new_object_id())
            .await
            .unwrap(),
        None
    );
}

async fn check_a_duplicate_email_in_another_case_is_a_conflict(store: &dyn UserStore) {
    store
        .create_user(&user("dup@example.com", 1))
        .await
        .unwrap();
    let err = store
        .create_user(&user("DUP@example.com", 2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn check_users_are_listed_newest_first_with_a_total(store: &dyn UserStore) {
    for i in 0..5 {
        store
            .create_user(&user(&format!("u{i}@example.com"), i))
            .await
            .unwrap();
    }
    let (page1, total) = store
        .list_users(PageRequest { page: 1, limit: 2 })
        .await
        .unwrap();
    assert_eq!(total, 5);
    let emails: Vec<&str> = page1.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["u4@example.com", "u3@example.com"]);
    let (page3, _) = store
        .list_users(PageRequest { page: 3, limit: 2 })
        .await
        .unwrap();
    assert_eq!(page3.len(), 1);
    assert_eq!(page3[0].email, "u0@example.com");
}

async fn check_update_applies_only_the_given_fields(store: &dyn UserStore) {
    let u = user("patch@example.com", 1);
    store.create_user(&u).await.unwrap();
    let patch = UserPatch {
        role: Some(Role::Admin),
        is_active: None,
    };
    let after = store.update_user(&u.id, patch, 50).await.unwrap().unwrap();
    assert_eq!(
        (after.role, after.is_active, after.updated_at),
        (Role::Admin, true, 50)
    );
    let patch = UserPatch {
        role: None,
        is_active: Some(false),
    };
    let after = store.update_user(&u.id, patch, 60).await.unwrap().unwrap();
    assert_eq!((after.role, after.is_active), (Role::Admin, false));
    let unknown = shared::ids::new_object_id();
    assert_eq!(store.update_user(&unknown, patch, 70).await.unwrap(), None);
}

async fn check_a_session_is_revoked_once(store: &dyn UserStore) {
    let s = session("u1");
    store.create_session(&s, &token(&s, "h1")).await.unwrap();
    assert_eq!(store.find_session(&s.sid).await.unwrap(), Some(s.clone()));
    assert!(store.revoke_session(&s.sid, 5).await.unwrap());
    assert!(!store.revoke_session(&s.sid, 6).await.unwrap());
    let after = store.find_session(&s.sid).await.unwrap().unwrap();
    assert_eq!(after.revoked_at, Some(5));
    assert_eq!(store.find_session("unknown").await.unwrap(), None);
}

async fn check_revoking_a_users_sessions_ends_only_their_live_ones(store: &dyn UserStore) {
    let (a, b, ended, other) = (session("ua"), session("ua"), session("ua"), session("ub"));
    for (i, s) in [&a, &b, &ended, &other].into_iter().enumerate() {
        store
            .create_session(s, &token(s, &format!("t{i}")))
            .await
            .unwrap();
    }
    store.revoke_session(&ended.sid, 1).await.unwrap();
    let mut sids = store.revoke_user_sessions("ua", 9).await.unwrap();
    sids.sort();
    let mut expected = vec![a.sid.clone(), b.sid.clone()];
    expected.sort();
    assert_eq!(sids, expected);
    assert!(store
        .find_session(&other.sid)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert_eq!(
        store
            .find_session(&ended.sid)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(1)
    );
}

async fn check_a_refresh_token_is_marked_used_only_once(store: &dyn UserStore) {
    let s = session("u2");
    store.create_session(&s, &token(&s, "first")).await.unwrap();
    let second = token(&s, "second");
    store.insert_refresh_token(&second).await.unwrap();
    assert_eq!(
        store.find_refresh_token("second").await.unwrap(),
        Some(second)
    );
    assert!(store.mark_refresh_token_used("first", 10).await.unwrap());
    assert!(!store.mark_refresh_token_used("first", 11).await.unwrap());
    let used = store.find_refresh_token("first").await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(10));
    assert!(!store.mark_refresh_token_used("missing", 12).await.unwrap());
    assert_eq!(store.find_refresh_token("missing").await.unwrap(), None);
}

async fn check_concurrent_use_of_a_refresh_token_has_one_winner(
    store: std::sync::Arc<dyn UserStore>,
) {
    let store = &*store;
    let s = session("u3");
    store.create_session(&s, &token(&s, "race")).await.unwrap();
    let attempts = (0..8).map(|i| store.mark_refresh_token_used("race", i));
    let results = futures_util::future::join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
}

async fn check_the_database_answers_a_ping(store: &dyn UserStore) {
    store.ping().await.unwrap();
}

async fn check_an_email_is_looked_up_trimmed(store: &dyn UserStore) {
    let u = user("trim@example.com", 1);
    store.create_user(&u).await.unwrap();
    let found = store
        .find_user_by_email("  Trim@Example.COM ")
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.id), Some(u.id));
}

async fn check_an_empty_store_lists_no_users(store: &dyn UserStore) {
    let (users, total) = store
        .list_users(PageRequest { page: 1, limit: 10 })
        .await
        .unwrap();
    assert!(users.is_empty());
    assert_eq!(total, 0);
}

async fn check_users_created_in_the_same_millisecond_page_without_overlap(store: &dyn UserStore) {
    let mut ids = Vec::new();
    for i in 0..4 {
        let u = user(&format!("same{i}@example.com"), 7);
        ids.push(u.id.clone());
        store.create_user(&u).await.unwrap();
    }
    let mut seen = Vec::new();
    for page in 1..=2 {
        let (users, total) = store
            .list_users(PageRequest { page, limit: 2 })
            .await
            .unwrap();
        assert_eq!(total, 4);
        seen.extend(users.into_iter().map(|u| u.id));
    }
    // Ties on created_at are broken by id, descending, in both backends.
    ids.sort();
    ids.reverse();
    assert_eq!(seen, ids);
}

async fn check_revoking_a_users_sessions_twice_ends_nothing_the_second_time(store: &dyn UserStore) {
    let s = session("uc");
    store.create_session(&s, &token(&s, "tc")).await.unwrap();
    assert_eq!(
        store.revoke_user_sessions("uc", 3).await.unwrap(),
        vec![s.sid.clone()]
    );
    assert!(store
        .revoke_user_sessions("uc", 4)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .revoke_user_sessions("nobody", 5)
        .await
        .unwrap()
        .is_empty());
    let after = store.find_session(&s.sid).await.unwrap().unwrap();
    assert_eq!(after.revoked_at, Some(3));
    assert!(!store.revoke_session(&s.sid, 6).await.unwrap());
}

async fn check_a_session_whose_first_token_is_refused_is_not_kept(store: &dyn UserStore) {
    let first = session("ud");
    store
        .create_session(&first, &token(&first, "taken"))
        .await
        .unwrap();
    let second = session("ud");
    let err = store
        .create_session(&second, &token(&second, "taken"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.find_session(&second.sid).await.unwrap(), None);
    let kept = store.find_refresh_token("taken").await.unwrap().unwrap();
    assert_eq!(kept.sid, first.sid);
}

async fn check_a_duplicate_refresh_token_is_a_conflict(store: &dyn UserStore) {
    let s = session("ue");
    store.create_session(&s, &token(&s, "once")).await.unwrap();
    let err = store
        .insert_refresh_token(&token(&s, "once"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn check_a_duplicate_user_id_is_a_conflict(store: &dyn UserStore) {
    let u = user("first@example.com", 1);
    store.create_user(&u).await.unwrap();
    let mut again = user("second@example.com", 2);
    again.id = u.id.clone();
    let err = store.create_user(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.find_user(&u.id).await.unwrap().unwrap().email,
        "first@example.com"
    );
}

async fn connect(url: &str) -> std::sync::Arc<dyn UserStore> {
    auth_service::store::connect(url, MongoOptions::default())
        .await
        .unwrap()
}

test_support::store_contract!(
    connect: connect,
    checks: [
        check_users_are_found_by_id_and_by_email_in_any_case,
        check_a_duplicate_email_in_another_case_is_a_conflict,
        check_users_are_listed_newest_first_with_a_total,
        check_update_applies_only_the_given_fields,
        check_a_session_is_revoked_once,
        check_revoking_a_users_sessions_ends_only_their_live_ones,
        check_a_refresh_token_is_marked_used_only_once,
        check_the_database_answers_a_ping,
        check_an_email_is_looked_up_trimmed,
        check_an_empty_store_lists_no_users,
        check_users_created_in_the_same_millisecond_page_without_overlap,
        check_revoking_a_users_sessions_twice_ends_nothing_the_second_time,
        check_a_session_whose_first_token_is_refused_is_not_kept,
        check_a_duplicate_refresh_token_is_a_conflict,
        check_a_duplicate_user_id_is_a_conflict,
    ],
    sqlite_only: [check_concurrent_use_of_a_refresh_token_has_one_winner],
);

#[tokio::test]
async fn unknown_schemes_are_refused_naming_the_supported_ones() {
    let err = auth_service::store::connect("postgres://x", MongoOptions::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unsupported"), "{err}");
    assert!(err.to_string().contains("mongodb://"), "{err}");
}

#[tokio::test]
async fn an_unreachable_mongodb_still_connects_and_then_answers_unavailable() {
    let opts = MongoOptions {
        pool_size: 2,
        server_selection_timeout: std::time::Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let store = auth_service::store::connect("mongodb://127.0.0.1:1/x", opts)
        .await
        .unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store
        .create_user(&user("down@example.com", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}
