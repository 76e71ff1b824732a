//! User administration. System admins manage everyone; group admins manage the non-system-admin
//! accounts of their own group; supporters manage nobody. Users outside the caller's reach are
//! answered 404, so their existence is not revealed, and the attempt is audited.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::views::{
    CreateUserRequest, GroupFilter, ResetPasswordRequest, UpdateUserRequest, UserList, UserView,
    valid_login_id, valid_name,
};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::password::{self, check_policy};
use crate::auth::{ActiveUser, SessionUser};
use crate::db::DbError;
use crate::db::audit::Outcome;
use crate::db::users::{NewUser, Role, User, UserChanges};
use crate::ids::UserId;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(reset_password))
        .routes(routes!(unlock_user))
}

impl SessionUser {
    /// Whether this user may manage `target`. Group admins never manage system admins, even
    /// ones in their group, so they cannot take over a system admin's account.
    pub fn may_manage_user(&self, target: &User) -> bool {
        match self.user.role {
            Role::SystemAdmin => true,
            Role::GroupAdmin => {
                target.group_id == self.user.group_id && target.role != Role::SystemAdmin
            }
            Role::Supporter => false,
        }
    }

    /// Whether this user may give someone `role`.
    pub fn may_grant(&self, role: Role) -> bool {
        match self.user.role {
            Role::SystemAdmin => true,
            Role::GroupAdmin => role != Role::SystemAdmin,
            Role::Supporter => false,
        }
    }
}

/// Loads a user the caller may manage, or answers 404 and audits the denial.
pub(super) async fn managed_user(
    state: &AppState,
    me: &ActiveUser,
    id: UserId,
    action: &'static str,
) -> ApiResult<User> {
    let target = state.db.user(id).await?;
    match target {
        Some(target) if me.may_manage_user(&target) => Ok(target),
        other => {
            let mut event = me.event(state.now(), action, Outcome::Denied);
            event.target = Some(id.to_string());
            if other.is_none() {
                event.outcome = Outcome::Failure;
                event.detail = Some("no such user".into());
            }
            state.audit(event).await;
            Err(ErrorCode::NotFound.into())
        }
    }
}

fn policy_error(password: &str, login_id: &str) -> Option<ApiError> {
    let violations: Vec<&'static str> = check_policy(password, login_id)
        .into_iter()
        .map(|v| v.code())
        .collect();
    (!violations.is_empty())
        .then(|| ApiError::new(ErrorCode::PasswordPolicy).with_details(violations))
}

/// Users the caller manages (group admins: their own group only).
#[utoipa::path(get, path = "/api/users", tag = "users", params(GroupFilter),
    responses((status = 200, body = UserList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiQuery(filter): ApiQuery<GroupFilter>,
) -> ApiResult<Json<UserList>> {
    me.require_admin()?;
    let group = match (me.scope(), filter.group_id) {
        (None, requested) => requested,
        (Some(own), None) => Some(own),
        (Some(own), Some(requested)) if requested == own => Some(own),
        (Some(_), Some(_)) => return Err(ErrorCode::NotFound.into()),
    };
    let now = state.now();
    let users = state.db.list_users(group).await?;
    Ok(Json(UserList {
        users: users
            .iter()
            .filter(|u| me.may_manage_user(u) || u.id == me.user.id)
            .map(|u| UserView::new(u, now))
            .collect(),
    }))
}

/// Create a user; they must change the initial password at first login.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let now = state.now();
    let mut event = me.event(now, "user.create", Outcome::Denied);
    event.group_id = Some(request.group_id.to_string());
    if !me.may_manage_group(request.group_id) || !me.may_grant(request.role) {
        event.detail = Some(format!("role {}", request.role.as_str()));
        state.audit(event).await;
        // Another group is answered as if it did not exist; a role above one's own is forbidden.
        let hide = me.role().is_admin() && !me.may_manage_group(request.group_id);
        return Err(if hide {
            ErrorCode::NotFound.into()
        } else {
            ErrorCode::Forbidden.into()
        });
    }
    let login_id = valid_login_id(&request.login_id)?;
    let display_name = valid_name("display_name", &request.display_name)?;
    if let Some(error) = policy_error(&request.password, &login_id) {
        return Err(error);
    }
    if state.db.group(request.group_id).await?.is_none() {
        return Err(ErrorCode::NotFound.into());
    }
    let hash = password::hash_password_limited(request.password).await?;
    let id = state
        .db
        .create_user(
            &NewUser {
                login_id: &login_id,
                display_name: &display_name,
                role: request.role,
                group_id: request.group_id,
                password_hash: &hash,
                must_change_password: true,
            },
            now,
        )
        .await
        .map_err(|e| match e {
            DbError::Conflict => ApiError::new(ErrorCode::LoginIdTaken),
            other => other.into(),
        })?;
    let user = state
        .db
        .user(id)
        .await?
        .ok_or_else(|| ApiError::internal("created user vanished"))?;
    event.outcome = Outcome::Success;
    event.target = Some(id.to_string());
    event.detail = Some(format!("{login_id} ({})", request.role.as_str()));
    state.audit(event).await;
    Ok((StatusCode::CREATED, Json(UserView::new(&user, now))))
}

