//! Single sign-on with OpenID Connect, per group: system administrators set a group's provider
//! (`/api/groups/{id}/sso`); members sign in at `/api/auth/sso/start?group=NAME`, which sends
//! the browser to the provider, and come back to `/api/auth/sso/callback`.
//!
//! The sign-in in between is a row (state, nonce, PKCE verifier; single use, 10 minutes) named
//! by a `SameSite=Lax` cookie — the provider's redirect back is a cross-site navigation, which
//! a `Strict` cookie would not survive — so a callback only counts in the browser that started
//! it (no login CSRF). Users are found by the provider identity they are linked to (`iss` +
//! `sub`), else by the configured claim matched against login IDs of the group (e-mail only
//! when verified), else provisioned as supporters when the group allows it. A user of another
//! group is never matched. The group's IP allow-list and a locked account stop an SSO login as
//! they stop a password login. A second factor is the provider's business: the group's MFA
//! requirement applies to password logins.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::oidc::{self, ClientCredentials, OidcError, TokenCheck};
use crate::auth::{ActiveUser, ClientInfo, SESSION_COOKIE, cookie_value, tokens};
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::sso::{GroupSso, PendingSsoLogin, UserClaim};
use crate::db::users::{NewUser, Role, User};
use crate::ids::GroupId;
use crate::state::AppState;

/// Names the sign-in on its way through the provider.
pub const SSO_COOKIE: &str = "__Host-ra_sso";
/// How long a sign-in may take at the provider.
const SIGN_IN_TTL_MS: i64 = 10 * 60 * 1000;
const CALLBACK_PATH: &str = "/api/auth/sso/callback";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_group_sso, put_group_sso, delete_group_sso))
        .routes(routes!(sso_start))
        .routes(routes!(sso_callback))
}

/// A group's SSO settings as shown (never the client secret). Without settings, `configured`
/// is false and the fields are empty (the redirect URI is there to register at a provider).
#[derive(serde::Serialize, ToSchema)]
pub struct SsoSettingsView {
    pub configured: bool,
    pub issuer: String,
    pub client_id: String,
    /// A client secret is stored (it is never shown again).
    pub has_client_secret: bool,
    pub user_claim: UserClaim,
    /// Unknown users of the group are created as supporters at their first SSO login.
    pub provision: bool,
    /// Members log in only with SSO (system administrators keep their password login).
    pub password_login_disabled: bool,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    pub updated_at: Option<String>,
}

/// New SSO settings for a group.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoSettingsRequest {
    /// The provider's issuer URL (`https://`; `http://` only on this machine).
    pub issuer: String,
    pub client_id: String,
    /// Required the first time; left out, the stored one is kept.
    #[serde(default)]
    pub client_secret: Option<String>,
    pub user_claim: UserClaim,
    #[serde(default)]
    pub provision: bool,
    #[serde(default)]
    pub password_login_disabled: bool,
}

/// The callback URL of this server as browsers reach it (what the provider must have registered).
fn redirect_uri(state: &AppState, uri: &axum::http::Uri, headers: &HeaderMap) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        crate::auth::csrf::own_origin(state, uri, headers)
            .unwrap_or_else(|| "https://localhost".into())
    )
}

fn view(sso: Option<&GroupSso>, redirect_uri: String) -> SsoSettingsView {
    match sso {
        None => SsoSettingsView {
            configured: false,
            issuer: String::new(),
            client_id: String::new(),
            has_client_secret: false,
            user_claim: UserClaim::Email,
            provision: false,
            password_login_disabled: false,
            redirect_uri,
            updated_at: None,
        },
        Some(sso) => SsoSettingsView {
            configured: true,
            issuer: sso.issuer.clone(),
            client_id: sso.client_id.clone(),
            has_client_secret: !sso.client_secret.is_empty(),
            user_claim: sso.user_claim,
            provision: sso.provision,
            password_login_disabled: sso.password_login_disabled,
            redirect_uri,
            updated_at: Some(crate::clock::to_rfc3339(sso.updated_at)),
        },
    }
}

