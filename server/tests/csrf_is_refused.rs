//! Cross-site request forgery: state-changing requests need the session's CSRF token, and a
//! browser's Origin/Referer/Sec-Fetch-Site must say the request comes from this site.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::json;

async fn create_group(
    app: &TestApp,
    session: &Session,
    csrf: Option<&str>,
    extra: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/api/groups")
        .header(header::HOST, HOST)
        .header(header::COOKIE, &session.cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = csrf {
        builder = builder.header("x-csrf-token", token);
    }
    for (k, v) in extra {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Body::from(json!({"name": "forged"}).to_string()))
        .unwrap();
    let response = app.send(request).await;
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn forged_requests_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let session = app.login_as(&world.sysadmin).await;
    // (case, CSRF token sent, extra headers)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("no token", None, vec![("origin", ORIGIN)]),
        (
            "wrong token",
            Some("not-the-token"),
            vec![("origin", ORIGIN)],
        ),
        (
            "token of another session",
            Some("x"),
            vec![("origin", ORIGIN)],
        ),
        (
            "foreign origin",
            Some(session.csrf.as_str()),
            vec![("origin", "https://evil.example")],
        ),
        (
            "foreign referer",
            Some(session.csrf.as_str()),
            vec![("referer", "https://evil.example/page")],
        ),
        (
            "cross-site fetch",
            Some(session.csrf.as_str()),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "null origin",
            Some(session.csrf.as_str()),
            vec![("origin", "null")],
        ),
    ];
    for (name, token, headers) in cases {
        let (status, body) = create_group(&app, &session, token, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(body.contains("csrf_rejected"), "{name}: {body}");
    }
    assert!(app.db.group_by_name("forged").await.unwrap().is_none());
    let (status, _) = create_group(
        &app,
        &session,
        Some(&session.csrf),
        &[("origin", ORIGIN), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "the real page's request works");
}

#[tokio::test]
async fn login_from_another_site_is_refused() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "login_id={}&password={PASSWORD}",
            world.supporter_a.login_id
        )))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn logout_and_password_change_need_the_token_too() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let session = app.login_as(&world.supporter_a).await;
    let no_token = Session {
        cookie: session.cookie.clone(),
        csrf: String::new(),
    };
    let (status, _) = app.post("/api/auth/logout", json!({}), &no_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": "Forged-pass-99"}),
            &no_token,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "still logged in with the old password"
    );
}
