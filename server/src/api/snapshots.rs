//! Snapshots and thumbnails.
//!
//! A supporter takes a snapshot of a camera in their live session: the console grabs the
//! decoded frame at the camera's full resolution and uploads it as JPEG; the server checks that
//! the camera is in the caller's session *now* (asking the live hub, never trusting the
//! request), that the bytes are a well-formed JPEG of sane dimensions, encrypts it under its own
//! data key and files it under the session for its participants. A recording's thumbnail is
//! uploaded the same way, once, when its first picture is decoded.
//!
//! Reading follows the recordings' rule: only participants, everyone else gets 404.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::{ApiBytes, ApiPath, ApiQuery};
use crate::auth::ActiveUser;
use crate::clock::to_rfc3339;
use crate::db::DbError;
use crate::db::audit::Outcome;
use crate::db::recordings::DeletionReason;
use crate::db::snapshots::{NewSnapshot, Snapshot, SnapshotKind};
use crate::ids::DeviceId;
use crate::state::AppState;

/// Largest snapshot accepted (a 4K frame as JPEG is well under this).
pub const MAX_SNAPSHOT_BYTES: usize = 12 * 1024 * 1024;
/// Largest thumbnail accepted.
pub const MAX_THUMBNAIL_BYTES: usize = 512 * 1024;
/// Largest width or height accepted.
pub const MAX_DIMENSION: u32 = 8192;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(take_snapshot))
        // Images are larger than the JSON bodies everything else accepts.
        .layer(DefaultBodyLimit::max(MAX_SNAPSHOT_BYTES))
        .routes(routes!(list_snapshots))
        .routes(routes!(download_snapshot, delete_snapshot))
}

/// Width and height of a baseline or progressive JPEG, from its frame header. Anything that is
/// not a complete JPEG (no SOI, no frame header, no EOI, lengths running past the end) is
/// refused with the reason.
pub fn jpeg_dimensions(bytes: &[u8]) -> Result<(u32, u32), &'static str> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err("not a JPEG (no start-of-image marker)");
    }
    if bytes[bytes.len() - 2..] != [0xFF, 0xD9] {
        return Err("truncated JPEG (no end-of-image marker)");
    }
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return Err("malformed JPEG (marker expected)");
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        if length < 2 || at + 2 + length > bytes.len() {
            return Err("malformed JPEG (segment runs past the end)");
        }
        let is_frame_header =
            matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
        if is_frame_header {
            if length < 7 {
                return Err("malformed JPEG (short frame header)");
            }
            let height = u32::from(u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]));
            let width = u32::from(u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]));
            if width == 0 || height == 0 {
                return Err("JPEG without dimensions");
            }
            return Ok((width, height));
        }
        if marker == 0xDA {
            break; // scan data before any frame header
        }
        at += 2 + length;
    }
    Err("malformed JPEG (no frame header)")
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// `snapshot` (default) or `thumbnail` (the picture of the camera's recording, once).
    pub kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SnapshotView {
    pub id: String,
    /// `snapshot` or `thumbnail`.
    pub kind: String,
    pub session_id: Option<String>,
    pub recording_id: Option<String>,
    pub device_id: String,
    pub device_name: String,
    pub taken_at: String,
    pub expires_at: String,
    pub width: i64,
    pub height: i64,
    /// Bytes of the JPEG.
    pub size: i64,
    pub sha256: String,
}

