//! Product bodies over HTTP: every bad field listed, bad bodies as JSON 4xx (never 500), encrypted
//! bodies decrypted before validation, operator keys and control characters refused, huge values
//! refused quickly.

use crate::helpers::{product_body, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::payload::{MacPolicy, PayloadCipher};

#[tokio::test]
async fn invalid_product_lists_every_bad_field() {
    let app = spawn_app().await;
    let admin = app.admin();
    let body = json!({"name": "X", "price": -1, "stock": 1.5, "images": ["ftp://x"], "isActive": "yes", "extra": 1});
    let r = app
        .call(Method::POST, "/api/products", Some(&admin), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "validation_failed");
    assert_eq!(r.body["error"], "Validation failed");
    let fields: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "description",
            "price",
            "stock",
            "category",
            "sku",
            "images.0",
            "isActive",
            "extra"
        ]
    );
    assert_eq!(
        r.body["errors"][2]["message"],
        "\"price\" must be greater than or equal to 0"
    );
    assert_eq!(r.body["errors"][8]["message"], "\"extra\" is not allowed");
}

#[tokio::test]
async fn bad_bodies_get_json_4xx_not_500() {
    let app = spawn_app().await;
    let admin = app.admin();
    let url = format!("{}/api/products", app.url);
    let res = app
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = app
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let r = app
        .call(Method::POST, "/api/products", Some(&admin), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an empty body reports required fields"
    );
    assert_eq!(r.body["errors"][0]["message"], "\"name\" is required");
}

#[tokio::test]
async fn encrypted_post_body_is_decrypted_before_validation() {
    let app = spawn_app().await;
    let admin = app.admin();
    let cipher = PayloadCipher::new(test_support::ENCRYPTION_KEY, MacPolicy::Optional).unwrap();
    let plain = product_body("ENC-1").to_string();
    let authenticated = json!({"encrypted": cipher.encrypt(plain.as_bytes())});
    let r = app
        .call(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(authenticated),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["sku"], "ENC-1");
    // The legacy form (no MAC) decrypts too: same SKU, so the store answers 409.
    let legacy = json!({"encrypted": cipher.encrypt_legacy(plain.as_bytes())});
    let r = app
        .call(Method::POST, "/api/products", Some(&admin), Some(legacy))
        .await;
    assert_eq!(r.body["code"], "sku_taken");
    let r = app
        .call(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(json!({"encrypted": "00:11"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "invalid_payload");
}

#[tokio::test]
async fn operator_keys_dotted_keys_and_control_characters_are_400_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin();
    let cases = [
        (
            "metadata",
            json!({"$where": "sleep(1000)"}),
            "metadata.$where",
        ),
        (
            "metadata",
            json!({"specs": {"a.b": 1}}),
            "metadata.specs.a.b",
        ),
        (
            "metadata",
            json!({"tags": ["ok", "nul\u{0}"]}),
            "metadata.tags.1",
        ),
        ("name", json!("Lap\u{0}top"), "name"),
        ("category", json!("Elec\ttronics"), "category"),
        ("description", json!("bell\u{7}"), "description"),
    ];
    for (i, (key, value, field)) in cases.into_iter().enumerate() {
        let mut body = product_body(&format!("CTRL-{i}"));
        body[key] = value;
        let r = app
            .call(Method::POST, "/api/products", Some(&admin), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.body);
        assert_eq!(r.body["code"], "validation_failed", "{field}");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    let listed = app.get("/api/products", None).await;
    assert_eq!(listed.body["pagination"]["total"], 0, "nothing was stored");
    // Tab and newline belong in descriptions; `$` inside a key is fine.
    let mut body = product_body("CTRL-OK");
    body["description"] = json!("Line one\n\tLine two");
    body["metadata"] = json!({"price$": {"usd": 1}});
    let p = app.create(body).await;
    assert_eq!(p["description"], "Line one\n\tLine two");
    assert_eq!(p["metadata"], json!({"price$": {"usd": 1}}));
}

#[tokio::test]
async fn a_huge_array_where_a_string_belongs_is_a_quick_400() {
    let app = spawn_app().await;
    let body = format!(r#"{{"name":[{}1]}}"#, "1,".repeat(500_000));
    let res = app
        .client
        .post(format!("{}/api/products", app.url))
        .bearer_auth(app.admin())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "name");
}
