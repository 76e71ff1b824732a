//! Multi-factor authentication (TOTP, RFC 6238) through the real router: enrolment with a QR
//! code and recovery codes, the second login step, replayed and stale codes, recovery codes
//! used once, wrong codes locking the account like wrong passwords, a group that requires
//! MFA (enrolment at next login, cannot be turned off), and an administrator's reset. The
//! secret is stored wrapped by the master key, never in the clear.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use remote_assist::auth::totp;
use serde_json::{Value, json};

/// A request with the given cookie and CSRF token; answers status, body and Set-Cookie values.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    cookie: &str,
    csrf: &str,
) -> (StatusCode, Value, Vec<String>) {
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookie)
        .header("x-csrf-token", csrf);
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let request = builder
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let response = app.send(request).await;
    let status = response.status();
    let cookies = set_cookies(response.headers());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        cookies,
    )
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect()
}

fn cookie_named<'a>(cookies: &'a [String], name: &str) -> Option<&'a String> {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

/// Sends `code` as the second step of the pending login `login`.
async fn verify_code(
    app: &TestApp,
    login: &Session,
    code: String,
) -> (StatusCode, Value, Vec<String>) {
    call(
        app,
        Method::POST,
        "/api/auth/mfa/verify",
        Some(json!({ "code": code })),
        &login.cookie,
        &login.csrf,
    )
    .await
}

fn code_at(secret: &[u8], now_millis: i64) -> String {
    format!(
        "{:06}",
        totp::hotp(secret, totp::step_at(now_millis) as u64)
    )
}

/// Password step of a login with MFA: 202, no session, a pending-login cookie and its CSRF.
async fn password_step(app: &TestApp, login_id: &str) -> (Value, Session) {
    let (session, status, body) = app.try_login(login_id, PASSWORD).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let pending = session.expect("a pending-login cookie");
    assert!(
        pending.cookie.starts_with("__Host-ra_mfa="),
        "{}",
        pending.cookie
    );
    (body, pending)
}

async fn audited(app: &TestApp, action: &str, detail_contains: &str) -> usize {
    app.db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some(action.into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.detail.as_deref().unwrap_or("").contains(detail_contains))
        .count()
}

#[tokio::test]
async fn enrol_then_log_in_with_a_code_and_refuse_replays() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let me = app.login_as(&world.supporter_a).await;

    // Setting up needs the current password when logged in.
    let (status, body) = app
        .post("/api/auth/mfa/setup", json!({"password": "wrong"}), &me)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, setup) = app
        .post("/api/auth/mfa/setup", json!({"password": PASSWORD}), &me)
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = data_encoding::BASE32_NOPAD
        .decode(setup["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    assert_eq!(secret.len(), 32);
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/remote-assist")
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    // Not on until proven with a code: a wrong one is refused and changes nothing.
    let (status, body) = app
        .post("/api/auth/mfa/enable", json!({"code": "000000"}), &me)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "mfa_code_invalid");
    let (_, now_me) = app.get("/api/auth/me", &me).await;
    assert_eq!(now_me["user"]["mfa_enabled"], false);
    let (status, enabled) = app
        .post(
            "/api/auth/mfa/enable",
            json!({"code": code_at(&secret, app.now())}),
            &me,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    let recovery: Vec<String> = enabled["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let (_, now_me) = app.get("/api/auth/me", &me).await;
    assert_eq!(now_me["user"]["mfa_enabled"], true);

    // The stored secret is wrapped: neither its bytes nor its base32 form are in the row.
    let (stored,): (String,) = sqlx::query_as("SELECT totp_secret FROM users WHERE id = $1")
        .bind(world.supporter_a.id.to_string())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(!stored.contains(setup["secret"].as_str().unwrap()));
    assert!(!stored.contains(&hex::encode(&secret)));

    // The password alone gives no session.
    let (pending, login) = password_step(&app, "supporter-a").await;
    assert_eq!(pending["second_factor"], "verify");
    let (status, _, _) = call(&app, Method::GET, "/api/auth/me", None, &login.cookie, "").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a pending login is not a session"
    );
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/recordings",
        None,
        &login.cookie,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The pending login's own CSRF token is required.
    let verify = |code: String| json!({ "code": code });
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/auth/mfa/verify",
        Some(verify(code_at(&secret, app.now()))),
        &login.cookie,
        "forged",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The code used to enrol is the same time step: a replay, refused.
    let (status, body, _) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "mfa_code_invalid");
    // A stale code (two steps old) is refused too.
    app.clock.advance_secs(90);
    let (status, _, _) = verify_code(&app, &login, code_at(&secret, app.now() - 60_000)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The current code logs in: a session cookie, the pending one cleared.
    let (status, body, cookies) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = Session {
        cookie: cookie_named(&cookies, "__Host-ra_session")
            .expect("session cookie")
            .clone(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    };
    assert!(cookies.iter().any(|c| c == "__Host-ra_mfa="), "{cookies:?}");
    let (status, me_now) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_now["user"]["login_id"], "supporter-a");
    // The pending login is used up.
    let (status, _, _) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The same code again, in a new login within its 30 s: refused (replay).
    let (_, again) = password_step(&app, "supporter-a").await;
    let (status, _, _) = verify_code(&app, &again, code_at(&secret, app.now())).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a used code is refused in a second login"
    );

    // A recovery code works once.
    app.clock.advance_secs(60);
    let (_, login) = password_step(&app, "supporter-a").await;
    let (status, body, _) = verify_code(&app, &login, recovery[3].to_uppercase()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        audited(&app, "auth.login", "recovery code (9 left)").await,
        1
    );
    let (_, login) = password_step(&app, "supporter-a").await;
    let (status, _, _) = verify_code(&app, &login, recovery[3].clone()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a recovery code is single use"
    );

    // A pending login expires after five minutes.
    app.clock.advance_secs(60);
    let (_, login) = password_step(&app, "supporter-a").await;
    app.clock.advance_secs(301);
    let (status, _, _) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");

    // Turning it off takes the password; then the password alone logs in again.
    let session = app.login_as(&world.admin_a).await; // another account is unaffected
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance_secs(60);
    let (_, login) = password_step(&app, "supporter-a").await;
    let (_, body, cookies) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    let mine = Session {
        cookie: cookie_named(&cookies, "__Host-ra_session").unwrap().clone(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    };
    let (status, _) = app
        .post("/api/auth/mfa/disable", json!({"password": "wrong"}), &mine)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            "/api/auth/mfa/disable",
            json!({"password": PASSWORD}),
            &mine,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.login_as(&world.supporter_a).await;
    assert!(audited(&app, "auth.mfa_enable", "").await >= 1);
    assert_eq!(audited(&app, "auth.mfa_disable", "").await, 1);
}

#[tokio::test]
async fn wrong_codes_lock_the_account_like_wrong_passwords() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let secret = app.enrol_totp(world.supporter_a.id).await;
    let (_, login) = password_step(&app, "supporter-a").await;
    // The password step counts as one attempt until the code is right; four wrong codes make
    // five failures: the account locks (threshold 5), and the lockout is audited.
    for i in 0..4 {
        let (status, body, _) = verify_code(&app, &login, "999999".into()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}: {body}");
    }
    assert_eq!(audited(&app, "auth.lockout", "").await, 1);
    // Even the right code does not get through now, and the password alone neither.
    let (status, _, _) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, status, body) = app.try_login("supporter-a", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "login_failed");
    // After the lockout, a right code logs in, and the failures start from zero again.
    app.clock.advance_secs(15 * 60 + 1);
    let (_, login) = password_step(&app, "supporter-a").await;
    let (status, body, _) = verify_code(&app, &login, code_at(&secret, app.now())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = app.db.user(world.supporter_a.id).await.unwrap().unwrap();
    assert_eq!(user.failed_attempts, 0);
}

