//! Login, logout, the current user, own password change and own login history.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::views::{
    AuditEventList, ChangePasswordRequest, LoginRequest, MeResponse, MfaPending, UserView,
};
use crate::auth::password::{self, check_policy};
use crate::auth::tokens;
use crate::auth::{ClientInfo, SESSION_COOKIE, SessionUser, cookie_value};
use crate::db::audit::{ActorKind, AuditFilter, NewAuditEvent, Outcome};
use crate::db::mfa::ChallengePurpose;
use crate::db::sessions::NewSession;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(login_history))
}

/// Audit actions shown to a user as their own login history.
pub const LOGIN_HISTORY_ACTIONS: &[&str] = &[
    "auth.login",
    "auth.logout",
    "auth.lockout",
    "auth.password_change",
    "auth.password_reset",
    "auth.mfa_challenge",
    "auth.mfa_enable",
    "auth.mfa_disable",
];

/// Longest login ID or password looked at; longer input fails like a wrong password, after
/// being cut so that a megabyte "password" cannot make argon2 work harder.
const MAX_CREDENTIAL_CHARS: usize = 256;

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Log in with a login ID and password. Accepts JSON (answers JSON) or an HTML form (answers
/// a redirect). A wrong ID, a wrong password and a locked account give the same answer.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = MeResponse),
        (status = 202, description = "Password accepted; a second factor is needed next \
            (`/api/auth/mfa/verify`, or enrolment when the group requires MFA)", body = MfaPending),
        (status = 303, description = "Form login: redirect to the home page or back to /login"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::new(ErrorCode::PayloadTooLarge).into_response();
        }
        Err(rejection) => return ApiError::invalid(rejection.body_text()).into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let request: LoginRequest = if is_form {
        match serde_urlencoded::from_bytes(&body) {
            Ok(r) => r,
            Err(_) => return Redirect::to("/login?error=invalid_input").into_response(),
        }
    } else if content_type.starts_with("application/json") {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return ApiError::invalid(e.to_string()).into_response(),
        }
    } else {
        return ApiError::new(ErrorCode::UnsupportedMediaType).into_response();
    };
    let old_token = cookie_value(&headers, SESSION_COOKIE);
    match do_login(&state, &client, request, old_token).await {
        Ok(LoginOutcome::SecondFactor(pending, cookie)) => {
            let mut response = if is_form {
                Redirect::to("/login?step=mfa").into_response()
            } else {
                (StatusCode::ACCEPTED, Json(pending)).into_response()
            };
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Ok(LoginOutcome::Session(me, cookie)) => {
            let mut response = if is_form {
                let target = if me.must_change_password {
                    "/password"
                } else if me.user.role.is_admin() {
                    "/admin"
                } else {
                    "/"
                };
                Redirect::to(target).into_response()
            } else {
                Json(me).into_response()
            };
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(error) if is_form => {
            let code = error.code.code();
            Redirect::to(&format!("/login?error={code}")).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// What a right password leads to.
enum LoginOutcome {
    Session(MeResponse, HeaderValue),
    /// The second factor (or its enrolment) comes next; the cookie names the pending login.
    SecondFactor(MfaPending, HeaderValue),
}

pub(super) fn session_cookie(token: &str) -> HeaderValue {
    // No Max-Age: the cookie ends with the browser session; the server enforces the idle and
    // absolute limits in any case.
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .expect("token is URL-safe base64")
}

fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
    ))
    .expect("static cookie")
}

async fn do_login(
    state: &AppState,
    client: &ClientInfo,
    request: LoginRequest,
    old_token: Option<String>,
) -> ApiResult<LoginOutcome> {
    let login_id = truncate(&request.login_id, MAX_CREDENTIAL_CHARS);
    let password = truncate(&request.password, MAX_CREDENTIAL_CHARS);
    let config = &state.config;
    let now = state.now();
    // Per account as well as per address (the middleware): a distributed guess at one account
    // is slowed down too (the lockout then stops it).
    if let Err(retry_after) = state.rate_limits.check(
        crate::auth::ratelimit::Scope::LoginByAccount,
        &login_id.to_lowercase(),
        config.rate_limit_login_per_account_per_minute,
        std::time::Instant::now(),
    ) {
        state
            .metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::rate_limited(retry_after));
    }
    let user = state.db.user_by_login_id(&login_id).await?;
    let event = |outcome, detail: &str| NewAuditEvent {
        at: now,
        actor_kind: if user.is_some() {
            ActorKind::User
        } else {
            ActorKind::Anonymous
        },
        actor_id: user.as_ref().map(|u| u.id.to_string()),
        actor_label: Some(truncate(&login_id, 64)),
        group_id: user.as_ref().map(|u| u.group_id.to_string()),
        action: "auth.login",
        target: None,
        client_ip: client.ip_text(),
        user_agent: client.user_agent.clone(),
        outcome,
        detail: Some(detail.to_owned()),
    };
    let fail = || {
        state
            .metrics
            .logins_failed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::new(ErrorCode::LoginFailed)
    };
    let window_start = now - config.lockout_window_secs as i64 * 1000;
    let threshold = i64::from(config.lockout_threshold);
    // Reserve the attempt before checking the password (see `reserve_login_attempt`).
    let attempt = match &user {
        Some(u) => {
            state
                .db
                .reserve_login_attempt(u.id, now, window_start)
                .await?
        }
        None => None,
    };
    let over_limit = attempt.is_some_and(|n| n > threshold);
    let hash = match (&user, attempt) {
        (Some(u), Some(_)) if !over_limit => u.password_hash.clone(),
        // Unknown ID, locked account, or one of too many parallel attempts: verify against a
        // dummy so the answer takes as long and says nothing.
        _ => password::dummy_hash().to_owned(),
    };
    let password_ok = password::verify_password_limited(password, hash).await?;
    let Some(user) = user.as_ref() else {
        state
            .audit(event(Outcome::Failure, "unknown login ID"))
            .await;
        return Err(fail());
    };
    let Some(failures) = attempt else {
        state.audit(event(Outcome::Failure, "account locked")).await;
        return Err(fail());
    };
    // With a second factor the reserved attempt stays counted until the code is right too, so
    // that guesses at the code count towards the same lockout as guesses at the password.
    let needs_second_factor =
        user.totp_enabled || super::mfa::group_requires_mfa(state, user).await?;
    let succeeded = password_ok
        && !over_limit
        && (needs_second_factor || state.db.login_succeeded(user.id, now).await?);
    if !succeeded {
        state
            .audit(event(
                Outcome::Failure,
                if over_limit {
                    "too many attempts"
                } else {
                    "wrong password"
                },
            ))
            .await;
        lock_if_over_threshold(state, user, client, failures).await?;
        return Err(fail());
    }
    // A group that signs in with SSO only: said only now, after a right password, so that it
    // tells nothing to someone guessing.
    if super::sso::password_login_refused(state, user).await? {
        state
            .audit(event(
                Outcome::Denied,
                "password login is off for the group (SSO only)",
            ))
            .await;
        return Err(ApiError::new(ErrorCode::SsoRequired));
    }
    // The group's IP allow-list: checked only now, so the answer is the same generic failure
    // as a wrong password (no oracle for "right password, wrong network"); the audit says why.
    if !crate::auth::network_allows(state, user, client).await? {
        state
            .audit(event(
                Outcome::Denied,
                "address not in the group's allow-list",
            ))
            .await;
        let mut refused = event(Outcome::Denied, "login");
        refused.action = "auth.ip_refused";
        state.audit(refused).await;
        return Err(fail());
    }
    if needs_second_factor {
        let purpose = if user.totp_enabled {
            ChallengePurpose::Verify
        } else {
            ChallengePurpose::Enroll
        };
        let (pending, cookie) = super::mfa::start_challenge(state, user, purpose).await?;
        let mut step = event(Outcome::Success, "");
        step.action = "auth.mfa_challenge";
        step.detail = Some(format!("password right; {} next", purpose.as_str()));
        state.audit(step).await;
        return Ok(LoginOutcome::SecondFactor(pending, cookie));
    }
    let (me, cookie) = start_session(state, client, user, old_token).await?;
    state.audit(event(Outcome::Success, "password")).await;
    Ok(LoginOutcome::Session(me, cookie))
}