async fn admin_target(
    state: &AppState,
    me: &ActiveUser,
    id: GroupId,
    action: &'static str,
) -> ApiResult<NewAuditEvent> {
    let now = state.now();
    let mut event = me.event(now, action, Outcome::Denied);
    event.target = Some(id.to_string());
    if let Err(e) = me.require_system_admin() {
        state.audit(event).await;
        return Err(e);
    }
    if state.db.group(id).await?.is_none() {
        return Err(ErrorCode::NotFound.into());
    }
    Ok(event)
}

/// A group's single sign-on settings (system admin).
#[utoipa::path(get, path = "/api/groups/{id}/sso", tag = "groups",
    params(("id" = GroupId, Path)),
    responses((status = 200, body = SsoSettingsView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such group")))]
async fn get_group_sso(
    State(state): State<AppState>,
    me: ActiveUser,
    uri: axum::http::Uri,
    headers: HeaderMap,
    ApiPath(id): ApiPath<GroupId>,
) -> ApiResult<Json<SsoSettingsView>> {
    admin_target(&state, &me, id, "group.sso_read").await?;
    let sso = state.db.group_sso(id).await?;
    Ok(Json(view(
        sso.as_ref(),
        redirect_uri(&state, &uri, &headers),
    )))
}

/// Set a group's single sign-on provider (system admin). The provider is discovered before
/// anything is saved, so a wrong issuer URL is reported now rather than at the first login.
#[utoipa::path(put, path = "/api/groups/{id}/sso", tag = "groups",
    params(("id" = GroupId, Path)), request_body = SsoSettingsRequest,
    responses((status = 200, body = SsoSettingsView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_group_sso(
    State(state): State<AppState>,
    me: ActiveUser,
    uri: axum::http::Uri,
    headers: HeaderMap,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(request): ApiJson<SsoSettingsRequest>,
) -> ApiResult<Json<SsoSettingsView>> {
    let mut event = admin_target(&state, &me, id, "group.sso_update").await?;
    let issuer = request.issuer.trim().to_owned();
    let client_id = request.client_id.trim().to_owned();
    if issuer.len() > 500 || client_id.is_empty() || client_id.len() > 200 {
        return Err(ApiError::invalid(
            "issuer (at most 500 characters) and client_id (1 to 200) are required",
        ));
    }
    oidc::check_issuer(&issuer).map_err(|e| ApiError::invalid(e.to_string()))?;
    let existing = state.db.group_sso(id).await?;
    let (secret_key_id, secret_wrapped_key, client_secret) = match request.client_secret {
        Some(secret) if !secret.is_empty() && secret.len() <= 512 => {
            let (wrapped, sealed) =
                crate::storage::seal_secret(&state.keyring, &id.to_string(), secret.as_bytes());
            (
                wrapped.key_id,
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &wrapped.blob),
                sealed,
            )
        }
        Some(_) => return Err(ApiError::invalid("client_secret: 1 to 512 characters")),
        None => match &existing {
            Some(old) => (
                old.secret_key_id.clone(),
                old.secret_wrapped_key.clone(),
                old.client_secret.clone(),
            ),
            None => return Err(ApiError::invalid("client_secret is required")),
        },
    };
    if let Err(error) = state.oidc.provider(&issuer).await {
        return Err(ApiError::invalid(format!(
            "the provider could not be discovered: {error}"
        )));
    }
    let sso = GroupSso {
        group_id: id,
        issuer,
        client_id,
        secret_key_id,
        secret_wrapped_key,
        client_secret,
        user_claim: request.user_claim,
        provision: request.provision,
        password_login_disabled: request.password_login_disabled,
        updated_at: state.now(),
    };
    state.db.put_group_sso(&sso).await?;
    event.outcome = Outcome::Success;
    event.detail = Some(format!(
        "issuer {} client {} claim {} provision {} password login {}",
        sso.issuer,
        sso.client_id,
        sso.user_claim.as_str(),
        sso.provision,
        if sso.password_login_disabled {
            "off"
        } else {
            "on"
        }
    ));
    state.audit(event).await;
    Ok(Json(view(Some(&sso), redirect_uri(&state, &uri, &headers))))
}

/// Remove a group's single sign-on (system admin); its members log in with passwords again.
#[utoipa::path(delete, path = "/api/groups/{id}/sso", tag = "groups",
    params(("id" = GroupId, Path)),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_group_sso(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<GroupId>,
) -> ApiResult<StatusCode> {
    let mut event = admin_target(&state, &me, id, "group.sso_delete").await?;
    if !state.db.delete_group_sso(id).await? {
        return Err(ErrorCode::NotFound.into());
    }
    event.outcome = Outcome::Success;
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Which group signs in.
#[derive(Deserialize, IntoParams)]
pub struct SsoStartQuery {
    /// The group's name, as the administrator told its members.
    pub group: String,
}

fn sso_event(
    client: &ClientInfo,
    now: i64,
    group: Option<GroupId>,
    outcome: Outcome,
    detail: String,
) -> NewAuditEvent {
    NewAuditEvent {
        at: now,
        actor_kind: ActorKind::Anonymous,
        actor_id: None,
        actor_label: None,
        group_id: group.map(|g| g.to_string()),
        action: "auth.login",
        target: None,
        client_ip: client.ip_text(),
        user_agent: client.user_agent.clone(),
        outcome,
        detail: Some(format!("sso: {detail}")),
    }
}

fn back_to_login(code: ErrorCode) -> Response {
    Redirect::to(&format!("/login?error={}", code.code())).into_response()
}

fn sign_in_cookie(token: &str, max_age_secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SSO_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}"
    ))
    .expect("token is URL-safe base64")
}

/// Start a single sign-on: redirects to the group's provider (or back to the login page with
/// `error=sso_failed` when the group has no SSO or its provider cannot be reached).
#[utoipa::path(get, path = "/api/auth/sso/start", tag = "auth", params(SsoStartQuery),
    responses((status = 303, description = "To the provider's authorization endpoint, or back \
        to /login with an error code")))]
