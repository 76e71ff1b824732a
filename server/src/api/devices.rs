//! Camera devices and pairing.
//!
//! An admin creates a device in a group and receives a one-time pairing code (10 minutes, single
//! use), also as a QR code of `https://HOST/pair?code=CODE`. The phone that opens it redeems the
//! code for a long-lived random credential, which the server keeps only as a SHA-256. Revoking a
//! device deletes that hash, so the credential is refused from the next request on.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use qrcode::QrCode;
use qrcode::render::svg;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::views::{
    CreateDeviceRequest, DeviceList, DeviceMe, DeviceView, DeviceWithPairing, GroupFilter,
    PairRequest, PairResponse, PairingView, RenameDeviceRequest, valid_name,
};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::{ActiveUser, ClientInfo, DeviceCaller, tokens};
use crate::clock::to_rfc3339;
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::devices::Device;
use crate::ids::DeviceId;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices, create_device))
        .routes(routes!(rename_device, delete_device))
        .routes(routes!(new_pairing_code))
        .routes(routes!(revoke_device))
        .routes(routes!(pair))
        .routes(routes!(device_me))
}

/// The origin people reach us at: the configured public URL, else the request's host.
pub fn public_base(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    if let Some(public) = &state.config.public_url {
        return public.trim_end_matches('/').to_owned();
    }
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        // Only host-name characters: a crafted Host header cannot inject into the link.
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or_else(|| "localhost".into());
    format!("https://{host}")
}

fn pairing_view(base: &str, code: &str, expires_at: i64) -> ApiResult<PairingView> {
    let url = format!("{base}/pair?code={code}");
    let qr = QrCode::new(url.as_bytes()).map_err(ApiError::internal)?;
    let qr_svg = qr
        .render::<svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(PairingView {
        code: code.to_owned(),
        url,
        expires_at: to_rfc3339(expires_at),
        qr_svg,
    })
}

/// Loads a device the caller may manage, or answers 404 and audits the denial.
async fn managed_device(
    state: &AppState,
    me: &ActiveUser,
    id: DeviceId,
    action: &'static str,
) -> ApiResult<Device> {
    me.require_admin()?;
    match state.db.device(id).await? {
        Some(device) if me.may_manage_group(device.group_id) => Ok(device),
        other => {
            let mut event = me.event(state.now(), action, Outcome::Denied);
            event.target = Some(id.to_string());
            if other.is_none() {
                event.outcome = Outcome::Failure;
                event.detail = Some("no such device".into());
            }
            state.audit(event).await;
            Err(ErrorCode::NotFound.into())
        }
    }
}

/// Camera devices the caller manages.
#[utoipa::path(get, path = "/api/devices", tag = "devices", params(GroupFilter),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_devices(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiQuery(filter): ApiQuery<GroupFilter>,
) -> ApiResult<Json<DeviceList>> {
    me.require_admin()?;
    let group = match (me.scope(), filter.group_id) {
        (None, requested) => requested,
        (Some(own), None) => Some(own),
        (Some(own), Some(requested)) if requested == own => Some(own),
        (Some(_), Some(_)) => return Err(ErrorCode::NotFound.into()),
    };
    let devices = state.db.list_devices(group).await?;
    Ok(Json(DeviceList {
        devices: devices.iter().map(DeviceView::from).collect(),
    }))
}

/// Create a camera device and its first pairing code.
#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = CreateDeviceRequest,
    responses((status = 201, body = DeviceWithPairing), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_device(
    State(state): State<AppState>,
    me: ActiveUser,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(request): ApiJson<CreateDeviceRequest>,
) -> ApiResult<(StatusCode, Json<DeviceWithPairing>)> {
    me.require_admin()?;
    let now = state.now();
    let mut event = me.event(now, "device.create", Outcome::Denied);
    event.group_id = Some(request.group_id.to_string());
    if !me.may_manage_group(request.group_id) {
        state.audit(event).await;
        return Err(ErrorCode::NotFound.into());
    }
    let name = valid_name("name", &request.name)?;
    if state.db.group(request.group_id).await?.is_none() {
        return Err(ErrorCode::NotFound.into());
    }
    let code = tokens::new_pairing_code();
    let expires_at = now + state.config.pairing_code_ttl_secs as i64 * 1000;
    let id = state
        .db
        .create_device(
            request.group_id,
            &name,
            &tokens::sha256_hex(&tokens::normalize_pairing_code(&code)),
            expires_at,
            now,
        )
        .await?;
    let device = state
        .db
        .device(id)
        .await?
        .ok_or_else(|| ApiError::internal("created device vanished"))?;
    event.outcome = Outcome::Success;
    event.target = Some(id.to_string());
    event.detail = Some(name);
    state.audit(event).await;
    state.live.notify(crate::live::HubInput::DevicesChanged {
        group: request.group_id,
    });
    let pairing = pairing_view(&public_base(&state, &headers, &uri), &code, expires_at)?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceWithPairing {
            device: DeviceView::from(&device),
            pairing,
        }),
    ))
}