impl From<&Snapshot> for SnapshotView {
    fn from(s: &Snapshot) -> Self {
        Self {
            id: s.id.to_string(),
            kind: s.kind.clone(),
            session_id: s.session_id.clone(),
            recording_id: s.recording_id.clone(),
            device_id: s.device_id.to_string(),
            device_name: s.device_name.clone(),
            taken_at: to_rfc3339(s.taken_at),
            expires_at: to_rfc3339(s.expires_at),
            width: s.width,
            height: s.height,
            size: s.plaintext_bytes,
            sha256: s.sha256.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SnapshotList {
    pub snapshots: Vec<SnapshotView>,
}

/// Files a JPEG of a camera in your live session (body: `image/jpeg`).
#[utoipa::path(post, path = "/api/live/cameras/{device_id}/snapshot", tag = "recordings",
    params(("device_id" = DeviceId, Path), SnapshotQuery),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = SnapshotView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn take_snapshot(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(device_id): ApiPath<DeviceId>,
    ApiQuery(query): ApiQuery<SnapshotQuery>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, Json<SnapshotView>)> {
    let kind = match query.kind.as_deref() {
        None | Some("snapshot") => SnapshotKind::Snapshot,
        Some("thumbnail") => SnapshotKind::Thumbnail,
        Some(_) => return Err(ApiError::invalid("kind must be snapshot or thumbnail")),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.eq_ignore_ascii_case("image/jpeg") {
        return Err(ApiError::invalid(
            "send the image as Content-Type: image/jpeg",
        ));
    }
    let limit = match kind {
        SnapshotKind::Snapshot => MAX_SNAPSHOT_BYTES,
        SnapshotKind::Thumbnail => MAX_THUMBNAIL_BYTES,
    };
    if body.len() > limit {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let (width, height) = jpeg_dimensions(&body).map_err(ApiError::invalid)?;
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(ApiError::invalid(format!(
            "at most {MAX_DIMENSION} pixels wide and high"
        )));
    }
    let now = state.now();
    let action = match kind {
        SnapshotKind::Snapshot => "snapshot.take",
        SnapshotKind::Thumbnail => "recording.thumbnail",
    };
    // The hub decides, from its own state, whether the caller watches this camera now.
    let Some(live) = state.live.session_of(me.user.id, device_id).await else {
        let mut event = me.event(now, action, Outcome::Denied);
        event.target = Some(device_id.to_string());
        event.detail = Some("camera not in the caller's live session".into());
        state.audit(event).await;
        return Err(ErrorCode::NotInSession.into());
    };
    let recording_id = live.recording.map(|id| id.to_string());
    if kind == SnapshotKind::Thumbnail && recording_id.is_none() {
        return Err(ApiError::invalid(
            "this camera is not recorded, so its recording has no thumbnail",
        ));
    }
    let id = uuid::Uuid::new_v4();
    let object_key = format!("snapshots/{id}.enc");
    let sealed = crate::storage::seal_and_store(
        &state.keyring,
        &state.store,
        &object_key,
        &id.to_string(),
        &body,
    )
    .await
    .map_err(ApiError::internal)?;
    use base64::Engine;
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(&body));
    let wrapped = base64::engine::general_purpose::STANDARD.encode(&sealed.wrapped.blob);
    let retention_ms = i64::from(state.config.recording_retention_days) * 86_400_000;
    let created = state
        .db
        .create_snapshot(&NewSnapshot {
            id,
            kind,
            group_id: live.group_id,
            session_id: &live.session_id,
            recording_id: recording_id.as_deref(),
            device_id,
            device_name: &live.device_name,
            taken_at: now,
            expires_at: now + retention_ms,
            taken_by: me.user.id,
            width,
            height,
            object_key: &object_key,
            key_id: &sealed.wrapped.key_id,
            wrapped_key: &wrapped,
            plaintext_bytes: body.len() as i64,
            stored_bytes: sealed.stored_bytes as i64,
            sha256: &sha256,
            participants: &live.participants,
        })
        .await;
    match created {
        Ok(()) => {}
        Err(DbError::Conflict) => {
            let _ = state.store.delete(&object_key).await;
            return Err(ErrorCode::AlreadyExists.into());
        }
        Err(e) => {
            let _ = state.store.delete(&object_key).await;
            return Err(e.into());
        }
    }
    let mut event = me.event(now, action, Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(live.group_id.to_string());
    event.detail = Some(format!(
        "{} {width}x{height} sha256={sha256}",
        live.device_name
    ));
    state.audit(event).await;
    let snapshot = state
        .db
        .snapshot(id)
        .await?
        .ok_or_else(|| ApiError::internal("snapshot vanished after filing"))?;
    Ok((StatusCode::CREATED, Json(SnapshotView::from(&snapshot))))
}

/// Snapshots of the sessions you took part in, newest first.
#[utoipa::path(get, path = "/api/snapshots", tag = "recordings",
    responses((status = 200, body = SnapshotList), (status = 401, body = ErrorBody)))]
async fn list_snapshots(
    State(state): State<AppState>,
    me: ActiveUser,
) -> ApiResult<Json<SnapshotList>> {
    let list = state
        .db
        .snapshots_of_participant(me.user.id, SnapshotKind::Snapshot)
        .await?;
    Ok(Json(SnapshotList {
        snapshots: list.iter().map(SnapshotView::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// `1` to download (attachment) instead of showing the image.
    pub download: Option<u8>,
}

async fn own_snapshot(state: &AppState, me: &ActiveUser, id: uuid::Uuid) -> ApiResult<Snapshot> {
    state
        .db
        .snapshot_for_participant(id, me.user.id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))
}

/// The image as JPEG (decrypted; damage is an error, never wrong bytes).
#[utoipa::path(get, path = "/api/snapshots/{id}/file", tag = "recordings",
    params(("id" = String, Path), DownloadQuery),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, body = ErrorBody)))]
async fn download_snapshot(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiQuery(query): ApiQuery<DownloadQuery>,
) -> ApiResult<Response> {
    let snapshot = own_snapshot(&state, &me, id).await?;
    let jpeg = crate::storage::read_sealed(
        &state.keyring,
        &state.store,
        &snapshot.object_key,
        &snapshot.key_id,
        &snapshot.wrapped_key,
        &snapshot.id.to_string(),
    )
    .await?;
    let attachment = query.download == Some(1);
    if attachment {
        let mut event = me.event(state.now(), "snapshot.download", Outcome::Success);
        event.target = Some(id.to_string());
        event.group_id = Some(snapshot.group_id.to_string());
        state.audit(event).await;
    }
    let filename = format!(
        "snapshot-{}.jpg",
        chrono::DateTime::from_timestamp_millis(snapshot.taken_at)
            .unwrap_or_default()
            .with_timezone(&state.config.tz())
            .format("%Y%m%d-%H%M%S")
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "{}; filename=\"{filename}\"",
                    if attachment { "attachment" } else { "inline" }
                ),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        jpeg,
    )
        .into_response())
}