async fn sso_start(
    State(state): State<AppState>,
    client: ClientInfo,
    uri: axum::http::Uri,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SsoStartQuery>,
) -> Response {
    let now = state.now();
    let name: String = query.group.trim().chars().take(200).collect();
    let group = match state.db.group_by_name(&name).await {
        Ok(Some(group)) => group,
        Ok(None) => return back_to_login(ErrorCode::SsoFailed),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let sso = match state.db.group_sso(group.id).await {
        Ok(Some(sso)) => sso,
        Ok(None) => return back_to_login(ErrorCode::SsoFailed),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let provider = match state.oidc.provider(&sso.issuer).await {
        Ok(provider) => provider,
        Err(error) => {
            state
                .audit(sso_event(
                    &client,
                    now,
                    Some(group.id),
                    Outcome::Failure,
                    error.to_string(),
                ))
                .await;
            return back_to_login(ErrorCode::SsoFailed);
        }
    };
    let pending = PendingSsoLogin {
        group_id: group.id,
        state: oidc::random_value(),
        nonce: oidc::random_value(),
        pkce_verifier: oidc::random_value(),
        redirect_uri: redirect_uri(&state, &uri, &headers),
        expires_at: now + SIGN_IN_TTL_MS,
    };
    let token = tokens::random_token();
    if let Err(error) = state
        .db
        .create_sso_login(&tokens::sha256_hex(&token), &pending, now)
        .await
    {
        return ApiError::from(error).into_response();
    }
    let target = oidc::authorization_url(
        &provider,
        &sso.client_id,
        &pending.redirect_uri,
        &pending.state,
        &pending.nonce,
        &pending.pkce_verifier,
    );
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        sign_in_cookie(&token, SIGN_IN_TTL_MS / 1000),
    );
    response
}

/// What the provider sends the browser back with.
#[derive(Deserialize, IntoParams)]
pub struct SsoCallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// The issuer (RFC 9207), when the provider sends it.
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// Why a callback did not log anyone in (audited; the browser only sees `sso_failed`).
struct Refusal {
    group: Option<GroupId>,
    user: Option<User>,
    detail: String,
}

impl Refusal {
    fn new(group: Option<GroupId>, detail: impl Into<String>) -> Self {
        Self {
            group,
            user: None,
            detail: detail.into(),
        }
    }
}

/// The provider's redirect back: checks the sign-in and the ID token, finds (or provisions)
/// the user and logs them in. Answers a small page that continues to the console (a redirect
/// chain that began at another site would not carry the new `SameSite=Strict` session cookie).
#[utoipa::path(get, path = "/api/auth/sso/callback", tag = "auth", params(SsoCallbackQuery),
    responses((status = 200, description = "Logged in; the session cookie is set and the page \
        continues to the console", content_type = "text/html"),
        (status = 303, description = "Refused: back to /login with error=sso_failed")))]
