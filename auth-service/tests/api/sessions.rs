//! Refresh rotation and reuse detection, logout (one session and all), verify, internal status.

use crate::{refresh_of, sid_of, spawn_app, token_of};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn refresh_rotates_and_the_old_token_stops_working() {
    let app = spawn_app().await;
    let data = app.register("rot@example.com", "password123").await;
    let first = refresh_of(&data);
    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": first}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second = refresh_of(&r.body["data"]);
    assert_ne!(second, first);
    let access = token_of(&r.body["data"]);
    assert_eq!(sid_of(&access), sid_of(&token_of(&data)));
    let profile = app.get("/api/auth/profile", Some(&access)).await;
    assert_eq!(profile.status, StatusCode::OK);
    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": second}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_refresh_token_ends_the_whole_session() {
    let app = spawn_app().await;
    let data = app.register("reuse@example.com", "password123").await;
    let first = refresh_of(&data);
    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": first}))
        .await;
    let second = refresh_of(&r.body["data"]);
    let newest_access = token_of(&r.body["data"]);

    let replay = app
        .post("/api/auth/refresh", None, json!({"refreshToken": first}))
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.body["code"], "refresh_token_reused");

    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": second}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "invalid_refresh_token");
    for token in [token_of(&data), newest_access] {
        let r = app.get("/api/auth/profile", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let status = app
        .internal_get(&format!("/internal/sessions/{}", sid_of(&token_of(&data))))
        .await;
    assert_eq!(status.body["data"]["revoked"], true);
}

#[tokio::test]
async fn unknown_refresh_tokens_are_401_and_a_missing_one_is_400() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({"refreshToken": "deadbeef"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "invalid_refresh_token");
    assert_eq!(r.body["error"], "Invalid refresh token");
    let r = app.post("/api/auth/refresh", None, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["field"], "refreshToken");
}

#[tokio::test]
async fn logout_revokes_the_access_and_refresh_tokens_of_the_session() {
    let app = spawn_app().await;
    let data = app.register("out@example.com", "password123").await;
    let access = token_of(&data);
    let sid = sid_of(&access);
    let live = app.internal_get(&format!("/internal/sessions/{sid}")).await;
    assert_eq!(live.body["data"], json!({"sid": sid, "revoked": false}));

    let r = app.post("/api/auth/logout", Some(&access), json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"success": true, "message": "Logged out successfully"})
    );

    let r = app.get("/api/auth/profile", Some(&access)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.get("/api/auth/verify", Some(&access)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({"refreshToken": refresh_of(&data)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let ended = app.internal_get(&format!("/internal/sessions/{sid}")).await;
    assert_eq!(ended.body["data"]["revoked"], true);
}

#[tokio::test]
async fn logout_ends_only_the_callers_session_unless_all_is_set() {
    let app = spawn_app().await;
    app.register("many@example.com", "password123").await;
    let a = app.login("many@example.com", "password123").await;
    let b = app.login("many@example.com", "password123").await;
    let c = app.login("many@example.com", "password123").await;

    app.post("/api/auth/logout", Some(&token_of(&a)), json!({}))
        .await;
    let r = app.get("/api/auth/profile", Some(&token_of(&b))).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = app
        .post(
            "/api/auth/logout",
            Some(&token_of(&b)),
            json!({"all": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for session in [&b, &c] {
        let r = app.get("/api/auth/profile", Some(&token_of(session))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app
            .post(
                "/api/auth/refresh",
                None,
                json!({"refreshToken": refresh_of(session)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn logout_needs_a_token_and_validates_its_body() {
    let app = spawn_app().await;
    let r = app.post("/api/auth/logout", None, json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let data = app.register("badout@example.com", "password123").await;
    let r = app
        .post(
            "/api/auth/logout",
            Some(&token_of(&data)),
            json!({"all": "yes"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["message"], "\"all\" must be a boolean");
}

#[tokio::test]
async fn verify_answers_who_a_live_token_belongs_to() {
    let app = spawn_app().await;
    let data = app.register("ver@example.com", "password123").await;
    let r = app.get("/api/auth/verify", Some(&token_of(&data))).await;
    assert_eq!(r.status, StatusCode::OK);
    let id = data["user"]["_id"].clone();
    assert_eq!(
        r.body["data"],
        json!({"userId": id, "_id": id, "role": "user", "email": "ver@example.com"})
    );
    for token in [None, Some("garbage")] {
        let r = app.get("/api/auth/verify", token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body["code"], "token_invalid");
    }
}

#[tokio::test]
async fn internal_session_status_needs_the_internal_token_and_unknown_sids_are_revoked() {
    let app = spawn_app().await;
    let r = app.get("/internal/sessions/abc", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "internal_token_invalid");
    let r = app.internal_get("/internal/sessions/unknown-sid").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["data"],
        json!({"sid": "unknown-sid", "revoked": true})
    );
    // A sid that does not decode (not UTF-8) is a malformed request.
    let r = app.internal_get("/internal/sessions/%FF").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (&r.body["code"], &r.body["error"]),
        (&json!("invalid_id"), &json!("Invalid session id"))
    );
}

#[tokio::test]
async fn logout_with_a_refresh_token_of_another_own_session_ends_that_one_too() {
    let app = spawn_app().await;
    app.register("pair@example.com", "password123").await;
    let a = app.login("pair@example.com", "password123").await;
    let b = app.login("pair@example.com", "password123").await;
    let stranger = app.register("stranger@example.com", "password123").await;
    let body = json!({"refreshToken": refresh_of(&b)});
    let r = app
        .post("/api/auth/logout", Some(&token_of(&a)), body)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/api/auth/profile", Some(&token_of(&b))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Someone else's refresh token is ignored: it cannot be used to end their session.
    let c = app.login("pair@example.com", "password123").await;
    let body = json!({"refreshToken": refresh_of(&stranger)});
    app.post("/api/auth/logout", Some(&token_of(&c)), body)
        .await;
    let r = app
        .get("/api/auth/profile", Some(&token_of(&stranger)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    use auth_service::domain::{RefreshToken, Session};
    let dir = std::env::temp_dir().join(format!("auth-exp-{}", shared::ids::random_token(6)));
    let url = format!("sqlite://{}/auth.db", dir.display());
    let app = crate::spawn_app_with(|env| env.with("DATABASE_URL", url.as_str())).await;
    let data = app.register("expired@example.com", "password123").await;
    let user_id = data["user"]["_id"].as_str().unwrap().to_string();

    let store = auth_service::store::connect(&url, shared::mongo::MongoOptions::default())
        .await
        .unwrap();
    let secret = test_support::test_env()
        .get("JWT_REFRESH_SECRET")
        .unwrap()
        .to_string();
    let (token, token_hash) = auth_service::app::tokens::RefreshTokens::new(&secret).generate();
    let now = shared::store::now_ms();
    let session = Session {
        sid: shared::ids::new_object_id(),
        user_id: user_id.clone(),
        created_at: now - 10_000,
        revoked_at: None,
    };
    let stored = RefreshToken {
        token_hash,
        sid: session.sid.clone(),
        user_id,
        created_at: now - 10_000,
        expires_at: now - 1,
        used_at: None,
    };
    store.create_session(&session, &stored).await.unwrap();

    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": token}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "invalid_refresh_token");
    let _ = std::fs::remove_dir_all(dir);
}