/// Deletes a snapshot now: its key, then its object (crypto-shredding); a deletion record stays.
#[utoipa::path(delete, path = "/api/snapshots/{id}", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_snapshot(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    let snapshot = own_snapshot(&state, &me, id).await?;
    if snapshot.kind != SnapshotKind::Snapshot.as_str() {
        // Thumbnails go with their recording.
        return Err(ErrorCode::NotFound.into());
    }
    let user_id = me.user.id.to_string();
    let now = state.now();
    state
        .db
        .delete_snapshot_with_record(
            &snapshot,
            DeletionReason::User,
            now,
            ("user", Some(&user_id), Some(&me.user.login_id)),
        )
        .await?;
    crate::retention::delete_object(&state, &snapshot.object_key).await;
    let mut event = me.event(now, "snapshot.delete", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(snapshot.group_id.to_string());
    event.detail = Some(format!(
        "sha256={} bytes={}",
        snapshot.sha256, snapshot.plaintext_bytes
    ));
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::jpeg_dimensions;

    fn minimal_jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        // APP0 (JFIF), then a baseline frame header.
        j.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
        j.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        j.extend_from_slice(&height.to_be_bytes());
        j.extend_from_slice(&width.to_be_bytes());
        j.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    #[test]
    fn dimensions_come_from_the_frame_header() {
        assert_eq!(jpeg_dimensions(&minimal_jpeg(1280, 720)), Ok((1280, 720)));
    }

    #[test]
    fn anything_else_is_refused() {
        let good = minimal_jpeg(640, 480);
        assert!(jpeg_dimensions(b"").is_err());
        assert!(jpeg_dimensions(b"\x89PNG\r\n\x1a\n....").is_err());
        assert!(jpeg_dimensions(&good[..good.len() - 2]).is_err(), "no EOI");
        let mut lying = good.clone();
        lying[5] = 0xFF; // APP0 claims to run past the end
        assert!(jpeg_dimensions(&lying).is_err());
        assert!(jpeg_dimensions(&minimal_jpeg(0, 480)).is_err());
        // Only the markers, no frame header.
        assert!(jpeg_dimensions(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
        // Every truncation of a good file is refused or still parses the same header; none
        // panics.
        for cut in 0..good.len() {
            let _ = jpeg_dimensions(&good[..cut]);
        }
    }
}
