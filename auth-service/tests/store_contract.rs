//! The `UserStore` contract: every check runs against each backend (SQLite now; MongoDB will join
//! the same suite).
#![allow(clippy::unwrap_used)]

use auth_service::domain::{RefreshToken, Role, Session, User, UserPatch};
use auth_service::store::UserStore;
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

async fn check_concurrent_use_of_a_refresh_token_has_one_winner(store: &dyn UserStore) {
    let s = session("u3");
    store.create_session(&s, &token(&s, "race")).await.unwrap();
    let attempts = (0..8).map(|i| store.mark_refresh_token_used("race", i));
    let results = futures_util::future::join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
}

async fn check_the_database_answers_a_ping(store: &dyn UserStore) {
    store.ping().await.unwrap();
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = auth_service::store::connect("sqlite::memory:").await.unwrap();
                    super::$check(store.as_ref()).await;
                }
            )*
        }
    };
}

contract!(
    check_users_are_found_by_id_and_by_email_in_any_case,
    check_a_duplicate_email_in_another_case_is_a_conflict,
    check_users_are_listed_newest_first_with_a_total,
    check_update_applies_only_the_given_fields,
    check_a_session_is_revoked_once,
    check_revoking_a_users_sessions_ends_only_their_live_ones,
    check_a_refresh_token_is_marked_used_only_once,
    check_concurrent_use_of_a_refresh_token_has_one_winner,
    check_the_database_answers_a_ping,
);

#[tokio::test]
async fn mongodb_urls_answer_not_built_yet_and_unknown_schemes_are_refused() {
    let err = auth_service::store::connect("mongodb://localhost/auth")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("MongoDB support is not built yet"));
    let err = auth_service::store::connect("postgres://x")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unsupported"));
}