async fn sso_callback(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SsoCallbackQuery>,
) -> Response {
    let now = state.now();
    let forget_sign_in = sign_in_cookie("", 0);
    let outcome = complete_sign_in(&state, &client, &headers, &query).await;
    let mut response = match outcome {
        Ok((user, cookie)) => {
            // Where a password login goes too (a user an administrator created with a first
            // password still has to replace it: the flag is the account's, not the login's).
            let target = if user.must_change_password {
                "/password"
            } else if user.role.is_admin() {
                "/admin"
            } else {
                "/"
            };
            let mut event = sso_event(
                &client,
                now,
                Some(user.group_id),
                Outcome::Success,
                "logged in".into(),
            );
            event.actor_kind = ActorKind::User;
            event.actor_id = Some(user.id.to_string());
            event.actor_label = Some(user.login_id.clone());
            state.audit(event).await;
            let page = format!(
                "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
                 <meta http-equiv=\"refresh\" content=\"0;url={target}\"><title>remote-assist</title>\
                 </head><body><p><a href=\"{target}\">続行 / Continue</a></p></body></html>"
            );
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(stop) => match *stop {
            Stop::Error(error) => error.into_response(),
            Stop::Refused(refusal) => {
                let mut event = sso_event(
                    &client,
                    now,
                    refusal.group,
                    Outcome::Failure,
                    refusal.detail,
                );
                if let Some(user) = &refusal.user {
                    event.actor_kind = ActorKind::User;
                    event.actor_id = Some(user.id.to_string());
                    event.actor_label = Some(user.login_id.clone());
                    event.outcome = Outcome::Denied;
                }
                state.audit(event).await;
                back_to_login(ErrorCode::SsoFailed)
            }
        },
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, forget_sign_in);
    response
}

/// How a callback stops short of a login: refused (audited, `sso_failed`), or an error of ours.
enum Stop {
    Refused(Refusal),
    Error(ApiError),
}

fn refused(refusal: Refusal) -> Box<Stop> {
    Box::new(Stop::Refused(refusal))
}

fn failed(error: impl Into<ApiError>) -> Box<Stop> {
    Box::new(Stop::Error(error.into()))
}

type SignInResult = Result<(User, HeaderValue), Box<Stop>>;

async fn complete_sign_in(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    query: &SsoCallbackQuery,
) -> SignInResult {
    let now = state.now();
    let refuse = |group: Option<GroupId>, detail: String| Err(refused(Refusal::new(group, detail)));
    let Some(token) = cookie_value(headers, SSO_COOKIE) else {
        return refuse(
            None,
            "no sign-in cookie (started in another browser?)".into(),
        );
    };
    let pending = state
        .db
        .take_sso_login(&tokens::sha256_hex(&token))
        .await
        .map_err(failed)?;
    let Some(pending) = pending else {
        return refuse(None, "unknown or already used sign-in".into());
    };
    let group = Some(pending.group_id);
    if pending.expires_at < now {
        return refuse(group, "the sign-in expired".into());
    }
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|s| tokens::constant_time_eq(s, &pending.state));
    if !state_matches {
        return refuse(group, "state differs from the one sent".into());
    }
    if let Some(error) = &query.error {
        let error: String = error.chars().take(100).collect();
        return refuse(group, format!("the provider answered error={error}"));
    }
    let Some(code) = query.code.as_deref() else {
        return refuse(group, "no authorization code".into());
    };
    let Some(sso) = state.db.group_sso(pending.group_id).await.map_err(failed)? else {
        return refuse(group, "the group's SSO was removed meanwhile".into());
    };
    let provider_error = |e: OidcError| refused(Refusal::new(group, e.to_string()));
    let mut provider = state
        .oidc
        .provider(&sso.issuer)
        .await
        .map_err(provider_error)?;
    // RFC 9207: the answer names the provider that sent it (mix-up attacks).
    match &query.iss {
        Some(iss) if iss != &provider.meta.issuer => {
            return refuse(group, format!("the answer names issuer {iss:?}"));
        }
        None if provider.meta.authorization_response_iss_parameter_supported => {
            return refuse(group, "the answer names no issuer".into());
        }
        _ => {}
    }
    let secret = crate::storage::open_secret(
        &state.keyring,
        &sso.secret_key_id,
        &sso.secret_wrapped_key,
        &sso.group_id.to_string(),
        &sso.client_secret,
    )
    .map_err(|e| refused(Refusal::new(group, format!("client secret: {e}"))))?;
    let secret = String::from_utf8(secret)
        .map_err(|_| refused(Refusal::new(group, "client secret is not text")))?;
    let credentials = ClientCredentials {
        client_id: &sso.client_id,
        client_secret: &secret,
        redirect_uri: &pending.redirect_uri,
    };
    let id_token = state
        .oidc
        .exchange_code(&provider, &credentials, code, &pending.pkce_verifier)
        .await
        .map_err(provider_error)?;
    let leeway = oidc::DEFAULT_LEEWAY_SECS;
    let mut checked =
        oidc::verify_id_token(&id_token, &provider, &sso.client_id, &pending.nonce, leeway);
    if matches!(checked, Err(TokenCheck::UnknownKey))
        && let Some(fresh) = state
            .oidc
            .refresh_keys(&sso.issuer)
            .await
            .map_err(provider_error)?
    {
        provider = fresh;
        checked =
            oidc::verify_id_token(&id_token, &provider, &sso.client_id, &pending.nonce, leeway);
    }
    let claims = match checked {
        Ok(claims) => claims,
        Err(TokenCheck::UnknownKey) => {
            return refuse(group, "the ID token is signed by an unknown key".into());
        }
        Err(TokenCheck::Refused(why)) => {
            return refuse(group, format!("the ID token is not acceptable: {why}"));
        }
    };
    let user = find_or_provision(state, &sso, &claims)
        .await
        .map_err(|e| match e {
            Ok(detail) => refused(Refusal::new(group, detail)),
            Err(error) => failed(error),
        })?;
    let denied = |user: &User, detail: &str| {
        Err(refused(Refusal {
            group,
            user: Some(user.clone()),
            detail: detail.to_owned(),
        }))
    };
    if user.is_locked(now) {
        return denied(&user, "the account is locked");
    }
    match crate::auth::network_allows(state, &user, client).await {
        Ok(true) => {}
        Ok(false) => return denied(&user, "address not in the group's allow-list"),
        Err(error) => return Err(failed(error)),
    }
    let old_token = cookie_value(headers, SESSION_COOKIE);
    let (_, cookie) = super::auth::start_session(state, client, &user, old_token)
        .await
        .map_err(failed)?;
    Ok((user, cookie))
}