/// Rename a device.
#[utoipa::path(patch, path = "/api/devices/{id}", tag = "devices",
    request_body = RenameDeviceRequest, params(("id" = DeviceId, Path)),
    responses((status = 200, body = DeviceView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rename_device(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(request): ApiJson<RenameDeviceRequest>,
) -> ApiResult<Json<DeviceView>> {
    let device = managed_device(&state, &me, id, "device.update").await?;
    let name = valid_name("name", &request.name)?;
    state.db.rename_device(id, &name).await?;
    state.live.notify(crate::live::HubInput::DevicesChanged {
        group: device.group_id,
    });
    let mut event = me.event(state.now(), "device.update", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(device.group_id.to_string());
    event.detail = Some(format!("{} -> {name}", device.name));
    state.audit(event).await;
    let device = state
        .db
        .device(id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))?;
    Ok(Json(DeviceView::from(&device)))
}

/// Issue a new pairing code (re-pair a phone). The old credential works until the code is used.
#[utoipa::path(post, path = "/api/devices/{id}/pairing", tag = "devices",
    params(("id" = DeviceId, Path)),
    responses((status = 201, body = DeviceWithPairing), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn new_pairing_code(
    State(state): State<AppState>,
    me: ActiveUser,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<(StatusCode, Json<DeviceWithPairing>)> {
    let device = managed_device(&state, &me, id, "device.pairing_code").await?;
    if device.revoked_at.is_some() {
        return Err(ErrorCode::DeviceRevoked.into());
    }
    let now = state.now();
    let code = tokens::new_pairing_code();
    let expires_at = now + state.config.pairing_code_ttl_secs as i64 * 1000;
    state
        .db
        .set_pairing_code(
            id,
            &tokens::sha256_hex(&tokens::normalize_pairing_code(&code)),
            expires_at,
        )
        .await?;
    let mut event = me.event(now, "device.pairing_code", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(device.group_id.to_string());
    state.audit(event).await;
    let pairing = pairing_view(&public_base(&state, &headers, &uri), &code, expires_at)?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceWithPairing {
            device: DeviceView::from(&device),
            pairing,
        }),
    ))
}

/// Revoke a device: its credential and pending code stop working at once.
#[utoipa::path(post, path = "/api/devices/{id}/revoke", tag = "devices",
    params(("id" = DeviceId, Path)),
    responses((status = 200, body = DeviceView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn revoke_device(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<Json<DeviceView>> {
    let device = managed_device(&state, &me, id, "device.revoke").await?;
    let now = state.now();
    state.db.revoke_device(id, now).await?;
    state
        .live
        .notify(crate::live::HubInput::DeviceRevoked { device: id });
    let mut event = me.event(now, "device.revoke", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(device.group_id.to_string());
    event.detail = Some(device.name);
    state.audit(event).await;
    let device = state
        .db
        .device(id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))?;
    Ok(Json(DeviceView::from(&device)))
}

/// Delete a device.
#[utoipa::path(delete, path = "/api/devices/{id}", tag = "devices",
    params(("id" = DeviceId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_device(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<StatusCode> {
    let device = managed_device(&state, &me, id, "device.delete").await?;
    state.db.delete_device(id).await?;
    state
        .live
        .notify(crate::live::HubInput::DeviceRevoked { device: id });
    let mut event = me.event(state.now(), "device.delete", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(device.group_id.to_string());
    event.detail = Some(device.name);
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Redeem a pairing code (the phone's first visit). Answers the device credential once.
#[utoipa::path(post, path = "/api/pair", tag = "devices", request_body = PairRequest,
    responses((status = 200, body = PairResponse), (status = 400, body = ErrorBody)))]
async fn pair(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(request): ApiJson<PairRequest>,
) -> ApiResult<Json<PairResponse>> {
    let now = state.now();
    let code = tokens::normalize_pairing_code(&request.code.chars().take(64).collect::<String>());
    let credential = tokens::new_device_credential();
    let redeemed = state
        .db
        .redeem_pairing_code(
            &tokens::sha256_hex(&code),
            &tokens::sha256_hex(&credential),
            now,
        )
        .await?;
    let mut event = NewAuditEvent {
        at: now,
        actor_kind: ActorKind::Anonymous,
        actor_id: None,
        actor_label: None,
        group_id: None,
        action: "device.pair",
        target: None,
        client_ip: client.ip_text(),
        user_agent: client.user_agent.clone(),
        outcome: Outcome::Failure,
        detail: None,
    };
    let Some(id) = redeemed else {
        event.detail = Some("invalid, used or expired code".into());
        state.audit(event).await;
        return Err(ErrorCode::PairingCodeInvalid.into());
    };
    let device = state
        .db
        .device(id)
        .await?
        .ok_or_else(|| ApiError::internal("paired device vanished"))?;
    event.actor_kind = ActorKind::Device;
    event.actor_id = Some(id.to_string());
    event.actor_label = Some(device.name.clone());
    event.group_id = Some(device.group_id.to_string());
    event.target = Some(id.to_string());
    event.outcome = Outcome::Success;
    state.audit(event).await;
    Ok(Json(PairResponse {
        device_id: id,
        device_name: device.name,
        group_name: device.group_name,
        credential,
    }))
}

/// The calling device (checks that a stored credential still works).
#[utoipa::path(get, path = "/api/device/me", tag = "devices",
    security(("device_credential" = [])),
    responses((status = 200, body = DeviceMe), (status = 401, body = ErrorBody)))]
async fn device_me(caller: DeviceCaller) -> Json<DeviceMe> {
    Json(DeviceMe {
        device_id: caller.device.id,
        device_name: caller.device.name,
        group_id: caller.device.group_id,
        group_name: caller.device.group_name,
    })
}
