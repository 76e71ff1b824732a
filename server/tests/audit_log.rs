//! The audit log records who did what, when, from where and with what outcome; admins filter
//! and export it, group admins only for their own group.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::json;

#[tokio::test]
async fn events_carry_every_field() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    let (status, created) = app
        .post(
            "/api/devices",
            json!({"group_id": world.group_a, "name": "cam"}),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.get("/api/audit?action=device.create", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let event = &body["events"][0];
    assert_eq!(event["actor_kind"], "user");
    assert_eq!(event["actor_id"], world.admin_a.id.to_string());
    assert_eq!(event["actor_label"], "admin-a");
    assert_eq!(event["group_id"], world.group_a.to_string());
    assert_eq!(event["target"], created["device"]["id"]);
    assert_eq!(event["outcome"], "success");
    assert_eq!(
        event["at"], "2026-11-23T00:00:00.000Z",
        "UTC in storage and API"
    );
}

#[tokio::test]
async fn every_account_action_is_recorded() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let sys = app.login_as(&world.sysadmin).await;
    app.try_login("supporter-a", "Wrong-pass-1").await;
    let (_, group) = app.post("/api/groups", json!({"name": "G3"}), &sys).await;
    let gid = group["id"].as_str().unwrap();
    app.call(
        axum::http::Method::PATCH,
        &format!("/api/groups/{gid}"),
        Some(json!({"name": "G4"})),
        Some(&sys),
    )
    .await;
    let (_, user) = app
        .post("/api/users", json!({"login_id": "user1", "display_name": "U", "role": "supporter", "group_id": gid, "password": "Initial-pass-77"}), &sys)
        .await;
    let uid = user["id"].as_str().unwrap();
    app.call(
        axum::http::Method::PATCH,
        &format!("/api/users/{uid}"),
        Some(json!({"display_name": "U2"})),
        Some(&sys),
    )
    .await;
    app.post(
        &format!("/api/users/{uid}/reset-password"),
        json!({"new_password": "Reset-pass-123"}),
        &sys,
    )
    .await;
    app.post(&format!("/api/users/{uid}/unlock"), json!({}), &sys)
        .await;
    app.call(
        axum::http::Method::DELETE,
        &format!("/api/users/{uid}"),
        None,
        Some(&sys),
    )
    .await;
    let (_, dev) = app
        .post("/api/devices", json!({"group_id": gid, "name": "c"}), &sys)
        .await;
    let did = dev["device"]["id"].as_str().unwrap();
    app.call(
        axum::http::Method::PATCH,
        &format!("/api/devices/{did}"),
        Some(json!({"name": "c2"})),
        Some(&sys),
    )
    .await;
    app.post(&format!("/api/devices/{did}/pairing"), json!({}), &sys)
        .await;
    app.post(&format!("/api/devices/{did}/revoke"), json!({}), &sys)
        .await;
    app.call(
        axum::http::Method::DELETE,
        &format!("/api/devices/{did}"),
        None,
        Some(&sys),
    )
    .await;
    app.call(
        axum::http::Method::DELETE,
        &format!("/api/groups/{gid}"),
        None,
        Some(&sys),
    )
    .await;
    app.post(
        "/api/auth/password",
        json!({"current_password": PASSWORD, "new_password": "Changed-pass-55"}),
        &sys,
    )
    .await;
    app.post("/api/auth/logout", json!({}), &sys).await;
    let actions: Vec<String> = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.outcome))
        .collect();
    for expected in [
        "auth.login:success",
        "auth.login:failure",
        "group.create:success",
        "group.update:success",
        "user.create:success",
        "user.update:success",
        "auth.password_reset:success",
        "user.unlock:success",
        "user.delete:success",
        "device.create:success",
        "device.update:success",
        "device.pairing_code:success",
        "device.revoke:success",
        "device.delete:success",
        "group.delete:success",
        "auth.password_change:success",
        "auth.logout:success",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "missing {expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn filters_narrow_and_group_admins_see_only_their_group() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    app.login_as(&world.supporter_a).await;
    app.clock.advance_secs(86_400);
    app.login_as(&world.supporter_b).await;
    app.try_login("supporter-b", "Wrong-pass-1").await;
    let sys = app.login_as(&world.sysadmin).await;
    let (_, all) = app.get("/api/audit?action=auth.login", &sys).await;
    assert_eq!(all["events"].as_array().unwrap().len(), 4);
    let (_, failed) = app
        .get("/api/audit?action=auth.login&outcome=failure", &sys)
        .await;
    assert_eq!(failed["events"].as_array().unwrap().len(), 1);
    let (_, by_actor) = app.get("/api/audit?actor=supporter-b", &sys).await;
    assert_eq!(by_actor["events"].as_array().unwrap().len(), 2);
    // Dates are taken in the display time zone (JST): the first login was on 2026-11-23 09:00 JST.
    let (_, day) = app
        .get(
            "/api/audit?action=auth.login&from=2026-11-23&to=2026-11-24",
            &sys,
        )
        .await;
    assert_eq!(day["events"].as_array().unwrap().len(), 1, "{day}");
    let (_, page) = app.get("/api/audit?limit=2", &sys).await;
    let last = page["events"][1]["id"].as_i64().unwrap();
    let (_, next) = app
        .get(&format!("/api/audit?limit=2&before={last}"), &sys)
        .await;
    assert!(
        next["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_i64().unwrap() < last)
    );

    let admin_b = app.login_as(&world.admin_b).await;
    let (_, mine) = app.get("/api/audit", &admin_b).await;
    let events = mine["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e["group_id"] == world.group_b.to_string()),
        "{mine}"
    );
    let (status, _) = app
        .get(&format!("/api/audit?group_id={}", world.group_a), &admin_b)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn csv_export_is_excel_friendly_and_scoped() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    app.try_login("=cmd|' /C calc'!A0", "x").await;
    let sys = app.login_as(&world.sysadmin).await;
    let request = Request::builder()
        .uri("/api/audit.csv?action=auth.login")
        .header(header::HOST, HOST)
        .header(header::COOKIE, &sys.cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,time_utc,time_local,actor_kind")
    );
    assert!(
        text.contains("JST"),
        "local time column in the display zone"
    );
    assert!(
        text.contains("'=cmd|"),
        "formula cells are neutralised: {text}"
    );
    assert_eq!(text.lines().count(), 3, "header + failure + admin login");
}
