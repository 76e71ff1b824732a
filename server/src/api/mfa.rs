//! Multi-factor authentication: TOTP enrolment (QR code, one-time recovery codes), the
//! second step of a login, turning it off, and an administrator's reset.
//!
//! A right password for an account with MFA (or in a group that requires it) creates no
//! session: it creates a *pending login* with its own short-lived cookie and CSRF token, which
//! can do exactly one thing: prove the second factor (or enrol one). Wrong codes count towards
//! the same lockout as wrong passwords, a pending login allows a few attempts only, and a code
//! is accepted once (the used time step is stored, so a replayed or older code is refused).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qrcode::QrCode;
use qrcode::render::svg;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{lock_if_over_threshold, start_session};
use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::views::{
    MfaCodeRequest, MfaDisableRequest, MfaEnabled, MfaPending, MfaSetupRequest, MfaSetupResponse,
};
use super::{ApiJson, ApiPath};
use crate::auth::{
    ActiveUser, CSRF_HEADER, ClientInfo, SESSION_COOKIE, SessionUser, cookie_value, password,
    tokens, totp,
};
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::mfa::{ChallengePurpose, MfaChallenge, StoredSecret};
use crate::db::users::User;
use crate::ids::UserId;
use crate::state::AppState;

/// Cookie naming a pending login (`__Host-`: Secure, host-only, path `/`).
pub const MFA_COOKIE: &str = "__Host-ra_mfa";
/// How long a pending login waits for its second factor.
const CHALLENGE_SECS: i64 = 300;
/// Code attempts per pending login; then the password is needed again.
const CHALLENGE_ATTEMPTS: i64 = 5;
/// Issuer shown in authenticator apps.
const ISSUER: &str = "remote-assist";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pending))
        .routes(routes!(verify))
        .routes(routes!(setup))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(reset_mfa))
}

pub(super) async fn group_requires_mfa(state: &AppState, user: &User) -> ApiResult<bool> {
    Ok(state
        .db
        .group(user.group_id)
        .await?
        .is_some_and(|g| g.mfa_required))
}

fn challenge_cookie(token: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{MFA_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .expect("token is URL-safe base64")
}

/// Starts a pending login for `user` after a right password.
pub(super) async fn start_challenge(
    state: &AppState,
    user: &User,
    purpose: ChallengePurpose,
) -> ApiResult<(MfaPending, HeaderValue)> {
    let now = state.now();
    let token = tokens::random_token();
    let csrf_token = tokens::random_token();
    let expires_at = now + CHALLENGE_SECS * 1000;
    state
        .db
        .create_mfa_challenge(
            &tokens::sha256_hex(&token),
            &csrf_token,
            user.id,
            purpose,
            now,
            expires_at,
        )
        .await?;
    Ok((
        MfaPending {
            second_factor: purpose,
            csrf_token,
            expires_at: crate::clock::to_rfc3339(expires_at),
        },
        challenge_cookie(&token, CHALLENGE_SECS),
    ))
}

/// A pending login, from its cookie; on state-changing requests its CSRF token is checked,
/// and the group's IP allow-list applies as to every request.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    pub challenge: MfaChallenge,
    pub user: User,
    pub client: ClientInfo,
}

impl FromRequestParts<AppState> for PendingLogin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = cookie_value(&parts.headers, MFA_COOKIE)
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        let challenge = state
            .db
            .mfa_challenge(&tokens::sha256_hex(&token), state.now())
            .await?
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        if !crate::auth::is_safe_method(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !tokens::constant_time_eq(sent, &challenge.csrf_token) {
                return Err(ErrorCode::CsrfRejected.into());
            }
        }
        let user = state
            .db
            .user(challenge.user_id)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        let client = ClientInfo::from_parts(parts);
        if !crate::auth::network_allows(state, &user, &client).await? {
            return Err(ErrorCode::IpNotAllowed.into());
        }
        Ok(PendingLogin {
            challenge,
            user,
            client,
        })
    }
}

/// Who is enrolling: a logged-in user, or a login whose group requires MFA.
enum Enroller {
    Session(SessionUser),
    Login(PendingLogin),
}