/// The user an ID token stands for: linked by provider identity, else matched by the group's
/// claim, else provisioned (when the group allows). `Err(Ok(why))` refuses.
async fn find_or_provision(
    state: &AppState,
    sso: &GroupSso,
    claims: &oidc::IdClaims,
) -> Result<User, Result<String, ApiError>> {
    let db_error = |e: crate::db::DbError| Err(ApiError::from(e));
    let subject = format!("{} {}", claims.iss, claims.sub);
    if let Some(id) = state
        .db
        .user_by_sso_subject(&subject)
        .await
        .map_err(db_error)?
    {
        let user = state.db.user(id).await.map_err(db_error)?;
        return match user {
            Some(user) if user.group_id == sso.group_id => Ok(user),
            // Linked while in another group: moving a user does not carry SSO over.
            _ => Err(Ok(format!(
                "identity {subject:?} belongs to a user of another group"
            ))),
        };
    }
    let login_id = match sso.user_claim {
        UserClaim::Email if claims.email_verified == Some(true) => claims.email.clone(),
        UserClaim::Email => None,
        UserClaim::PreferredUsername => claims.preferred_username.clone(),
        UserClaim::Sub => Some(claims.sub.clone()),
    };
    let Some(login_id) = login_id
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
    else {
        return Err(Ok(format!(
            "the ID token has no usable {} claim{}",
            sso.user_claim.as_str(),
            if sso.user_claim == UserClaim::Email {
                " (a verified e-mail address)"
            } else {
                ""
            }
        )));
    };
    if login_id.chars().count() > 64 {
        return Err(Ok("the claim is longer than a login ID may be".into()));
    }
    if let Some(user) = state
        .db
        .user_by_login_id(&login_id)
        .await
        .map_err(db_error)?
    {
        if user.group_id != sso.group_id {
            return Err(Ok(format!(
                "login ID {login_id:?} is a user of another group"
            )));
        }
        if let Some(linked) = state.db.sso_subject_of(user.id).await.map_err(db_error)?
            && linked != subject
        {
            return Err(Ok(format!(
                "login ID {login_id:?} is linked to another provider identity"
            )));
        }
        state
            .db
            .link_sso_subject(user.id, &subject)
            .await
            .map_err(db_error)?;
        return Ok(user);
    }
    if !sso.provision {
        return Err(Ok(format!(
            "no user {login_id:?} in the group, and provisioning is off"
        )));
    }
    let now = state.now();
    // A random password nobody knows: the account is used through SSO (an administrator can
    // still reset it when the group goes back to passwords).
    let unusable = crate::auth::password::hash_password_async(tokens::random_token()).await;
    let display_name: String = claims
        .name
        .clone()
        .unwrap_or_else(|| login_id.clone())
        .chars()
        .take(100)
        .collect();
    let id = state
        .db
        .create_user(
            &NewUser {
                login_id: &login_id,
                display_name: &display_name,
                role: Role::Supporter,
                group_id: sso.group_id,
                password_hash: &unusable,
                must_change_password: false,
            },
            now,
        )
        .await
        .map_err(db_error)?;
    state
        .db
        .link_sso_subject(id, &subject)
        .await
        .map_err(db_error)?;
    state
        .audit(NewAuditEvent {
            at: now,
            actor_kind: ActorKind::System,
            actor_id: None,
            actor_label: Some("sso".into()),
            group_id: Some(sso.group_id.to_string()),
            action: "user.create",
            target: Some(id.to_string()),
            client_ip: None,
            user_agent: None,
            outcome: Outcome::Success,
            detail: Some(format!("provisioned by SSO as {login_id}")),
        })
        .await;
    state
        .db
        .user(id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Err(ApiError::new(ErrorCode::Internal)))
}

/// Whether a password login of `user` is refused because the group signs in with SSO only
/// (system administrators keep theirs, as the way back in when the provider fails).
pub async fn password_login_refused(state: &AppState, user: &User) -> ApiResult<bool> {
    if user.role == Role::SystemAdmin {
        return Ok(false);
    }
    Ok(state
        .db
        .group_sso(user.group_id)
        .await?
        .is_some_and(|sso| sso.password_login_disabled))
}