/// Locks the account when `failures` reached the threshold (audited once, at the threshold).
pub(super) async fn lock_if_over_threshold(
    state: &AppState,
    user: &crate::db::users::User,
    client: &ClientInfo,
    failures: i64,
) -> ApiResult<()> {
    let now = state.now();
    let threshold = i64::from(state.config.lockout_threshold);
    if failures < threshold {
        return Ok(());
    }
    let until = now + state.config.lockout_duration_secs as i64 * 1000;
    state.db.lock_user(user.id, until).await?;
    if failures == threshold {
        state
            .metrics
            .lockouts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        state
            .audit(NewAuditEvent {
                at: now,
                actor_kind: ActorKind::User,
                actor_id: Some(user.id.to_string()),
                actor_label: Some(user.login_id.clone()),
                group_id: Some(user.group_id.to_string()),
                action: "auth.lockout",
                target: None,
                client_ip: client.ip_text(),
                user_agent: client.user_agent.clone(),
                outcome: Outcome::Success,
                detail: Some(format!(
                    "{failures} failures; locked until {}",
                    crate::clock::to_rfc3339(until)
                )),
            })
            .await;
    }
    Ok(())
}

/// Creates the login session (a fresh token: one planted before login, by session fixation, is
/// dropped) and the cookie that carries it.
pub(super) async fn start_session(
    state: &AppState,
    client: &ClientInfo,
    user: &crate::db::users::User,
    old_token: Option<String>,
) -> ApiResult<(MeResponse, HeaderValue)> {
    let config = &state.config;
    let now = state.now();
    if let Some(old) = old_token {
        state
            .db
            .delete_session_by_token(&tokens::sha256_hex(&old))
            .await?;
    }
    let token = tokens::random_token();
    let csrf_token = tokens::random_token();
    let ip = client.ip_text();
    state
        .db
        .create_session(
            &NewSession {
                token_hash: &tokens::sha256_hex(&token),
                csrf_token: &csrf_token,
                user_id: user.id,
                idle_expires_at: now + config.session_idle_timeout_secs as i64 * 1000,
                absolute_expires_at: now + config.session_absolute_timeout_secs as i64 * 1000,
                client_ip: ip.as_deref(),
                user_agent: client.user_agent.as_deref(),
            },
            now,
        )
        .await?;
    state
        .metrics
        .logins_succeeded
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let me = MeResponse {
        user: UserView::new(user, now),
        csrf_token,
        must_change_password: user.must_change_password,
    };
    Ok((me, session_cookie(&token)))
}