impl Enroller {
    fn user(&self) -> &User {
        match self {
            Enroller::Session(me) => &me.user,
            Enroller::Login(login) => &login.user,
        }
    }

    fn client(&self) -> &ClientInfo {
        match self {
            Enroller::Session(me) => &me.client,
            Enroller::Login(login) => &login.client,
        }
    }
}

impl FromRequestParts<AppState> for Enroller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if cookie_value(&parts.headers, SESSION_COOKIE).is_some() {
            match SessionUser::from_request_parts(parts, state).await {
                Ok(me) => return Ok(Enroller::Session(me)),
                Err(error) if cookie_value(&parts.headers, MFA_COOKIE).is_none() => {
                    return Err(error);
                }
                Err(_) => {}
            }
        }
        let login = PendingLogin::from_request_parts(parts, state).await?;
        if login.challenge.purpose != ChallengePurpose::Enroll {
            return Err(ErrorCode::Forbidden.into());
        }
        Ok(Enroller::Login(login))
    }
}

fn event(
    user: &User,
    client: &ClientInfo,
    at: i64,
    action: &'static str,
    outcome: Outcome,
) -> NewAuditEvent {
    NewAuditEvent {
        at,
        actor_kind: ActorKind::User,
        actor_id: Some(user.id.to_string()),
        actor_label: Some(user.login_id.clone()),
        group_id: Some(user.group_id.to_string()),
        action,
        target: None,
        client_ip: client.ip_text(),
        user_agent: client.user_agent.clone(),
        outcome,
        detail: None,
    }
}

fn unwrap_secret(
    state: &AppState,
    user: UserId,
    stored: &StoredSecret,
) -> ApiResult<crate::storage::crypto::DataKey> {
    crate::storage::unwrap_key(
        &state.keyring,
        &stored.key_id,
        &stored.wrapped,
        &user.to_string(),
    )
    .map_err(ApiError::internal)
}

/// Counts one code attempt of a pending login against its own limit and the account's
/// lockout; `Err` when the attempt may not even be tried (the pending login is then ended).
async fn count_attempt(state: &AppState, login: &PendingLogin) -> ApiResult<i64> {
    let attempts = state.db.count_mfa_attempt(&login.challenge.id).await?;
    let now = state.now();
    let window_start = now - state.config.lockout_window_secs as i64 * 1000;
    let failures = state
        .db
        .reserve_login_attempt(login.user.id, now, window_start)
        .await?;
    let threshold = i64::from(state.config.lockout_threshold);
    match failures {
        Some(n) if n <= threshold && attempts <= CHALLENGE_ATTEMPTS => Ok(n),
        _ => {
            state.db.delete_mfa_challenge(&login.challenge.id).await?;
            let mut refused = event(
                &login.user,
                &login.client,
                now,
                "auth.login",
                Outcome::Failure,
            );
            refused.detail = Some("second factor: too many attempts or account locked".into());
            state.audit(refused).await;
            if let Some(n) = failures {
                lock_if_over_threshold(state, &login.user, &login.client, n).await?;
            }
            Err(ApiError::new(ErrorCode::LoginFailed))
        }
    }
}

/// A wrong code during a login: audited, may lock the account.
async fn wrong_code(state: &AppState, login: &PendingLogin, failures: i64, why: &str) -> ApiError {
    let mut failed = event(
        &login.user,
        &login.client,
        state.now(),
        "auth.login",
        Outcome::Failure,
    );
    failed.detail = Some(format!("second factor: {why}"));
    state.audit(failed).await;
    if let Err(error) = lock_if_over_threshold(state, &login.user, &login.client, failures).await {
        return error;
    }
    state
        .metrics
        .logins_failed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ApiError::new(ErrorCode::MfaCodeInvalid)
}

/// Ends the pending login and starts the session, with both cookies in the answer.
async fn finish_login(
    state: &AppState,
    login: &PendingLogin,
    old_session: Option<String>,
    how: String,
) -> ApiResult<(super::views::MeResponse, [HeaderValue; 2])> {
    state.db.delete_mfa_challenge(&login.challenge.id).await?;
    if !state.db.login_succeeded(login.user.id, state.now()).await? {
        return Err(ApiError::new(ErrorCode::LoginFailed));
    }
    let (me, cookie) = start_session(state, &login.client, &login.user, old_session).await?;
    let mut done = event(
        &login.user,
        &login.client,
        state.now(),
        "auth.login",
        Outcome::Success,
    );
    done.detail = Some(how);
    state.audit(done).await;
    Ok((me, [cookie, challenge_cookie("", 0)]))
}

