//! Recordings for the people who took part in them: list, download (MP4, with HTTP Range so
//! players can seek), delete. Nobody else reaches a recording — not other users of the group,
//! not administrators by role, not devices: every query carries the caller's user ID, and
//! anything else is answered 404.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath;
use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::auth::ActiveUser;
use crate::clock::to_rfc3339;
use crate::db::audit::Outcome;
use crate::db::recordings::Recording;
use crate::state::AppState;
use crate::storage::crypto;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_recordings))
        .routes(routes!(download_recording, delete_recording))
        .routes(routes!(verify_recording))
}

/// Re-checks a recording's integrity: decrypts every chunk and compares the SHA-256 of the
/// content with the one stored when it was recorded.
#[utoipa::path(post, path = "/api/recordings/{id}/verify", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 200, body = crate::recording::Verification),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn verify_recording(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Json<crate::recording::Verification>> {
    let recording = own_recording(&state, &me, id).await?;
    if recording.state == "recording" {
        return Err(ErrorCode::RecordingInProgress.into());
    }
    let result = crate::recording::verify(&recording, &state.keyring, &state.store).await;
    let mut event = me.event(
        state.now(),
        "recording.verify",
        if result.ok {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    );
    event.target = Some(id.to_string());
    event.group_id = Some(recording.group_id.to_string());
    event.detail = result.problem.clone();
    state.audit(event).await;
    Ok(Json(result))
}

#[derive(Serialize, ToSchema)]
pub struct RecordingView {
    pub id: String,
    pub device_id: String,
    pub device_name: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub expires_at: String,
    /// `recording`, `complete` or `failed`.
    pub state: String,
    /// Seconds (from the start and end times).
    pub duration_secs: Option<f64>,
    /// Bytes of the MP4.
    pub size: i64,
    pub sha256: Option<String>,
    /// The live session it was part of (its other cameras and snapshots share it).
    pub session_id: Option<String>,
    /// `mp4` (H.264 cameras) or `webm` (VP8 cameras).
    pub container: String,
    /// The picture shown for it (`GET /api/snapshots/{id}/file`), once the console sent it.
    pub thumbnail_id: Option<String>,
}

impl From<&Recording> for RecordingView {
    fn from(r: &Recording) -> Self {
        Self {
            session_id: r.session_id.clone(),
            container: r.container.clone(),
            thumbnail_id: None,
            id: r.id.to_string(),
            device_id: r.device_id.to_string(),
            device_name: r.device_name.clone(),
            started_at: to_rfc3339(r.started_at),
            ended_at: r.ended_at.map(to_rfc3339),
            expires_at: to_rfc3339(r.expires_at),
            state: r.state.clone(),
            duration_secs: r.ended_at.map(|e| (e - r.started_at) as f64 / 1000.0),
            size: r.plaintext_bytes,
            sha256: r.sha256.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecordingList {
    pub recordings: Vec<RecordingView>,
}

async fn own_recording(state: &AppState, me: &ActiveUser, id: uuid::Uuid) -> ApiResult<Recording> {
    state
        .db
        .recording_for_participant(id, me.user.id)
        .await?
        .ok_or(ApiError::new(ErrorCode::NotFound))
}

/// Recordings of the sessions you took part in, newest first.
#[utoipa::path(get, path = "/api/recordings", tag = "recordings",
    responses((status = 200, body = RecordingList), (status = 401, body = ErrorBody)))]
async fn list_recordings(
    State(state): State<AppState>,
    me: ActiveUser,
) -> ApiResult<Json<RecordingList>> {
    let recordings = state.db.recordings_of_participant(me.user.id).await?;
    let thumbnails: std::collections::HashMap<String, String> = state
        .db
        .thumbnails_of(me.user.id)
        .await?
        .into_iter()
        .collect();
    Ok(Json(RecordingList {
        recordings: recordings
            .iter()
            .map(|r| {
                let mut view = RecordingView::from(r);
                view.thumbnail_id = thumbnails.get(&r.id.to_string()).cloned();
                view
            })
            .collect(),
    }))
}

/// Parses `bytes=START-END` / `bytes=START-` / `bytes=-SUFFIX` against a length.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // one range only
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(len),
        ),
    };
    (start < end && end <= len).then_some((start, end))
}

/// The recording as MP4 (decrypted on the fly). Supports one HTTP Range.
#[utoipa::path(get, path = "/api/recordings/{id}/file", tag = "recordings",
    params(("id" = String, Path), super::snapshots::DownloadQuery),
    responses((status = 200, content_type = "video/mp4", body = Vec<u8>),
        (status = 206, content_type = "video/mp4", body = Vec<u8>),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 416, body = ErrorBody)))]