#[tokio::test]
async fn a_group_that_requires_mfa_enrols_members_at_login_and_admins_reset_it() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let sysadmin = app.login_as(&world.sysadmin).await;
    // Logged in before the rule: existing sessions run until they expire.
    let admin_b = app.login_as(&world.admin_b).await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/groups/{}", world.group_b),
            Some(json!({"mfa_required": true})),
            Some(&sysadmin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mfa_required"], true);
    // The next login enrols.
    let (pending, login) = password_step(&app, "supporter-b").await;
    assert_eq!(pending["second_factor"], "enroll");
    // Verification is not possible before enrolment.
    let (status, _, _) = verify_code(&app, &login, "123456".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, setup, _) = call(
        &app,
        Method::POST,
        "/api/auth/mfa/setup",
        Some(json!({})),
        &login.cookie,
        &login.csrf,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = data_encoding::BASE32_NOPAD
        .decode(setup["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let (status, enabled, cookies) = call(
        &app,
        Method::POST,
        "/api/auth/mfa/enable",
        Some(json!({"code": code_at(&secret, app.now())})),
        &login.cookie,
        &login.csrf,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["recovery_codes"].as_array().unwrap().len(), 10);
    let session = Session {
        cookie: cookie_named(&cookies, "__Host-ra_session")
            .expect("enrolment logs in")
            .clone(),
        csrf: enabled["session"]["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let (status, me) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["mfa_enabled"], true);
    // The group requires it: it cannot be turned off by the member.
    let (status, body) = app
        .post(
            "/api/auth/mfa/disable",
            json!({"password": PASSWORD}),
            &session,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "mfa_required_by_group");
    // A pending enrolment cannot be used to replace a working factor.
    let (status, _) = app
        .post(
            "/api/auth/mfa/setup",
            json!({"password": PASSWORD}),
            &session,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Reset: not by a supporter, not by another group's admin; by the group's admin it ends
    // the user's sessions and the next login enrols again.
    let supporter_b = session.clone();
    let path = format!("/api/users/{}/reset-mfa", world.supporter_b.id);
    let (status, _) = app.post(&path, json!({}), &supporter_b).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin_a = app.login_as(&world.admin_a).await;
    let (status, _) = app.post(&path, json!({}), &admin_a).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.post(&path, json!({}), &admin_b).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/auth/me", &supporter_b).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "sessions end at a reset");
    let (pending, _) = password_step(&app, "supporter-b").await;
    assert_eq!(pending["second_factor"], "enroll");
    assert_eq!(audited(&app, "user.mfa_reset", "supporter-b").await, 1);
    // Members of other groups are not asked.
    app.login_as(&world.supporter_a).await;
}

#[tokio::test]
async fn the_login_form_without_javascript_is_sent_to_the_code_step() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    app.enrol_totp(world.supporter_a.id).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "login_id=supporter-a&password={PASSWORD}"
        )))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/login?step=mfa");
    let cookies = set_cookies(response.headers());
    assert!(cookie_named(&cookies, "__Host-ra_mfa").is_some());
    assert!(cookie_named(&cookies, "__Host-ra_session").is_none());
    // The page reads the pending step and its CSRF token.
    let (status, body, _) = call(
        &app,
        Method::GET,
        "/api/auth/mfa",
        None,
        cookie_named(&cookies, "__Host-ra_mfa").unwrap(),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["second_factor"], "verify");
    assert!(body["csrf_token"].as_str().unwrap().len() > 20);
}