/// The pending login of this browser: which second-factor step comes next, and its CSRF token.
#[utoipa::path(get, path = "/api/auth/mfa", tag = "auth",
    responses((status = 200, body = MfaPending), (status = 401, body = ErrorBody)))]
async fn pending(login: PendingLogin) -> Json<MfaPending> {
    Json(MfaPending {
        second_factor: login.challenge.purpose,
        csrf_token: login.challenge.csrf_token.clone(),
        expires_at: crate::clock::to_rfc3339(login.challenge.expires_at),
    })
}

/// The second step of a login: a code from the authenticator app or a recovery code.
#[utoipa::path(post, path = "/api/auth/mfa/verify", tag = "auth", request_body = MfaCodeRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = super::views::MeResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    login: PendingLogin,
    headers: axum::http::HeaderMap,
    ApiJson(request): ApiJson<MfaCodeRequest>,
) -> ApiResult<Response> {
    if login.challenge.purpose != ChallengePurpose::Verify {
        return Err(ErrorCode::Forbidden.into());
    }
    let failures = count_attempt(&state, &login).await?;
    let now = state.now();
    let code: String = request.code.chars().take(64).collect();
    let how = if totp::looks_like_recovery_code(&code) {
        if !state
            .db
            .use_recovery_code(login.user.id, &totp::recovery_code_hash(&code), now)
            .await?
        {
            return Err(wrong_code(&state, &login, failures, "wrong recovery code").await);
        }
        let left = state.db.unused_recovery_codes(login.user.id).await?;
        format!("password + recovery code ({left} left)")
    } else {
        let stored = state
            .db
            .totp_secret(login.user.id)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        let secret = unwrap_secret(&state, login.user.id, &stored)?;
        let Some(step) = totp::matching_step(secret.expose(), &code, now) else {
            return Err(wrong_code(&state, &login, failures, "wrong code").await);
        };
        if !state.db.accept_totp_step(login.user.id, step).await? {
            return Err(wrong_code(&state, &login, failures, "code already used").await);
        }
        "password + TOTP".to_owned()
    };
    let old = cookie_value(&headers, SESSION_COOKIE);
    let (me, cookies) = finish_login(&state, &login, old, how).await?;
    let mut response = Json(me).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Start enrolling a TOTP authenticator: a new secret, as text, URI and QR code. Logged-in
/// users confirm with their password; a login whose group requires MFA needs nothing more.
#[utoipa::path(post, path = "/api/auth/mfa/setup", tag = "auth", request_body = MfaSetupRequest,
    responses((status = 200, body = MfaSetupResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    who: Enroller,
    ApiJson(request): ApiJson<MfaSetupRequest>,
) -> ApiResult<Json<MfaSetupResponse>> {
    let user = who.user().clone();
    if let Enroller::Session(me) = &who {
        let given = request.password.unwrap_or_default();
        let right = password::verify_password_limited(
            given.chars().take(256).collect(),
            me.user.password_hash.clone(),
        )
        .await?;
        if !right {
            return Err(ErrorCode::CurrentPasswordWrong.into());
        }
    }
    if user.totp_enabled {
        // Replacing a working factor takes turning it off first (password), or an admin reset.
        return Err(ErrorCode::AlreadyExists.into());
    }
    let secret = crate::storage::crypto::DataKey::generate();
    let wrapped = state.keyring.wrap(&secret, &user.id.to_string());
    use base64::Engine;
    state
        .db
        .set_pending_totp(
            user.id,
            &StoredSecret {
                key_id: wrapped.key_id,
                wrapped: base64::engine::general_purpose::STANDARD.encode(&wrapped.blob),
            },
        )
        .await?;
    let uri = totp::otpauth_uri(ISSUER, &user.login_id, secret.expose());
    let qr_svg = QrCode::new(uri.as_bytes())
        .map_err(ApiError::internal)?
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok(Json(MfaSetupResponse {
        secret: totp::base32(secret.expose()),
        otpauth_uri: uri,
        qr_svg,
    }))
}

/// Finish enrolling with a code from the app: MFA is on, and the recovery codes are shown
/// once. During a login's enrolment step this also logs in.
#[utoipa::path(post, path = "/api/auth/mfa/enable", tag = "auth", request_body = MfaCodeRequest,
    responses((status = 200, body = MfaEnabled), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn enable(
    State(state): State<AppState>,
    who: Enroller,
    headers: axum::http::HeaderMap,
    ApiJson(request): ApiJson<MfaCodeRequest>,
) -> ApiResult<Response> {
    let user = who.user().clone();
    let failures = match &who {
        Enroller::Login(login) => Some(count_attempt(&state, login).await?),
        Enroller::Session(_) => None,
    };
    let stored = state.db.pending_totp(user.id).await?.ok_or_else(|| {
        ApiError::invalid("no enrolment in progress: call /api/auth/mfa/setup first")
    })?;
    let secret = unwrap_secret(&state, user.id, &stored)?;
    let now = state.now();
    let code: String = request.code.chars().take(64).collect();
    let Some(step) = totp::matching_step(secret.expose(), &code, now) else {
        return Err(match (&who, failures) {
            (Enroller::Login(login), Some(n)) => {
                wrong_code(&state, login, n, "wrong enrolment code").await
            }
            _ => ApiError::new(ErrorCode::MfaCodeInvalid),
        });
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    if !state.db.enable_totp(user.id, step, &hashes, now).await? {
        return Err(ApiError::invalid(
            "no enrolment in progress: call /api/auth/mfa/setup first",
        ));
    }
    state
        .audit(event(
            &user,
            who.client(),
            now,
            "auth.mfa_enable",
            Outcome::Success,
        ))
        .await;
    match &who {
        Enroller::Session(me) => {
            // Other sessions of the account were opened without the factor: end them.
            state
                .db
                .delete_user_sessions(user.id, Some(me.session.id))
                .await?;
            Ok(Json(MfaEnabled {
                recovery_codes: codes,
                session: None,
            })
            .into_response())
        }
        Enroller::Login(login) => {
            let old = cookie_value(&headers, SESSION_COOKIE);
            let (me, cookies) =
                finish_login(&state, login, old, "password + TOTP (enrolled)".into()).await?;
            let mut response = Json(MfaEnabled {
                recovery_codes: codes,
                session: Some(me),
            })
            .into_response();
            for cookie in cookies {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
    }
}

/// Turn your own second factor off (with your password); refused when your group requires MFA.
#[utoipa::path(post, path = "/api/auth/mfa/disable", tag = "auth", request_body = MfaDisableRequest,
    responses((status = 204, description = "MFA is off"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiJson(request): ApiJson<MfaDisableRequest>,
) -> ApiResult<StatusCode> {
    let right = password::verify_password_limited(
        request.password.chars().take(256).collect(),
        me.user.password_hash.clone(),
    )
    .await?;
    if !right {
        return Err(ErrorCode::CurrentPasswordWrong.into());
    }
    if group_requires_mfa(&state, &me.user).await? {
        return Err(ErrorCode::MfaRequiredByGroup.into());
    }
    state.db.disable_totp(me.user.id).await?;
    state
        .audit(me.event(state.now(), "auth.mfa_disable", Outcome::Success))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a user's second factor (a lost phone): it is removed, the user's sessions end, and
/// they enrol again at their next login if their group requires MFA.
#[utoipa::path(post, path = "/api/users/{id}/reset-mfa", tag = "users",
    params(("id" = UserId, Path)),
    responses((status = 204, description = "Reset"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn reset_mfa(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    me.require_admin()?;
    let target = super::users::managed_user(&state, &me, id, "user.mfa_reset").await?;
    state.db.disable_totp(id).await?;
    state.db.delete_user_sessions(id, None).await?;
    let mut event = me.event(state.now(), "user.mfa_reset", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(target.group_id.to_string());
    event.detail = Some(target.login_id);
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}