/// End the current session.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Logged out"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, me: SessionUser) -> ApiResult<Response> {
    state.db.delete_session(me.session.id).await?;
    state
        .audit(me.event(state.now(), "auth.logout", Outcome::Success))
        .await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

/// The logged-in user and the CSRF token for this session.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, me: SessionUser) -> Json<MeResponse> {
    Json(MeResponse {
        user: UserView::new(&me.user, state.now()),
        csrf_token: me.session.csrf_token.clone(),
        must_change_password: me.user.must_change_password,
    })
}

/// Change your own password. Other sessions of the account are ended.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth",
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    me: SessionUser,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let now = state.now();
    let current_ok = password::verify_password_limited(
        truncate(&request.current_password, MAX_CREDENTIAL_CHARS),
        me.user.password_hash.clone(),
    )
    .await?;
    if !current_ok {
        let mut event = me.event(now, "auth.password_change", Outcome::Failure);
        event.detail = Some("current password wrong".into());
        state.audit(event).await;
        return Err(ErrorCode::CurrentPasswordWrong.into());
    }
    let mut violations: Vec<&'static str> = check_policy(&request.new_password, &me.user.login_id)
        .into_iter()
        .map(|v| v.code())
        .collect();
    if request.new_password == request.current_password {
        violations.push("password_unchanged");
    }
    if !violations.is_empty() {
        return Err(ApiError::new(ErrorCode::PasswordPolicy).with_details(violations));
    }
    let hash = password::hash_password_limited(request.new_password).await?;
    state.db.set_password(me.user.id, &hash, false, now).await?;
    state
        .db
        .delete_user_sessions(me.user.id, Some(me.session.id))
        .await?;
    state
        .audit(me.event(now, "auth.password_change", Outcome::Success))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Your own login history (logins, failures, lockouts, logouts, password changes), newest first.
#[utoipa::path(get, path = "/api/auth/login-history", tag = "auth",
    responses((status = 200, body = AuditEventList), (status = 401, body = ErrorBody)))]
async fn login_history(
    State(state): State<AppState>,
    me: SessionUser,
) -> ApiResult<Json<AuditEventList>> {
    // Exact actor ID in SQL: a failed login typed as someone's user ID must not push their
    // real history out of the page.
    let filter = AuditFilter {
        actor_id: Some(me.user.id.to_string()),
        actions_in: Some(LOGIN_HISTORY_ACTIONS),
        limit: 200,
        ..AuditFilter::default()
    };
    let events = state.db.list_audit_events(&filter).await?;
    Ok(Json(AuditEventList {
        events: events.into_iter().map(Into::into).collect(),
    }))
}
