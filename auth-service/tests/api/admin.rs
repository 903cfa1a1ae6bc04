//! User administration: listing, role and active-flag changes, and their effect on sessions.

use crate::{refresh_of, spawn_app, token_of};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn admins_list_users_newest_first_with_pagination() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.register(&format!("list{i}@example.com"), "password123")
            .await;
    }
    let admin = app.admin_token().await;
    let r = app
        .get("/api/auth/users?page=1&limit=2", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["pagination"],
        json!({"page": 1, "limit": 2, "total": 4, "pages": 2})
    );
    let users = r.body["data"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert!(users
        .iter()
        .all(|u| u.get("passwordHash").is_none() && u["_id"].is_string()));
    let r = app.get("/api/auth/users?limit=0", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn non_admins_get_403_on_user_administration() {
    let app = spawn_app().await;
    let data = app.register("plain@example.com", "password123").await;
    let token = token_of(&data);
    let r = app.get("/api/auth/users", Some(&token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let id = data["user"]["_id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/auth/users/{id}"),
            Some(&token),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/api/auth/users", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_login_then_gives_403() {
    let app = spawn_app().await;
    let data = app.register("bad@example.com", "password123").await;
    let id = data["user"]["_id"].as_str().unwrap();
    let admin = app.admin_token().await;
    let r = app
        .patch(
            &format!("/api/auth/users/{id}"),
            Some(&admin),
            json!({"isActive": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["isActive"], false);

    let r = app.get("/api/auth/profile", Some(&token_of(&data))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({"refreshToken": refresh_of(&data)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "bad@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["code"], "account_disabled");
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "bad@example.com", "password": "wrong-pass"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    app.patch(
        &format!("/api/auth/users/{id}"),
        Some(&admin),
        json!({"isActive": true}),
    )
    .await;
    app.login("bad@example.com", "password123").await;
}

#[tokio::test]
async fn promoting_a_user_ends_their_sessions_and_new_tokens_carry_the_role() {
    let app = spawn_app().await;
    let data = app.register("promo@example.com", "password123").await;
    let id = data["user"]["_id"].as_str().unwrap();
    let admin = app.admin_token().await;
    let r = app
        .patch(
            &format!("/api/auth/users/{id}"),
            Some(&admin),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.body["data"]["role"], "admin");
    let r = app.get("/api/auth/profile", Some(&token_of(&data))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let fresh = app.login("promo@example.com", "password123").await;
    let r = app.get("/api/auth/users", Some(&token_of(&fresh))).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_cannot_disable_or_demote_themselves() {
    let app = spawn_app().await;
    let login = app.login(crate::ADMIN_EMAIL, crate::ADMIN_PASSWORD).await;
    let admin = token_of(&login);
    let id = login["user"]["_id"].as_str().unwrap();
    for body in [json!({"isActive": false}), json!({"role": "user"})] {
        let r = app
            .patch(&format!("/api/auth/users/{id}"), Some(&admin), body)
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.body["code"], "self_modification_forbidden");
    }
    let r = app.get("/api/auth/profile", Some(&admin)).await;
    assert_eq!(r.body["data"]["role"], "admin");
}

#[tokio::test]
async fn patching_answers_404_for_unknown_users_and_400_for_bad_ids_and_bodies() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .patch(
            "/api/auth/users/64b7f0c2a1b2c3d4e5f60718",
            Some(&admin),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "user_not_found");
    let r = app
        .patch(
            "/api/auth/users/not-an-id",
            Some(&admin),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "invalid_id");
    let data = app.register("body@example.com", "password123").await;
    let path = format!("/api/auth/users/{}", data["user"]["_id"].as_str().unwrap());
    let r = app.patch(&path, Some(&admin), json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "validation_failed");
    let r = app
        .patch(
            &path,
            Some(&admin),
            json!({"role": "owner", "isActive": "no", "name": "x"}),
        )
        .await;
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 3);
}
