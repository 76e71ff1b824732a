//! WHIP ingest (RFC 9725): `POST /whip/{device_id}` with the device credential as bearer token
//! and an SDP offer as body makes OBS, GStreamer, FFmpeg or a drone a field camera of its group.
//! It joins the hub exactly like a browser camera (as a connection without a WebSocket), so
//! presence, sessions, limits and group isolation are the same. `DELETE` on the returned
//! `Location` ends it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::hub::{CONNECTION_QUEUE, HubInput, Outgoing, Who};
use super::protocol::{ClientMessage, MAX_MESSAGE_BYTES, ServerMessage};
use crate::api::ApiPath;
use crate::api::error::{ApiError, ErrorCode};
use crate::auth::DeviceCaller;
use crate::ids::DeviceId;
use crate::state::AppState;

/// How long the answer may take.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn sdp_error(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// Starts publishing. Answers `201 Created` with the SDP answer and a `Location` to delete.
pub async fn whip_publish(
    State(state): State<AppState>,
    caller: DeviceCaller,
    ApiPath(device_id): ApiPath<DeviceId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if caller.device.id != device_id {
        // A credential only publishes as its own device.
        return ApiError::new(ErrorCode::Forbidden).into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/sdp") {
        return sdp_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the offer as application/sdp",
        );
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return sdp_error(StatusCode::PAYLOAD_TOO_LARGE, "SDP offer too large");
    }
    let Ok(offer) = String::from_utf8(body.to_vec()) else {
        return sdp_error(StatusCode::BAD_REQUEST, "SDP offer is not UTF-8");
    };
    let live = state.live.clone();
    let conn = live.next_conn_id();
    let (outbox, mut inbox) = mpsc::channel(CONNECTION_QUEUE);
    let device = caller.device.clone();
    live.send(HubInput::Join {
        conn,
        who: Who::Camera {
            device_id: device.id,
            name: device.name.clone(),
            group_id: device.group_id,
            group_name: device.group_name.clone(),
        },
        client: caller.client.clone(),
        outbox,
        whip: true,
    })
    .await;
    live.send(HubInput::Message {
        conn,
        message: ClientMessage::Offer { sdp: offer },
    })
    .await;
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, async {
        while let Some(out) = inbox.recv().await {
            match out {
                Outgoing::Message(ServerMessage::Answer { sdp }) => return Ok(sdp),
                Outgoing::Message(ServerMessage::Error { message, .. }) => return Err(message),
                Outgoing::Close(why) => return Err(why.to_owned()),
                Outgoing::Message(_) => continue,
            }
        }
        Err("media server stopped".to_owned())
    })
    .await;
    let sdp = match answer {
        Ok(Ok(sdp)) => sdp,
        Ok(Err(reason)) => {
            live.send(HubInput::Leave { conn }).await;
            return sdp_error(StatusCode::BAD_REQUEST, &reason);
        }
        Err(_) => {
            live.send(HubInput::Leave { conn }).await;
            return sdp_error(StatusCode::SERVICE_UNAVAILABLE, "no answer in time");
        }
    };
    // Keep the virtual connection's queue drained for as long as the hub keeps it, and check
    // the credential as often as a WebSocket camera's: a revoked or re-paired publisher leaves.
    let credential_hash = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|c| crate::auth::tokens::sha256_hex(c.trim()))
        .unwrap_or_default();
    let recheck_state = state.clone();
    tokio::spawn(async move {
        let mut recheck = tokio::time::interval(std::time::Duration::from_secs(15));
        recheck.tick().await;
        loop {
            tokio::select! {
                out = inbox.recv() => match out {
                    Some(Outgoing::Close(_)) | None => break,
                    Some(Outgoing::Message(_)) => {}
                },
                _ = recheck.tick() => {
                    if let Ok(None) = recheck_state.db.device_by_credential(&credential_hash).await {
                        recheck_state
                            .live
                            .send(HubInput::LeaveIfCamera { conn, device: device_id })
                            .await;
                        break;
                    }
                }
            }
        }
    });
    let location = format!("/whip/{device_id}/{conn}");
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_owned()),
            (header::LOCATION, location),
        ],
        sdp,
    )
        .into_response()
}

/// Ends a WHIP session.
pub async fn whip_delete(
    State(state): State<AppState>,
    caller: DeviceCaller,
    ApiPath((device_id, session)): ApiPath<(DeviceId, u64)>,
) -> Response {
    if caller.device.id != device_id {
        return ApiError::new(ErrorCode::Forbidden).into_response();
    }
    state
        .live
        .send(HubInput::LeaveIfCamera {
            conn: session,
            device: device_id,
        })
        .await;
    StatusCode::OK.into_response()
}
