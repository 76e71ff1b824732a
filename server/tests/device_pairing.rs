//! Camera device pairing: one-time codes that expire, long-lived credentials stored only as
//! hashes, rename, re-pairing and revocation that takes effect at once.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};

async fn pair(app: &TestApp, code: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/pair")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"code": code}).to_string()))
        .unwrap();
    let response = app.send(request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn device_me(app: &TestApp, credential: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri("/api/device/me")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {credential}"))
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_code_pairs_one_phone_once() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    let (status, created) = app
        .post(
            "/api/devices",
            json!({"group_id": world.group_a, "name": "現場カメラ1"}),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["pairing"]["code"].as_str().unwrap().to_owned();
    let url = created["pairing"]["url"].as_str().unwrap();
    assert_eq!(url, format!("https://{HOST}/pair?code={code}"));
    let svg = created["pairing"]["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    assert_eq!(created["device"]["paired"], false);

    // Typed in lower case with spaces, as a person might.
    let typed = code.to_lowercase().replace('-', " ");
    let (status, paired) = pair(&app, &typed).await;
    assert_eq!(status, StatusCode::OK, "{paired}");
    assert_eq!(paired["device_name"], "現場カメラ1");
    assert_eq!(paired["group_name"], "Group A");
    let credential = paired["credential"].as_str().unwrap().to_owned();
    assert!(credential.len() >= 43, "256-bit credential");

    let (status, again) = pair(&app, &code).await;
    assert_eq!(
        (status, code_of(&again)),
        (StatusCode::BAD_REQUEST, "pairing_code_invalid"),
        "single use"
    );

    let (status, me) = device_me(&app, &credential).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["device_name"], "現場カメラ1");
    assert_eq!(me["group_id"], world.group_a.to_string());

    // Only the hash is stored.
    let (stored,): (Option<String>,) = sqlx::query_as("SELECT credential_hash FROM devices")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let stored = stored.unwrap();
    assert_ne!(stored, credential);
    assert!(!stored.contains(&credential));
    let (status, list) = app.get("/api/devices", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["devices"][0]["paired"], true);
    assert!(!list.to_string().contains(&credential));
}

fn code_of(body: &Value) -> &str {
    code(body)
}

#[tokio::test]
async fn codes_expire_after_ten_minutes() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    let (_, created) = app
        .post(
            "/api/devices",
            json!({"group_id": world.group_a, "name": "cam"}),
            &admin,
        )
        .await;
    let code = created["pairing"]["code"].as_str().unwrap().to_owned();
    app.clock.advance_secs(10 * 60 + 1);
    let (status, body) = pair(&app, &code).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "pairing_code_invalid")
    );
    // A new code works and the device is the same.
    let id = created["device"]["id"].as_str().unwrap();
    let (status, fresh) = app
        .post(&format!("/api/devices/{id}/pairing"), json!({}), &admin)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, paired) = pair(&app, fresh["pairing"]["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paired["device_id"], id);
}

#[tokio::test]
async fn revocation_is_immediate_and_repairing_replaces_the_credential() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    let (_, created) = app
        .post(
            "/api/devices",
            json!({"group_id": world.group_a, "name": "cam"}),
            &admin,
        )
        .await;
    let id = created["device"]["id"].as_str().unwrap().to_owned();
    let (_, paired) = pair(&app, created["pairing"]["code"].as_str().unwrap()).await;
    let old = paired["credential"].as_str().unwrap().to_owned();

    // Re-pair: the new phone gets a new credential; the old one stops working.
    let (_, fresh) = app
        .post(&format!("/api/devices/{id}/pairing"), json!({}), &admin)
        .await;
    let (status, _) = device_me(&app, &old).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "old credential works until the new code is used"
    );
    let (_, repaired) = pair(&app, fresh["pairing"]["code"].as_str().unwrap()).await;
    let new = repaired["credential"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert_eq!(device_me(&app, &old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(device_me(&app, &new).await.0, StatusCode::OK);

    // Rename shows up for the device.
    let (status, renamed) = app
        .call(
            Method::PATCH,
            &format!("/api/devices/{id}"),
            Some(json!({"name": "倉庫カメラ"})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(device_me(&app, &new).await.1["device_name"], "倉庫カメラ");

    // A code issued before revocation dies with it.
    let (_, pending) = app
        .post(&format!("/api/devices/{id}/pairing"), json!({}), &admin)
        .await;
    let (status, revoked) = app
        .post(&format!("/api/devices/{id}/revoke"), json!({}), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = device_me(&app, &new).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "device_credential_invalid")
    );
    assert_eq!(
        pair(&app, pending["pairing"]["code"].as_str().unwrap())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (status, body) = app
        .post(&format!("/api/devices/{id}/pairing"), json!({}), &admin)
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "device_revoked")
    );
}

#[tokio::test]
async fn forged_and_malformed_credentials_are_refused() {
    let app = TestApp::new().await;
    app.seed().await;
    for credential in [
        "",
        "radev_",
        "radev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "' OR 1=1 --",
        "Bearer",
    ] {
        let (status, body) = device_me(&app, credential).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{credential:?}");
        assert_eq!(code_of(&body), "device_credential_invalid");
    }
    for code in [
        "",
        "AAAA-AAAA-AAAA",
        "'; DROP TABLE devices; --",
        &"A".repeat(10_000),
    ] {
        let (status, _) = pair(&app, code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code:?}");
    }
}

#[tokio::test]
async fn pairing_is_audited() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    let (_, created) = app
        .post(
            "/api/devices",
            json!({"group_id": world.group_a, "name": "cam"}),
            &admin,
        )
        .await;
    pair(&app, "WRONG-CODE-0000").await;
    pair(&app, created["pairing"]["code"].as_str().unwrap()).await;
    let (_, audit) = app.get("/api/audit?action=device.pair", &admin).await;
    let events = audit["events"].as_array().unwrap();
    // The failed attempt has no group, so the group admin sees only their device's success.
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["outcome"], "success");
    assert_eq!(events[0]["actor_kind"], "device");
    let sys = app.login_as(&world.sysadmin).await;
    let (_, audit) = app.get("/api/audit?action=device.pair", &sys).await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 2);
}
