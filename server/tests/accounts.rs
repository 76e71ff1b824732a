//! Login, lockout, session lifetime, password policy, forced password change, admin reset,
//! logout and login history, through the real router with an injected clock.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use serde_json::json;

#[tokio::test]
async fn wrong_password_unknown_id_and_locked_account_look_the_same() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let (_, unknown_status, unknown) = app.try_login("nobody-here", PASSWORD).await;
    let (_, wrong_status, wrong) = app
        .try_login(&world.supporter_a.login_id, "Wrong-pass-1")
        .await;
    assert_eq!(unknown_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown, wrong,
        "responses must not reveal whether the ID exists"
    );
    for _ in 0..5 {
        app.try_login(&world.supporter_a.login_id, "Wrong-pass-1")
            .await;
    }
    let (session, locked_status, locked) =
        app.try_login(&world.supporter_a.login_id, PASSWORD).await;
    assert!(session.is_none());
    assert_eq!(locked_status, StatusCode::UNAUTHORIZED);
    assert_eq!(locked, unknown, "a locked account answers like any failure");
}

#[tokio::test]
async fn five_failures_lock_for_fifteen_minutes() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let id = &world.supporter_a.login_id;
    for _ in 0..4 {
        app.try_login(id, "Wrong-pass-1").await;
    }
    // Four failures: still open.
    app.login(id, PASSWORD).await;
    for _ in 0..5 {
        app.try_login(id, "Wrong-pass-1").await;
    }
    let (_, status, _) = app.try_login(id, PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "locked after 5 failures");
    let user = app.db.user_by_login_id(id).await.unwrap().unwrap();
    assert!(user.is_locked(app.now()));
    app.clock.advance_secs(14 * 60);
    let (_, status, _) = app.try_login(id, PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "still locked after 14 minutes"
    );
    app.clock.advance_secs(61);
    app.login(id, PASSWORD).await;
    let events = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some("auth.lockout".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_label.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn failures_spread_beyond_the_window_do_not_lock() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let id = &world.supporter_a.login_id;
    for _ in 0..4 {
        app.try_login(id, "Wrong-pass-1").await;
    }
    app.clock.advance_secs(16 * 60);
    for _ in 0..4 {
        app.try_login(id, "Wrong-pass-1").await;
    }
    app.login(id, PASSWORD).await;
}

#[tokio::test]
async fn lockout_settings_are_configurable() {
    let config = remote_assist::config::Config {
        lockout_threshold: 2,
        lockout_duration_secs: 60,
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    let id = &world.supporter_a.login_id;
    app.try_login(id, "Wrong-pass-1").await;
    app.try_login(id, "Wrong-pass-1").await;
    let (_, status, _) = app.try_login(id, PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.clock.advance_secs(61);
    app.login(id, PASSWORD).await;
}

#[tokio::test]
async fn admin_unlock_lifts_a_lockout() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    for _ in 0..5 {
        app.try_login(&world.supporter_a.login_id, "Wrong-pass-1")
            .await;
    }
    let admin = app.login_as(&world.admin_a).await;
    let (status, users) = app.get("/api/users", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let row = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login_id"] == "supporter-a")
        .unwrap();
    assert_eq!(row["locked"], true);
    let path = format!("/api/users/{}/unlock", world.supporter_a.id);
    let (status, _) = app.post(&path, json!({}), &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.login_as(&world.supporter_a).await;
}

#[tokio::test]
async fn sessions_expire_after_idle_and_absolute_limits() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let session = app.login_as(&world.supporter_a).await;
    app.clock.advance_secs(29 * 60);
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "29 idle minutes are fine, and extend the session"
    );
    app.clock.advance_secs(29 * 60);
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance_secs(31 * 60);
    let (status, body) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "31 idle minutes end it");
    assert_eq!(code(&body), "not_authenticated");

    // Active all the time, a session still ends after 12 hours.
    let session = app.login_as(&world.supporter_a).await;
    for _ in 0..(12 * 4 - 1) {
        app.clock.advance_secs(15 * 60);
        let (status, _) = app.get("/api/auth/me", &session).await;
        assert_eq!(status, StatusCode::OK);
    }
    app.clock.advance_secs(15 * 60);
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "absolute limit of 12 hours"
    );
}

