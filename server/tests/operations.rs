//! Health, readiness, metrics, security headers on every response, and the OpenAPI document
//! checked against the real routes.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::Value;

async fn get_raw(app: &TestApp, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::builder()
        .uri(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    let (status, _, body) = get_raw(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("ok"));
    let (status, _, body) = get_raw(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    let ready: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["object_store"], "ok");
    assert_eq!(
        ready["live"], "ok",
        "signaling hub and media worker are running"
    );
}

#[tokio::test]
async fn readiness_fails_when_storage_is_gone() {
    let app = TestApp::new().await;
    // Local store: replace its directory by a file, so nothing can be written there. (The S3
    // store's reachability is exercised by the outage test.)
    if let remote_assist::storage::objects::ObjectStore::Local(local) = &app.state.store {
        let dir = local.root().to_owned();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, b"not a directory").unwrap();
        let (status, _, body) = get_raw(&app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let ready: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(ready["object_store"], "unreachable");
        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
    }
    app.db.close().await;
    let (status, _, body) = get_raw(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ready["database"], "unreachable");
}

#[tokio::test]
async fn metrics_count_logins_and_failures() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    app.login_as(&world.supporter_a).await;
    app.try_login("supporter-a", "Wrong-pass-1").await;
    let (status, headers, body) = get_raw(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body).unwrap();
    for line in [
        "ra_logins_total 1",
        "ra_login_failures_total 1",
        "ra_login_sessions 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(
        text.contains("ra_http_requests_total{class=\"4xx\"} 1"),
        "{text}"
    );
    for media in [
        "ra_media_peers 0",
        "ra_media_rtp_forwarded_total 0",
        "ra_media_plis_sent_total 0",
        "ra_media_nacks_received_total 0",
        "ra_media_rtp_lost_total 0",
        "# TYPE ra_media_receive_wait_seconds histogram",
        "ra_media_receive_wait_seconds_bucket{le=\"0.001\"} 0",
        "ra_media_receive_wait_seconds_count 0",
        "# TYPE ra_media_datagram_handling_seconds histogram",
        "ra_media_datagram_handling_seconds_bucket{le=\"0.0001\"} 0",
        "ra_media_datagram_handling_seconds_count 0",
    ] {
        assert!(text.lines().any(|l| l == media), "missing {media:?}");
    }
    // The media worker's scheduling is visible: real-time (10) where the process may, else 0.
    assert!(
        text.lines()
            .any(|l| l == "ra_media_worker_realtime_priority 10"
                || l == "ra_media_worker_realtime_priority 0"),
        "{text}"
    );
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::new().await;
    for path in [
        "/healthz",
        "/login",
        "/static/app.css",
        "/api/auth/me",
        "/nope",
        "/api/openapi.json",
    ] {
        let (_, headers, _) = get_raw(&app, path).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert!(
            headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age="),
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        let permissions = headers["permissions-policy"].to_str().unwrap();
        assert!(
            permissions.contains("camera=(self)") && permissions.contains("microphone=(self)"),
            "{path}"
        );
        assert!(headers.contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn static_files_cannot_escape_the_web_folder() {
    let app = TestApp::new().await;
    for path in [
        "/static/../Cargo.toml",
        "/static/..%2f..%2fCargo.toml",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static//etc/passwd",
    ] {
        let (status, _, body) = get_raw(&app, path).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{path}: {status}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("[workspace]") && !text.contains("root:"),
            "{path} leaked a file"
        );
    }
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let app = TestApp::new().await;
    let (status, _, body) = get_raw(&app, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let spec: Value = serde_json::from_slice(&body).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            operations += 1;
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            // Fill path parameters with a syntactically valid ID.
            let concrete = path
                .replace("{id}", "00000000-0000-4000-8000-000000000000")
                .replace("{device_id}", "00000000-0000-4000-8000-000000000000");
            let request = Request::builder()
                .method(method.clone())
                .uri(&concrete)
                .header(header::HOST, HOST)
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let response = app.send(request).await;
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("route_not_found") && !text.contains("method_not_allowed"),
                "documented {method} {path} is not routed: {text}"
            );
        }
    }
    // Every API route of the router is documented: the fixed interface and the admin surface.
    for (method, path) in [
        ("post", "/api/auth/login"),
        ("post", "/api/auth/logout"),
        ("get", "/api/auth/me"),
        ("post", "/api/auth/password"),
        ("get", "/api/auth/login-history"),
        ("get", "/api/config"),
        ("get", "/api/groups"),
        ("post", "/api/groups"),
        ("patch", "/api/groups/{id}"),
        ("delete", "/api/groups/{id}"),
        ("get", "/api/users"),
        ("post", "/api/users"),
        ("patch", "/api/users/{id}"),
        ("delete", "/api/users/{id}"),
        ("post", "/api/users/{id}/reset-password"),
        ("post", "/api/users/{id}/unlock"),
        ("post", "/api/users/{id}/reset-mfa"),
        ("get", "/api/groups/{id}/sso"),
        ("put", "/api/groups/{id}/sso"),
        ("delete", "/api/groups/{id}/sso"),
        ("get", "/api/auth/sso/start"),
        ("get", "/api/auth/sso/callback"),
        ("get", "/api/auth/mfa"),
        ("post", "/api/auth/mfa/verify"),
        ("post", "/api/auth/mfa/setup"),
        ("post", "/api/auth/mfa/enable"),
        ("post", "/api/auth/mfa/disable"),
        ("get", "/api/devices"),
        ("post", "/api/devices"),
        ("patch", "/api/devices/{id}"),
        ("delete", "/api/devices/{id}"),
        ("post", "/api/devices/{id}/pairing"),
        ("post", "/api/devices/{id}/revoke"),
        ("post", "/api/pair"),
        ("get", "/api/device/me"),
        ("get", "/api/audit"),
        ("get", "/api/audit.csv"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/api/recordings"),
        ("get", "/api/recordings/{id}/file"),
        ("delete", "/api/recordings/{id}"),
        ("post", "/api/recordings/{id}/verify"),
        ("get", "/api/deletions"),
        ("get", "/api/deletions.csv"),
        ("post", "/api/live/cameras/{device_id}/snapshot"),
        ("get", "/api/snapshots"),
        ("get", "/api/snapshots/{id}/file"),
        ("delete", "/api/snapshots/{id}"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(
        operations, 50,
        "a route was added without updating this list"
    );
    assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
}