/// Change a user's display name, role or (system admin) group.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = UpdateUserRequest,
    params(("id" = UserId, Path)),
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(request): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    me.require_admin()?;
    let target = managed_user(&state, &me, id, "user.update").await?;
    let now = state.now();
    let mut event = me.event(now, "user.update", Outcome::Denied);
    event.target = Some(id.to_string());
    event.group_id = Some(target.group_id.to_string());
    if let Some(role) = request.role {
        if !me.may_grant(role) {
            state.audit(event).await;
            return Err(ErrorCode::Forbidden.into());
        }
        if target.id == me.user.id && role != target.role {
            return Err(ApiError::invalid("you cannot change your own role"));
        }
    }
    if let Some(group) = request.group_id
        && group != target.group_id
    {
        if me.role() != Role::SystemAdmin {
            state.audit(event).await;
            return Err(ErrorCode::Forbidden.into());
        }
        if state.db.group(group).await?.is_none() {
            return Err(ErrorCode::NotFound.into());
        }
    }
    let display_name = request
        .display_name
        .as_deref()
        .map(|n| valid_name("display_name", n))
        .transpose()?;
    let changes = UserChanges {
        display_name: display_name.as_deref(),
        role: request.role,
        group_id: request.group_id,
    };
    state.db.update_user(id, &changes).await?;
    if request.group_id.is_some_and(|g| g != target.group_id) {
        // A user moved to another tenant starts over there: every session ends now, and open
        // live connections close at their next check.
        state.db.delete_user_sessions(id, None).await?;
    }
    let user = state
        .db
        .user(id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))?;
    event.outcome = Outcome::Success;
    event.detail = Some(format!(
        "display_name={} role={} group={}",
        user.display_name,
        user.role.as_str(),
        user.group_name
    ));
    state.audit(event).await;
    Ok(Json(UserView::new(&user, now)))
}

/// Delete a user (not yourself).
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = UserId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    me.require_admin()?;
    let target = managed_user(&state, &me, id, "user.delete").await?;
    if target.id == me.user.id {
        return Err(ErrorCode::CannotDeleteSelf.into());
    }
    state.db.delete_user(id).await?;
    let mut event = me.event(state.now(), "user.delete", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(target.group_id.to_string());
    event.detail = Some(target.login_id);
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a new password for a user, who must change it at next login; their sessions end.
#[utoipa::path(post, path = "/api/users/{id}/reset-password", tag = "users",
    request_body = ResetPasswordRequest, params(("id" = UserId, Path)),
    responses((status = 204, description = "Reset"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(request): ApiJson<ResetPasswordRequest>,
) -> ApiResult<StatusCode> {
    me.require_admin()?;
    let target = managed_user(&state, &me, id, "auth.password_reset").await?;
    if let Some(error) = policy_error(&request.new_password, &target.login_id) {
        return Err(error);
    }
    let now = state.now();
    let hash = password::hash_password_limited(request.new_password).await?;
    state.db.set_password(id, &hash, true, now).await?;
    state.db.delete_user_sessions(id, None).await?;
    let mut event = me.event(now, "auth.password_reset", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(target.group_id.to_string());
    event.detail = Some(target.login_id);
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a lockout.
#[utoipa::path(post, path = "/api/users/{id}/unlock", tag = "users",
    params(("id" = UserId, Path)),
    responses((status = 204, description = "Unlocked"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn unlock_user(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    me.require_admin()?;
    let target = managed_user(&state, &me, id, "user.unlock").await?;
    state.db.clear_login_failures(id).await?;
    let mut event = me.event(state.now(), "user.unlock", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(target.group_id.to_string());
    event.detail = Some(target.login_id);
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}
