//! The attacks of IPA's 「安全なウェブサイトの作り方」 that the other test files do not already try,
//! each with real attack strings against the router: reflected XSS, HTTP header injection,
//! open redirects, and directory traversal in downloads. (SQL injection and stored XSS:
//! `bad_input_is_refused.rs` and the admin browser test; CSRF: `csrf_is_refused.rs`; session
//! fixation: `accounts.rs`; clickjacking: `operations.rs`.)

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;

const XSS: &str = "<script>alert(document.cookie)</script>";
const XSS_ENCODED: &str = "%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E";

async fn get(
    app: &TestApp,
    uri: &str,
    session: Option<&Session>,
) -> (StatusCode, HeaderMap, String) {
    let mut builder = Request::builder().uri(uri).header(header::HOST, HOST);
    if let Some(session) = session {
        builder = builder.header(header::COOKIE, &session.cookie);
    }
    let response = app.send(builder.body(Body::empty()).unwrap()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn reflected_script_never_comes_back_as_html() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.sysadmin).await;
    // Pages with the payload in the query: the static page is served unchanged.
    for page in [
        "/login",
        "/",
        "/admin",
        "/pair",
        "/recordings",
        "/share",
        "/field",
    ] {
        let (status, headers, body) = get(
            &app,
            &format!("{page}?error={XSS_ENCODED}&code={XSS_ENCODED}"),
            Some(&admin),
        )
        .await;
        assert!(
            status.is_success() || status.is_redirection(),
            "{page}: {status}"
        );
        assert!(!body.contains(XSS), "{page} reflects the script");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{page}");
    }
    // API answers that carry the payload back (an unknown route, a bad filter, a bad ID) are
    // JSON with nosniff, never HTML a browser would run.
    for uri in [
        format!("/api/{XSS_ENCODED}"),
        format!("/api/audit?outcome={XSS_ENCODED}"),
        format!("/api/users/{XSS_ENCODED}"),
        format!("/api/recordings/{XSS_ENCODED}/file"),
        format!("/{XSS_ENCODED}"),
    ] {
        let (status, headers, body) = get(&app, &uri, Some(&admin)).await;
        assert!(!status.is_server_error(), "{uri}: {status}");
        let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(
            content_type.starts_with("application/json") || !body.contains(XSS),
            "{uri}: {content_type} with {body}"
        );
        assert!(
            !content_type.starts_with("text/html") || !body.contains("<script"),
            "{uri}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
}

#[tokio::test]
async fn names_cannot_inject_response_headers() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let me = app.login_as(&world.supporter_a).await;
    // A camera name built to break out of Content-Disposition and add a cookie.
    let hostile = "cam\"\r\nSet-Cookie: __Host-ra_session=evil; Path=/\r\nX-Evil: 1;\"";
    let id = app
        .stored_recording_named(world.group_a, &world.supporter_a, hostile)
        .await;
    for uri in [
        format!("/api/recordings/{id}/file"),
        format!("/api/recordings/{id}/file?download=1"),
    ] {
        let (status, headers, _) = get(&app, &uri, Some(&me)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(headers.get("x-evil").is_none());
        assert!(
            headers.get(header::SET_COOKIE).is_none(),
            "no cookie from a name"
        );
        let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        let filename = disposition.split("filename=").nth(1).unwrap();
        assert_eq!(filename.matches('"').count(), 2, "{disposition}");
        assert!(
            filename
                .trim_matches('"')
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)),
            "{disposition}"
        );
    }
    // A user's display name with CR/LF is refused at input, so it can reach no header either.
    let admin = app.login_as(&world.admin_a).await;
    let (status, body) = app
        .post(
            "/api/users",
            serde_json::json!({"login_id": "crlf-user", "display_name": "a\r\nSet-Cookie: x=1",
                "role": "supporter", "group_id": world.group_a, "password": "Initial-pass-77"}),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn redirects_never_leave_the_site() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    // The form login's redirect targets are fixed paths; parameters naming another site are
    // refused or ignored, never followed.
    for body in [
        format!("login_id=supporter-a&password={PASSWORD}&next=https://evil.example/"),
        format!("login_id=supporter-a&password={PASSWORD}&redirect=//evil.example"),
        format!("login_id=supporter-a&password={PASSWORD}"),
        "login_id=supporter-a&password=wrong".to_owned(),
    ] {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/login?next=https://evil.example/&return_to=//evil.example")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.clone()))
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            location.starts_with('/') && !location.starts_with("//"),
            "{body} → {location}"
        );
        assert!(!location.contains("evil"), "{body} → {location}");
    }
    // Paths that look like another host are local paths, not redirects.
    for uri in ["//evil.example/", "/\\evil.example", "/%2F%2Fevil.example"] {
        let (status, headers, _) = get(&app, uri, None).await;
        if let Some(location) = headers.get(header::LOCATION) {
            let location = location.to_str().unwrap();
            assert!(!location.contains("evil"), "{uri} → {location}");
        }
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
    }
    let _ = world;
}

#[tokio::test]
async fn downloads_cannot_traverse_to_other_files() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let me = app.login_as(&world.supporter_a).await;
    let id = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    let (status, _, _) = get(&app, &format!("/api/recordings/{id}/file"), Some(&me)).await;
    assert_eq!(status, StatusCode::OK, "the real download works");
    for attack in [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "..%2f..%2fdata%2fmaster.key",
        "%2e%2e%2f%2e%2e%2fremote-assist.db",
        "....//....//etc/passwd",
        "..\\..\\etc\\passwd",
        "%00",
        "recordings%2F..%2F..%2Fmaster.key",
    ] {
        for uri in [
            format!("/api/recordings/{attack}/file"),
            format!("/api/snapshots/{attack}/file"),
            format!("/api/recordings/{id}/../../{attack}"),
            format!("/static/{attack}"),
        ] {
            let (status, _, body) = get(&app, &uri, Some(&me)).await;
            assert!(status.is_client_error(), "{uri}: {status}");
            assert!(!body.contains("root:"), "{uri} leaked /etc/passwd");
            assert!(!body.contains("SQLite format"), "{uri} leaked the database");
        }
    }
}
