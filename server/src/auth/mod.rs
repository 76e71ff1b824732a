//! Authentication and authorization: who is calling, and may they touch this group's data.
//!
//! - [`SessionUser`]: a logged-in user (cookie session), with the CSRF token checked on every
//!   state-changing request. [`ActiveUser`] additionally refuses users who must first change
//!   their password.
//! - [`DeviceCaller`]: a paired camera device (`Authorization: Bearer radev_...`).
//! - [`ClientInfo`]: address and user agent, for the audit log.
//!
//! Group scoping is decided here ([`SessionUser::may_manage_group`], [`SessionUser::scope`]) and
//! applied by every handler on the server side: a group admin's queries always carry their
//! group.

pub mod csrf;
pub mod network;
pub mod oidc;
pub mod password;
pub mod ratelimit;
pub mod tokens;
pub mod totp;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use crate::api::error::{ApiError, ErrorCode};
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::devices::Device;
use crate::db::sessions::LoginSession;
use crate::db::users::{Role, User};
use crate::ids::GroupId;
use crate::state::AppState;

/// Name of the session cookie. The `__Host-` prefix makes browsers refuse it unless it is
/// Secure, host-only and for path `/`, so a sibling subdomain cannot plant or overwrite it.
pub const SESSION_COOKIE: &str = "__Host-ra_session";
/// Header carrying the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Longest user agent kept in the audit log.
const MAX_USER_AGENT: usize = 256;

/// The caller's address and user agent.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn from_parts(parts: &Parts) -> Self {
        // The address decided by `network::resolve_client_ip` (trusted proxies), else the peer.
        let ip = parts
            .extensions
            .get::<network::EffectiveIp>()
            .map(|ip| ip.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip())
            });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        Self { ip, user_agent }
    }

    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// Reads one cookie from the `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether the group's IP allow-lists let `user` in from `client` (the user list for everyone,
/// the admin list too for administrators).
pub async fn network_allows(
    state: &AppState,
    user: &crate::db::users::User,
    client: &ClientInfo,
) -> Result<bool, ApiError> {
    let Some(group) = state.db.group(user.group_id).await? else {
        return Ok(true);
    };
    let users = network::parse_networks(&group.allowed_ips).unwrap_or_default();
    if !network::allowed(&users, client.ip) {
        return Ok(false);
    }
    if user.role.is_admin() {
        let admins = network::parse_networks(&group.admin_allowed_ips).unwrap_or_default();
        return Ok(network::allowed(&admins, client.ip));
    }
    Ok(true)
}

/// A logged-in user with a live session.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub user: User,
    pub session: LoginSession,
    pub client: ClientInfo,
}

impl SessionUser {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// The group a listing is limited to: `None` means every group (system admin).
    pub fn scope(&self) -> Option<GroupId> {
        match self.user.role {
            Role::SystemAdmin => None,
            _ => Some(self.user.group_id),
        }
    }

    /// Whether this user may manage users and devices of `group`.
    pub fn may_manage_group(&self, group: GroupId) -> bool {
        match self.user.role {
            Role::SystemAdmin => true,
            Role::GroupAdmin => self.user.group_id == group,
            Role::Supporter => false,
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role.is_admin() {
            Ok(())
        } else {
            Err(ErrorCode::Forbidden.into())
        }
    }

    pub fn require_system_admin(&self) -> Result<(), ApiError> {
        if self.user.role == Role::SystemAdmin {
            Ok(())
        } else {
            Err(ErrorCode::Forbidden.into())
        }
    }

    /// An audit event with this user as the actor.
    pub fn event(&self, at: i64, action: &'static str, outcome: Outcome) -> NewAuditEvent {
        NewAuditEvent {
            at,
            actor_kind: ActorKind::User,
            actor_id: Some(self.user.id.to_string()),
            actor_label: Some(self.user.login_id.clone()),
            group_id: Some(self.user.group_id.to_string()),
            action,
            target: None,
            client_ip: self.client.ip_text(),
            user_agent: self.client.user_agent.clone(),
            outcome,
            detail: None,
        }
    }
}

/// Sessions are extended at most this often, so that a burst of requests costs one write.
const SESSION_EXTEND_GRANULARITY_MS: i64 = 60_000;

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(cached) = parts.extensions.get::<SessionUser>() {
            return Ok(cached.clone());
        }
        let token = cookie_value(&parts.headers, SESSION_COOKIE)
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        let now = state.now();
        let session = state
            .db
            .live_session(&tokens::sha256_hex(&token), now)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        let user = state
            .db
            .user(session.user_id)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotAuthenticated))?;
        if !is_safe_method(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !tokens::constant_time_eq(sent, &session.csrf_token) {
                state
                    .metrics
                    .csrf_rejections
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(ErrorCode::CsrfRejected.into());
            }
        }
        let client = ClientInfo::from_parts(parts);
        if !network_allows(state, &user, &client).await? {
            let mut event = NewAuditEvent {
                at: now,
                actor_kind: crate::db::audit::ActorKind::User,
                actor_id: Some(user.id.to_string()),
                actor_label: Some(user.login_id.clone()),
                group_id: Some(user.group_id.to_string()),
                action: "auth.ip_refused",
                target: None,
                client_ip: client.ip_text(),
                user_agent: client.user_agent.clone(),
                outcome: crate::db::audit::Outcome::Denied,
                detail: None,
            };
            event.detail = Some(format!("{} {}", parts.method, parts.uri.path()));
            state.audit(event).await;
            return Err(ErrorCode::IpNotAllowed.into());
        }
        let idle_ms = state.config.session_idle_timeout_secs as i64 * 1000;
        let new_idle = (now + idle_ms).min(session.absolute_expires_at);
        if new_idle - session.idle_expires_at >= SESSION_EXTEND_GRANULARITY_MS {
            state.db.extend_session(session.id, new_idle).await?;
        }
        let me = SessionUser {
            user,
            session,
            client,
        };
        parts.extensions.insert(me.clone());
        Ok(me)
    }
}

/// A logged-in user who is not required to change their password first.
#[derive(Clone, Debug)]
pub struct ActiveUser(pub SessionUser);

impl std::ops::Deref for ActiveUser {
    type Target = SessionUser;
    fn deref(&self) -> &SessionUser {
        &self.0
    }
}

impl FromRequestParts<AppState> for ActiveUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let me = SessionUser::from_request_parts(parts, state).await?;
        if me.user.must_change_password {
            return Err(ErrorCode::PasswordChangeRequired.into());
        }
        Ok(ActiveUser(me))
    }
}

/// A paired, not revoked camera device.
#[derive(Clone, Debug)]
pub struct DeviceCaller {
    pub device: Device,
    pub client: ClientInfo,
}

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|c| c.starts_with(tokens::DEVICE_CREDENTIAL_PREFIX))
            .ok_or(ApiError::new(ErrorCode::DeviceCredentialInvalid))?;
        let device = state
            .db
            .device_by_credential(&tokens::sha256_hex(credential))
            .await?
            .ok_or(ApiError::new(ErrorCode::DeviceCredentialInvalid))?;
        let now = state.now();
        if device
            .last_seen_at
            .is_none_or(|seen| now - seen >= SESSION_EXTEND_GRANULARITY_MS)
        {
            state.db.touch_device(device.id, now).await?;
        }
        Ok(DeviceCaller {
            device,
            client: ClientInfo::from_parts(parts),
        })
    }
}

pub fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