#[tokio::test]
async fn login_issues_a_fresh_token_and_drops_a_planted_one() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let first = app.login_as(&world.supporter_a).await;
    // Log in again presenting the old cookie (as a fixated victim's browser would).
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &first.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"login_id": "supporter-a", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!set_cookie.contains(first.cookie.split('=').nth(1).unwrap()));
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(set_cookie.starts_with("__Host-"));
    let (status, _) = app.get("/api/auth/me", &first).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old token no longer works"
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let session = app.login_as(&world.supporter_a).await;
    let (status, _) = app.post("/api/auth/logout", json!({}), &session).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_change_enforces_the_policy() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let session = app.login_as(&world.supporter_a).await;
    let change = |new: &str| json!({"current_password": PASSWORD, "new_password": new});
    let cases = [
        ("short1", "password_too_short"),
        ("onlyletters", "password_needs_letter_and_digit"),
    ];
    for (candidate, expected) in &cases {
        let (status, body) = app
            .post("/api/auth/password", change(candidate), &session)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "password_policy");
        assert!(
            body["error"]["details"]
                .as_array()
                .unwrap()
                .contains(&json!(expected)),
            "{body}"
        );
    }
    let (_, body) = app
        .post("/api/auth/password", change("Password1"), &session)
        .await;
    assert!(
        body["error"]["details"]
            .as_array()
            .unwrap()
            .contains(&json!("password_too_common"))
    );
    let (_, body) = app
        .post("/api/auth/password", change(&"a1".repeat(65)), &session)
        .await;
    assert!(
        body["error"]["details"]
            .as_array()
            .unwrap()
            .contains(&json!("password_too_long"))
    );
    let (status, body) = app
        .post(
            "/api/auth/password",
            json!({"current_password": "Not-the-pass-9", "new_password": "Brand-new-2027"}),
            &session,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "current_password_wrong");
    let (status, _) = app
        .post("/api/auth/password", change("Brand-new-2027"), &session)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, status, _) = app.try_login("supporter-a", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("supporter-a", "Brand-new-2027").await;
}

#[tokio::test]
async fn password_equal_to_login_id_is_refused() {
    let app = TestApp::new().await;
    let group = app.db.create_group("G", START).await.unwrap().id;
    let account = app
        .add_user(
            "tanaka2026",
            remote_assist::db::users::Role::Supporter,
            group,
        )
        .await;
    let session = app.login_as(&account).await;
    let (status, body) = app
        .post(
            "/api/auth/password",
            json!({"current_password": PASSWORD, "new_password": "Tanaka2026"}),
            &session,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["details"]
            .as_array()
            .unwrap()
            .contains(&json!("password_equals_login_id"))
    );
}

#[tokio::test]
async fn admin_reset_forces_a_change_and_ends_sessions() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let victim = app.login_as(&world.supporter_a).await;
    let admin = app.login_as(&world.admin_a).await;
    let path = format!("/api/users/{}/reset-password", world.supporter_a.id);
    let (status, body) = app
        .post(&path, json!({"new_password": "short"}), &admin)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "password_policy")
    );
    let (status, _) = app
        .post(&path, json!({"new_password": "Temp-pass-4821"}), &admin)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/auth/me", &victim).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "reset ends existing sessions"
    );

    let session = app.login("supporter-a", "Temp-pass-4821").await;
    let (status, me) = app.get("/api/auth/me", &session).await;
    assert_eq!(status, StatusCode::OK, "me works while a change is pending");
    assert_eq!(me["must_change_password"], true);
    let (status, body) = app.get("/api/groups", &session).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "password_change_required");
    let (status, _) = app
        .post(
            "/api/auth/password",
            json!({"current_password": "Temp-pass-4821", "new_password": "Own-choice-7788"}),
            &session,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/groups", &session).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn form_login_redirects_by_outcome() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let form = |password: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/auth/login")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "login_id={}&password={password}",
                world.admin_a.login_id
            )))
            .unwrap()
    };
    let response = app.send(form(PASSWORD)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/admin");
    assert!(response.headers().contains_key(header::SET_COOKIE));
    let response = app.send(form("wrong-Pass-1")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/login?error=login_failed"
    );
    assert!(!response.headers().contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn users_see_their_own_login_history_only() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    app.try_login("supporter-a", "Wrong-pass-1").await;
    let session = app.login_as(&world.supporter_a).await;
    app.login_as(&world.supporter_b).await;
    let (status, body) = app.get("/api/auth/login-history", &session).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[0]["outcome"], "success");
    assert_eq!(events[1]["outcome"], "failure");
    assert!(events.iter().all(|e| e["actor_label"] == "supporter-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_outrun_the_lockout() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let world = app.seed().await;
    let id = world.supporter_a.login_id.clone();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            app.try_login(&id, &format!("Wrong-pass-{i}")).await.1
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    // At most five passwords were really checked; the rest were refused unchecked.
    let events = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some("auth.login".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let checked = events
        .iter()
        .filter(|e| e.detail.as_deref() == Some("wrong password"))
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked in a burst of 30"
    );
    assert_eq!(events.len(), 30);
    let (_, status, _) = app.try_login(&id, PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the account is locked");
}

#[tokio::test]
async fn login_history_cannot_be_flushed_by_others() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let victim = world.supporter_a.id.to_string();
    app.login_as(&world.supporter_a).await;
    // Someone fails 250 logins typing the victim's user ID as a login ID.
    for _ in 0..250 {
        app.db
            .insert_audit_event(&remote_assist::db::audit::NewAuditEvent {
                at: START,
                actor_kind: remote_assist::db::audit::ActorKind::Anonymous,
                actor_id: None,
                actor_label: Some(victim.clone()),
                group_id: None,
                action: "auth.login",
                target: None,
                client_ip: None,
                user_agent: None,
                outcome: remote_assist::db::audit::Outcome::Failure,
                detail: Some("unknown login ID".into()),
            })
            .await
            .unwrap();
    }
    let session = app.login_as(&world.supporter_a).await;
    let (_, body) = app.get("/api/auth/login-history", &session).await;
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "both real logins are still listed: {body}");
}
