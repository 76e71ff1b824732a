//! JSON shapes of the REST API (requests and answers), with their OpenAPI schemas, and the input
//! validation shared by the handlers.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use crate::clock::to_rfc3339;
use crate::db::audit::AuditEvent;
use crate::db::devices::Device;
use crate::db::groups::Group;
use crate::db::users::{Role, User};
use crate::ids::{DeviceId, GroupId, UserId};

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    pub group_id: GroupId,
    pub group_name: String,
    pub locked: bool,
    pub must_change_password: bool,
    /// A TOTP second factor is enrolled.
    pub mfa_enabled: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl UserView {
    pub fn new(user: &User, now: i64) -> Self {
        Self {
            id: user.id,
            login_id: user.login_id.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            group_id: user.group_id,
            group_name: user.group_name.clone(),
            locked: user.is_locked(now),
            must_change_password: user.must_change_password,
            mfa_enabled: user.totp_enabled,
            created_at: to_rfc3339(user.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub created_at: String,
    /// Sessions of this group are recorded.
    pub recording_enabled: bool,
    /// CIDRs the group's users must come from (empty: any).
    pub allowed_ips: Vec<String>,
    /// CIDRs its administrators must also come from (empty: any).
    pub admin_allowed_ips: Vec<String>,
    /// Members must log in with a second factor.
    pub mfa_required: bool,
}

impl From<&Group> for GroupView {
    fn from(g: &Group) -> Self {
        Self {
            id: g.id,
            name: g.name.clone(),
            created_at: to_rfc3339(g.created_at),
            recording_enabled: g.recording_enabled,
            allowed_ips: g.allowed_ips.clone(),
            admin_allowed_ips: g.admin_allowed_ips.clone(),
            mfa_required: g.mfa_required,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    pub id: DeviceId,
    pub group_id: GroupId,
    pub group_name: String,
    pub name: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Whether a phone holds a working credential for this device.
    pub paired: bool,
}

impl From<&Device> for DeviceView {
    fn from(d: &Device) -> Self {
        Self {
            id: d.id,
            group_id: d.group_id,
            group_name: d.group_name.clone(),
            name: d.name.clone(),
            created_at: to_rfc3339(d.created_at),
            last_seen_at: d.last_seen_at.map(to_rfc3339),
            revoked_at: d.revoked_at.map(to_rfc3339),
            paired: d.has_credential && d.revoked_at.is_none(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PairingView {
    /// The one-time code, e.g. `KX7C-MQ4V-T9AD`.
    pub code: String,
    /// `https://HOST/pair?code=CODE`
    pub url: String,
    pub expires_at: String,
    /// The URL as a QR code, an SVG document.
    pub qr_svg: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    pub at: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    pub group_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id,
            at: to_rfc3339(e.at),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor_label: e.actor_label,
            group_id: e.group_id,
            action: e.action,
            target: e.target,
            client_ip: e.client_ip,
            user_agent: e.user_agent,
            outcome: e.outcome,
            detail: e.detail,
        }
    }
}

/// A login whose password was right and that needs its second factor next.
#[derive(Serialize, ToSchema)]
pub struct MfaPending {
    /// `verify`: send a code to `/api/auth/mfa/verify`. `enroll`: the group requires MFA and
    /// this account has none yet: `/api/auth/mfa/setup`, then `/api/auth/mfa/enable`.
    pub second_factor: crate::db::mfa::ChallengePurpose,
    /// Send as `X-CSRF-Token` with the next step (this token belongs to the pending login).
    pub csrf_token: String,
    /// RFC 3339: the pending login ends then (log in again).
    pub expires_at: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MfaSetupRequest {
    /// Your current password (needed when logged in; not during a login's enrolment step).
    #[serde(default)]
    pub password: Option<String>,
}

/// A new TOTP secret to put into an authenticator app; it takes effect once a code from it is
/// sent to `/api/auth/mfa/enable`.
#[derive(Serialize, ToSchema)]
pub struct MfaSetupResponse {
    /// Base32, for typing in by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG).
    pub qr_svg: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaCodeRequest {
    /// Six digits from the authenticator app, or (at verification) a recovery code.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct MfaEnabled {
    /// One-time recovery codes: shown only now; each works once in place of a code.
    pub recovery_codes: Vec<String>,
    /// When this finished a login's enrolment: the new session (the cookie is set too).
    pub session: Option<MeResponse>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaDisableRequest {
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login_id: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    /// Send as `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
    pub must_change_password: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventList {
    pub events: Vec<AuditEventView>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientConfig {
    pub time_zone: String,
    pub version: String,
    pub max_cameras: u32,
    /// Days a recording is kept before it is deleted automatically.
    pub recording_retention_days: u32,
}

#[derive(Serialize, ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    pub name: String,
}

/// Changes to a group; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    pub name: Option<String>,
    /// Record this group's sessions (system administrators decide; on by default).
    pub recording_enabled: Option<bool>,
    /// CIDRs (or addresses) the group's users must log in from; `[]` for any address.
    pub allowed_ips: Option<Vec<String>>,
    /// CIDRs its administrators must also log in from; `[]` for any address.
    pub admin_allowed_ips: Option<Vec<String>>,
    /// Require a second factor (TOTP) of every member; those without one enrol at their next
    /// login.
    pub mfa_required: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    pub group_id: GroupId,
    /// Initial password; the user must change it at first login.
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub group_id: Option<GroupId>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub new_password: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GroupFilter {
    /// Only this group (system admins); group admins always see only their own.
    pub group_id: Option<GroupId>,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceRequest {
    pub group_id: GroupId,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDeviceRequest {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceWithPairing {
    pub device: DeviceView,
    pub pairing: PairingView,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct PairResponse {
    pub device_id: DeviceId,
    pub device_name: String,
    pub group_name: String,
    /// The long-lived device credential; send as `Authorization: Bearer ...`.
    pub credential: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceMe {
    pub device_id: DeviceId,
    pub device_name: String,
    pub group_id: GroupId,
    pub group_name: String,
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub group_id: Option<GroupId>,
    pub action: Option<String>,
    /// A user or device ID, or a login ID / device name.
    pub actor: Option<String>,
    pub outcome: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD` (midnight in the display time zone).
    pub from: Option<String>,
    /// Exclusive upper bound, same forms as `from`.
    pub to: Option<String>,
    /// Page size, 1–1000 (default 100; CSV export default 10000, max 100000).
    pub limit: Option<i64>,
    /// Only events older than this event ID (paging).
    pub before: Option<i64>,
}

/// Longest display name, group name or device name.
pub const MAX_NAME_CHARS: usize = 100;

/// Trims and checks a name-like field: 1–100 characters, no control characters.
pub fn valid_name(field: &str, value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len == 0 {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    if len > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Login IDs: 3–64 of `A-Z a-z 0-9 . _ @ -` (employee numbers, e-mail addresses).
pub fn valid_login_id(value: &str) -> Result<String, ApiError> {
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if !(3..=64).contains(&value.len()) || !ok_chars {
        return Err(ApiError::invalid(
            "login_id must be 3-64 characters of letters, digits, '.', '_', '@' or '-'",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(valid_name("name", "  現場A ").unwrap(), "現場A");
        assert!(valid_name("name", "   ").is_err());
        assert!(valid_name("name", &"x".repeat(101)).is_err());
        assert!(valid_name("name", "a\u{0}b").is_err());
        assert!(valid_name("name", "<script>alert(1)</script>").is_ok());
    }

    #[test]
    fn login_ids_are_restricted() {
        assert!(valid_login_id("tanaka.t@example.co.jp").is_ok());
        assert!(valid_login_id("ab").is_err());
        assert!(valid_login_id("robert'); DROP TABLE users;--").is_err());
        assert!(valid_login_id("田中").is_err());
    }
}
