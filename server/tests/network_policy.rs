//! Who may come from where, and how often: per-group IP allow-lists (for everyone, and a
//! stricter one for administrators) at login and on every request, `X-Forwarded-For` believed
//! only from trusted proxies, and rate limits per address and per account answered with
//! `429` and `Retry-After`. Every refusal by address is audited.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// A request as if from `from` (the TCP peer), with optional extra headers.
async fn call_from(
    app: &TestApp,
    from: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    session: Option<&Session>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::HOST, HOST);
    if method != Method::GET {
        builder = builder.header(header::ORIGIN, ORIGIN);
    }
    if let Some(session) = session {
        builder = builder
            .header(header::COOKIE, &session.cookie)
            .header("x-csrf-token", &session.csrf);
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = match body {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap();
    let peer: SocketAddr = format!("{from}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.send(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

async fn login_from(
    app: &TestApp,
    from: &str,
    login_id: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, Option<Session>) {
    let (status, body, response_headers) = call_from(
        app,
        from,
        Method::POST,
        "/api/auth/login",
        Some(json!({"login_id": login_id, "password": PASSWORD})),
        None,
        headers,
    )
    .await;
    let session = response_headers.get(header::SET_COOKIE).map(|c| Session {
        cookie: c.to_str().unwrap().split(';').next().unwrap().to_owned(),
        csrf: body["csrf_token"].as_str().unwrap_or_default().to_owned(),
    });
    (status, body, session)
}

async fn audited(app: &TestApp, action: &str) -> usize {
    app.db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some(action.into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn allow_lists_are_enforced_at_login_and_on_every_request() {
    let config = remote_assist::config::Config {
        trusted_proxies: vec!["127.0.0.1/32".into()],
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    let (_, _, sysadmin) = login_from(&app, "192.0.2.1", "sysadmin", &[]).await;
    let sysadmin = sysadmin.expect("the system admin logs in");
    // Group A: users from 10.1.0.0/16, administrators only from 10.1.9.0/24.
    let path = format!("/api/groups/{}", world.group_a);
    let (status, body, _) = call_from(
        &app,
        "192.0.2.1",
        Method::PATCH,
        &path,
        Some(json!({"allowed_ips": ["10.1.0.0/16"], "admin_allowed_ips": ["not-a-network"]})),
        Some(&sysadmin),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The system admin is in group A too: a list without their own address is refused.
    let (status, body, _) = call_from(
        &app,
        "192.0.2.1",
        Method::PATCH,
        &path,
        Some(json!({"allowed_ips": ["10.1.0.0/16"], "admin_allowed_ips": ["10.1.9.0/24"]})),
        Some(&sysadmin),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no self lock-out: {body}");
    // From an address inside both lists it is accepted.
    let (status, body, _) = call_from(
        &app,
        "10.1.9.5",
        Method::PATCH,
        &path,
        Some(json!({"allowed_ips": ["10.1.0.0/16"], "admin_allowed_ips": ["10.1.9.0/24"]})),
        Some(&sysadmin),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["allowed_ips"], json!(["10.1.0.0/16"]));

    // A supporter inside the user list logs in; from outside, the same password fails the same
    // way a wrong one does, and the refusal is audited.
    let (status, _, supporter) = login_from(&app, "10.1.2.3", "supporter-a", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let supporter = supporter.unwrap();
    let refused_before = audited(&app, "auth.ip_refused").await;
    let (status, body, cookie) = login_from(&app, "198.51.100.7", "supporter-a", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "login_failed");
    assert!(cookie.is_none());
    assert_eq!(audited(&app, "auth.ip_refused").await, refused_before + 1);
    // The session from inside stops working when used from outside.
    let (status, _, _) = call_from(
        &app,
        "10.1.2.3",
        Method::GET,
        "/api/auth/me",
        None,
        Some(&supporter),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = call_from(
        &app,
        "203.0.113.1",
        Method::GET,
        "/api/auth/me",
        None,
        Some(&supporter),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "ip_not_allowed");
    assert_eq!(audited(&app, "auth.ip_refused").await, refused_before + 2);

    // The group admin is a user (10.1.2.3 passes the user list) but not inside the admin list.
    let (status, _, _) = login_from(&app, "10.1.2.3", "admin-a", &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "admins need the admin list"
    );
    let (status, _, _) = login_from(&app, "10.1.9.77", "admin-a", &[]).await;
    assert_eq!(status, StatusCode::OK);

    // Group B has no lists: its users come from anywhere.
    let (status, _, _) = login_from(&app, "198.51.100.7", "supporter-b", &[]).await;
    assert_eq!(status, StatusCode::OK);

    // X-Forwarded-For: believed from the trusted proxy (127.0.0.1), ignored from anyone else.
    let xff = [("x-forwarded-for", "10.1.4.4")];
    let (status, _, _) = login_from(&app, "127.0.0.1", "supporter-a", &xff).await;
    assert_eq!(status, StatusCode::OK, "through the trusted proxy");
    let (status, _, _) = login_from(&app, "198.51.100.9", "supporter-a", &xff).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a forged header from outside"
    );
    let events = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some("auth.login".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events[0].client_ip.as_deref(),
        Some("198.51.100.9"),
        "the real peer is logged"
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let config = remote_assist::config::Config {
        rate_limit_login_per_minute: 5,
        rate_limit_login_per_account_per_minute: 3,
        rate_limit_pairing_per_minute: 2,
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let _world = app.seed().await;
    // Per account: the fourth login to one account within the minute, from different addresses.
    for (i, from) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        let (status, _, _) = login_from(&app, from, "supporter-a", &[]).await;
        assert_eq!(status, StatusCode::OK, "login {i}");
    }
    let login = |login_id: &str| Some(json!({"login_id": login_id, "password": PASSWORD}));
    let (status, body, headers) = call_from(
        &app,
        "10.0.0.4",
        Method::POST,
        "/api/auth/login",
        login("supporter-a"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "rate_limited");
    let retry: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Per address: from one address, the sixth login attempt in a minute (any accounts).
    for login in ["admin-a", "admin-b", "supporter-b", "sysadmin", "nobody"] {
        let (status, _, _) = login_from(&app, "10.9.9.9", login, &[]).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{login}");
    }
    let (status, _, headers) = call_from(
        &app,
        "10.9.9.9",
        Method::POST,
        "/api/auth/login",
        login("admin-a"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key(header::RETRY_AFTER));
    // Another address is not affected.
    let (status, _, _) = login_from(&app, "10.9.9.10", "admin-a", &[]).await;
    assert_eq!(status, StatusCode::OK);
    // Pairing codes: a guesser from one address is stopped after two tries.
    for _ in 0..2 {
        let (status, _, _) = call_from(
            &app,
            "10.5.5.5",
            Method::POST,
            "/api/pair",
            Some(json!({"code": "ABCD-EFGH"})),
            None,
            &[],
        )
        .await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let (status, body, _) = call_from(
        &app,
        "10.5.5.5",
        Method::POST,
        "/api/pair",
        Some(json!({"code": "ABCD-EFGH"})),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Counted for /metrics.
    let (_, _, _) = call_from(&app, "10.5.5.6", Method::GET, "/metrics", None, None, &[]).await;
    let request = Request::builder()
        .uri("/metrics")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let text = String::from_utf8(
        app.send(request)
            .await
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let limited: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ra_rate_limited_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(limited >= 3, "{limited}");
}

#[tokio::test]
async fn the_websocket_is_refused_outside_the_allow_list() {
    use common::live::*;
    // The test client connects from 127.0.0.1, a trusted proxy here, so X-Forwarded-For
    // decides which address the server sees.
    let config = remote_assist::config::Config {
        trusted_proxies: vec!["127.0.0.1/32".into()],
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    app.db
        .set_group_networks(world.group_a, &["10.1.0.0/16".into()], &[])
        .await
        .unwrap();
    let addr = app.serve().await;
    let cookie = app.session_cookie(&world.supporter_a).await;
    let hello = json!({"type": "hello", "protocol": 1});

    let mut inside = open_with_headers(
        &app,
        addr,
        Some(&cookie),
        &origin(addr),
        &[("x-forwarded-for", "10.1.2.3")],
    )
    .await
    .unwrap();
    send(&mut inside, hello.clone()).await;
    let welcome = next(&mut inside).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");

    let refused_before = audited(&app, "auth.ip_refused").await;
    let mut outside = open_with_headers(
        &app,
        addr,
        Some(&cookie),
        &origin(addr),
        &[("x-forwarded-for", "203.0.113.50")],
    )
    .await
    .unwrap();
    send(&mut outside, hello).await;
    let answer = next(&mut outside).await;
    assert_eq!(
        answer["type"], "error",
        "the session is not accepted from outside: {answer}"
    );
    assert_eq!(audited(&app, "auth.ip_refused").await, refused_before + 1);
}