async fn download_recording(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
    super::ApiQuery(query): super::ApiQuery<super::snapshots::DownloadQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let attachment = query.download == Some(1);
    let recording = own_recording(&state, &me, id).await?;
    if recording.state == "recording" {
        return Err(ErrorCode::RecordingInProgress.into());
    }
    if recording.state != "complete" {
        return Err(ErrorCode::NotFound.into());
    }
    let key = crate::storage::unwrap_key(
        &state.keyring,
        &recording.key_id,
        &recording.wrapped_key,
        &recording.id.to_string(),
    )?;
    let stored = state
        .store
        .size(&recording.object_key)
        .await
        .map_err(|e| match e {
            crate::storage::objects::StoreError::NotFound => {
                crate::storage::OpenError::Damaged("object missing".into())
            }
            other => crate::storage::OpenError::Store(other),
        })?;
    let len = crypto::plaintext_len(stored).ok_or_else(|| {
        ApiError::from(crate::storage::OpenError::Damaged(format!(
            "object size {stored} is not a whole number of chunks"
        )))
    })?;
    let total_chunks = (stored - crypto::HEADER_LEN as u64)
        .div_ceil((crypto::CHUNK_SIZE + crypto::TAG_LEN) as u64);
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (start, end, partial) = match range {
        None => (0, len, false),
        Some(Some((s, e))) => (s, e, true),
        Some(None) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response());
        }
    };
    let (first, cipher_range) = crypto::ciphertext_range(start, end.max(start + 1));
    let ciphertext = state
        .store
        .read_range(&recording.object_key, cipher_range)
        .await
        .map_err(crate::storage::OpenError::Store)?;
    // Corrupt or truncated objects give a clear error, never wrong bytes.
    let plain = crypto::decrypt_chunks(
        &key,
        &recording.id.to_string(),
        first,
        &ciphertext,
        total_chunks,
    )
    .map_err(|e| crate::storage::OpenError::Damaged(e.to_string()))?;
    let offset = (start - first * crypto::CHUNK_SIZE as u64) as usize;
    let body = plain[offset..offset + (end - start) as usize].to_vec();
    // One event per playback or download (players continue with further ranges).
    let action = if attachment {
        "recording.download"
    } else {
        "recording.view"
    };
    let mut event = me.event(state.now(), action, Outcome::Success);
    event.target = Some(recording.id.to_string());
    event.group_id = Some(recording.group_id.to_string());
    if !partial || start == 0 {
        state.audit(event).await;
    }
    let (mime, extension) = match recording.container.as_str() {
        "webm" => ("video/webm", "webm"),
        _ => ("video/mp4", "mp4"),
    };
    let filename = format!(
        "recording-{}-{}.{extension}",
        chrono::DateTime::from_timestamp_millis(recording.started_at)
            .unwrap_or_default()
            .with_timezone(&state.config.tz())
            .format("%Y%m%d-%H%M%S"),
        ascii_name(&recording.device_name),
    );
    let mut response = (
        if partial {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        },
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "{}; filename=\"{filename}\"",
                    if attachment { "attachment" } else { "inline" }
                ),
            ),
        ],
        body,
    )
        .into_response();
    if partial {
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", end - 1)
                .parse()
                .expect("ascii"),
        );
    }
    Ok(response)
}

/// A device name made safe for a file name in a header: ASCII letters, digits, '-' and '_'
/// (Japanese names become "camera"; the date and time keep the name unique enough).
fn ascii_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let cleaned: String = cleaned.chars().take(40).collect();
    if cleaned.is_empty() {
        "camera".to_owned()
    } else {
        cleaned
    }
}

/// Deletes a recording now: its object and its key (crypto-shredding).
#[utoipa::path(delete, path = "/api/recordings/{id}", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_recording(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    let recording = own_recording(&state, &me, id).await?;
    if recording.state == "recording" {
        return Err(ErrorCode::RecordingInProgress.into());
    }
    // The key goes first: once it is gone, every copy of the object is unreadable. The deletion
    // record is written in the same transaction.
    let user_id = me.user.id.to_string();
    state
        .db
        .delete_recording_with_record(
            &recording,
            crate::db::recordings::DeletionReason::User,
            state.now(),
            ("user", Some(&user_id), Some(&me.user.login_id)),
        )
        .await?;
    // An unreachable store only delays removing the (already unreadable) bytes: retried.
    crate::retention::delete_object(&state, &recording.object_key).await;
    let mut event = me.event(state.now(), "recording.delete", Outcome::Success);
    event.target = Some(id.to_string());
    event.group_id = Some(recording.group_id.to_string());
    event.detail = Some(format!(
        "sha256={} bytes={}",
        recording.sha256.as_deref().unwrap_or("-"),
        recording.plaintext_bytes
    ));
    state.audit(event).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
