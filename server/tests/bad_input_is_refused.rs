//! Malformed, oversized and hostile input gets a clear 4xx JSON error, is stored verbatim when
//! it is legitimate text, and never crashes the server.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};

async fn raw(
    app: &TestApp,
    session: &Session,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
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
async fn malformed_bodies_get_clear_errors() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let s = app.login_as(&world.sysadmin).await;
    let json_type = "application/json";
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "truncated JSON",
            json_type,
            b"{\"name\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "not JSON",
            json_type,
            b"name=x".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "invalid UTF-8",
            json_type,
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "unknown field",
            json_type,
            br#"{"name": "x", "admin": true}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "wrong type",
            json_type,
            br#"{"name": 42}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "missing field",
            json_type,
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "empty name",
            json_type,
            br#"{"name": "   "}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "absurd length",
            json_type,
            format!("{{\"name\": \"{}\"}}", "x".repeat(5000)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "control characters",
            json_type,
            br#"{"name": "a\u0000b"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "oversized body",
            json_type,
            format!("{{\"name\": \"{}\"}}", "x".repeat(200_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "wrong content type",
            "text/plain",
            br#"{"name": "x"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (name, content_type, body, status, error) in cases {
        let (got, json) = raw(&app, &s, Method::POST, "/api/groups", content_type, body).await;
        assert_eq!(got, status, "{name}: {json}");
        assert_eq!(code(&json), error, "{name}: {json}");
        assert!(
            json["error"]["message_ja"].is_string(),
            "{name}: bilingual message"
        );
    }
    assert_eq!(
        app.db.list_groups().await.unwrap().len(),
        2,
        "nothing was created"
    );
}

#[tokio::test]
async fn malformed_ids_and_queries_get_clear_errors() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let s = app.login_as(&world.sysadmin).await;
    for path in [
        "/api/users/not-a-uuid/unlock",
        "/api/users/'%20OR%201=1--/unlock",
        "/api/devices/..%2F..%2Fetc%2Fpasswd/revoke",
    ] {
        let (status, body) = app.post(path, json!({}), &s).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(code(&body), "invalid_input");
    }
    for path in [
        "/api/users?group_id=nope",
        "/api/audit?from=yesterday",
        "/api/audit?limit=0",
        "/api/audit?limit=99999999",
        "/api/audit?unknown=1",
    ] {
        let (status, body) = app.get(path, &s).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    let (status, body) = app.get("/api/no/such/thing", &s).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "route_not_found")
    );
    let (status, body) = app
        .call(Method::PUT, "/api/groups", Some(json!({})), Some(&s))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn injection_strings_are_stored_as_plain_text() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let s = app.login_as(&world.sysadmin).await;
    let hostile = [
        "'; DROP TABLE users; --",
        "\" OR \"1\"=\"1",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "${jndi:ldap://x}",
        "現場'); DELETE FROM groups; --",
    ];
    for (i, text) in hostile.iter().enumerate() {
        let (status, body) = app.post("/api/groups", json!({"name": text}), &s).await;
        assert_eq!(status, StatusCode::CREATED, "{text}: {body}");
        assert_eq!(body["name"], *text, "stored verbatim");
        let (status, body) = app
            .post(
                "/api/users",
                json!({"login_id": format!("inj{i}"), "display_name": text, "role": "supporter",
                    "group_id": world.group_a, "password": "Initial-pass-77"}),
                &s,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{text}: {body}");
        assert_eq!(body["display_name"], *text);
    }
    // The tables are intact.
    assert_eq!(app.db.list_groups().await.unwrap().len(), 2 + hostile.len());
    assert!(app.db.count_users().await.unwrap() >= 5 + hostile.len() as i64);
    // Injection in the login ID is just a failed login.
    let (_, status, _) = app.try_login("' OR '1'='1", "' OR '1'='1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A hostile login ID in the audit filter is just a filter value.
    let (status, body) = app.get("/api/audit?actor=%27%20OR%201%3D1--", &s).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn absurd_credentials_fail_quickly_and_cleanly() {
    let app = TestApp::new().await;
    app.seed().await;
    let huge = "x".repeat(30_000);
    let (_, status, body) = app.try_login(&huge, &huge).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let oversized = "x".repeat(100_000);
    let (_, status, body) = app.try_login(&oversized, "x").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&body), "payload_too_large");
    let (_, status, _) = app.try_login("", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
