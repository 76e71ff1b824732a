//! Groups: listed by everyone for their own group, managed by system administrators only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::views::{GroupList, GroupRequest, GroupUpdate, GroupView, valid_name};
use super::{ApiJson, ApiPath};
use crate::auth::ActiveUser;
use crate::db::DbError;
use crate::db::audit::Outcome;
use crate::ids::GroupId;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(rename_group, delete_group))
}

/// Groups visible to the caller: all for a system admin, otherwise their own.
#[utoipa::path(get, path = "/api/groups", tag = "groups",
    responses((status = 200, body = GroupList), (status = 401, body = ErrorBody)))]
async fn list_groups(State(state): State<AppState>, me: ActiveUser) -> ApiResult<Json<GroupList>> {
    let groups = match me.scope() {
        None => state.db.list_groups().await?,
        Some(own) => state.db.group(own).await?.into_iter().collect(),
    };
    Ok(Json(GroupList {
        groups: groups.iter().map(GroupView::from).collect(),
    }))
}

/// Create a group (system admin).
#[utoipa::path(post, path = "/api/groups", tag = "groups", request_body = GroupRequest,
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiJson(request): ApiJson<GroupRequest>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let now = state.now();
    if let Err(e) = me.require_system_admin() {
        state
            .audit(me.event(now, "group.create", Outcome::Denied))
            .await;
        return Err(e);
    }
    let name = valid_name("name", &request.name)?;
    let group = state.db.create_group(&name, now).await?;
    let mut event = me.event(now, "group.create", Outcome::Success);
    event.target = Some(group.id.to_string());
    event.detail = Some(name);
    state.audit(event).await;
    Ok((StatusCode::CREATED, Json(GroupView::from(&group))))
}

/// Rename a group, switch its recording on or off, set its IP allow-lists or require MFA of
/// its members (system admin).
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "groups", request_body = GroupUpdate,
    params(("id" = GroupId, Path)),
    responses((status = 200, body = GroupView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn rename_group(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(request): ApiJson<GroupUpdate>,
) -> ApiResult<Json<GroupView>> {
    let now = state.now();
    let mut event = me.event(now, "group.update", Outcome::Denied);
    event.target = Some(id.to_string());
    if let Err(e) = me.require_system_admin() {
        state.audit(event).await;
        return Err(e);
    }
    let name = request
        .name
        .as_deref()
        .map(|name| valid_name("name", name))
        .transpose()?;
    if name.is_none()
        && request.recording_enabled.is_none()
        && request.allowed_ips.is_none()
        && request.admin_allowed_ips.is_none()
        && request.mfa_required.is_none()
    {
        return Err(ApiError::invalid(
            "give at least one of name, recording_enabled, allowed_ips, admin_allowed_ips, mfa_required",
        ));
    }
    for list in [&request.allowed_ips, &request.admin_allowed_ips]
        .into_iter()
        .flatten()
    {
        if list.len() > 100 {
            return Err(ApiError::invalid("at most 100 networks per list"));
        }
        crate::auth::network::parse_networks(list).map_err(ApiError::invalid)?;
    }
    let mut group = state
        .db
        .group(id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))?;
    let mut changes = Vec::new();
    if let Some(name) = &name {
        group = state
            .db
            .rename_group(id, name)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotFound))?;
        changes.push(format!("name={name}"));
    }
    if let Some(enabled) = request.recording_enabled {
        group = state
            .db
            .set_group_recording(id, enabled)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotFound))?;
        changes.push(format!("recording_enabled={enabled}"));
    }
    if let Some(required) = request.mfa_required {
        group = state
            .db
            .set_group_mfa_required(id, required)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotFound))?;
        changes.push(format!("mfa_required={required}"));
    }
    if request.allowed_ips.is_some() || request.admin_allowed_ips.is_some() {
        let users = request
            .allowed_ips
            .clone()
            .unwrap_or(group.allowed_ips.clone());
        let admins = request
            .admin_allowed_ips
            .clone()
            .unwrap_or(group.admin_allowed_ips.clone());
        // No one locks themselves out: an administrator of this group must stay allowed.
        if me.user.group_id == id {
            let check = |list: &[String]| {
                crate::auth::network::allowed(
                    &crate::auth::network::parse_networks(list).unwrap_or_default(),
                    me.client.ip,
                )
            };
            if !check(&users) || !check(&admins) {
                return Err(ApiError::invalid(
                    "these lists would lock you out: include the address you are using now",
                ));
            }
        }
        group = state
            .db
            .set_group_networks(id, &users, &admins)
            .await?
            .ok_or(ApiError::new(ErrorCode::NotFound))?;
        changes.push(format!(
            "allowed_ips=[{}] admin_allowed_ips=[{}]",
            users.join(","),
            admins.join(",")
        ));
    }
    event.outcome = Outcome::Success;
    event.detail = Some(changes.join(" "));
    state.audit(event).await;
    Ok(Json(GroupView::from(&group)))
}

/// Delete an empty group (system admin).
#[utoipa::path(delete, path = "/api/groups/{id}", tag = "groups",
    params(("id" = GroupId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_group(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<GroupId>,
) -> ApiResult<StatusCode> {
    let now = state.now();
    let mut event = me.event(now, "group.delete", Outcome::Denied);
    event.target = Some(id.to_string());
    if let Err(e) = me.require_system_admin() {
        state.audit(event).await;
        return Err(e);
    }
    let group = state
        .db
        .group(id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))?;
    if state.db.group_member_count(id).await? > 0 {
        return Err(ErrorCode::GroupNotEmpty.into());
    }
    match state.db.delete_group(id).await {
        Ok(true) => {}
        Ok(false) => return Err(ErrorCode::NotFound.into()),
        // A member added between the count and the delete: the foreign key refuses it.
        Err(DbError::Sql(sqlx::Error::Database(_))) => {
            return Err(ErrorCode::GroupNotEmpty.into());
        }
        Err(e) => return Err(e.into()),
    }
    event.outcome = Outcome::Success;
    event.detail = Some(group.name);
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}
