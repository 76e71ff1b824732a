//! `GET /ws`: the signaling WebSocket.
//!
//! Authentication: a supporter's upgrade request carries the session cookie; a camera device
//! sends its credential in the first `hello` message (browsers cannot set headers on
//! WebSockets). The `Origin` must be this site. Heartbeats: the server pings every third of
//! `signaling_dead_after_secs` (default 25 s) and closes a connection silent for that long, so a
//! dead connection is noticed within 30 s. Credentials are re-checked every [`REAUTH_EVERY`], so
//! expired sessions and revoked devices are disconnected.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::hub::{CONNECTION_QUEUE, ConnId, HubInput, Outgoing, Who};
use super::protocol::{
    ClientMessage, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, SignalError, parse_client_message,
};
use crate::api::error::{ApiError, ErrorCode};
use crate::auth::csrf::same_origin_request;
use crate::auth::{ClientInfo, SessionUser, tokens};
use crate::state::AppState;

pub const REAUTH_EVERY: Duration = Duration::from_secs(15);
/// A device must say hello within this time.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages a client may send in a burst, and per second sustained. A browser sends a handful
/// per minute; anything beyond is a bug or abuse and must not slow signaling for others.
const BURST: f64 = 50.0;
const PER_SECOND: f64 = 20.0;

struct TokenBucket {
    tokens: f64,
    at: Instant,
    warned_at: Option<Instant>,
}

impl TokenBucket {
    fn new() -> Self {
        Self {
            tokens: BURST,
            at: Instant::now(),
            warned_at: None,
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * PER_SECOND).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// At most one "rate limited" error per second.
    fn should_warn(&mut self) -> bool {
        let now = Instant::now();
        if self
            .warned_at
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.warned_at = Some(now);
            true
        } else {
            false
        }
    }
}

/// The upgrade handler.
pub async fn ws_upgrade(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Browsers always send Origin on WebSocket requests; refuse foreign or missing ones, which is
    // what stops cross-site WebSocket hijacking with the ambient cookie.
    let base = crate::api::devices::public_base(&state, &parts.headers, &parts.uri);
    let own = url::Url::parse(&base)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or(base);
    if parts.headers.get("origin").is_none() || !same_origin_request(&parts.headers, Some(&own)) {
        return ApiError::new(ErrorCode::CsrfRejected).into_response();
    }
    let client = ClientInfo::from_parts(&parts);
    let supporter = match SessionUser::from_request_parts(&mut parts, &state).await {
        Ok(user) if !user.user.must_change_password => Some(user),
        _ => None,
    };
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection(state, socket, supporter, client))
}

enum Auth {
    Supporter {
        user: crate::ids::UserId,
        session_id: crate::ids::SessionId,
        /// The group the connection was admitted to; a move to another group ends it.
        group: crate::ids::GroupId,
    },
    Device {
        credential_hash: String,
        group: crate::ids::GroupId,
    },
}

/// The result of re-checking a connection's credential.
enum Recheck {
    Valid,
    /// Revoked, expired, deleted, or moved to another group.
    Invalid,
    /// The database could not answer; keep the connection and ask again later.
    Unknown,
}

async fn send_json(socket: &mut WebSocket, message: &super::protocol::ServerMessage) -> bool {
    let text = serde_json::to_string(message).expect("server messages serialize");
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn close(socket: &mut WebSocket, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close_code::POLICY,
            reason: reason.into(),
        })))
        .await;
}

/// Waits for `hello` and works out who this is.
async fn handshake(
    state: &AppState,
    socket: &mut WebSocket,
    supporter: Option<SessionUser>,
) -> Option<(Who, Auth)> {
    let max = state.config.max_cameras_per_session;
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await;
    let text = match first {
        Ok(Some(Ok(Message::Text(text)))) => text,
        _ => {
            let _ = send_json(socket, &SignalError::HelloRequired.to_message(max, None)).await;
            return None;
        }
    };
    let (protocol, credential) = match parse_client_message(&text) {
        Ok(ClientMessage::Hello {
            protocol,
            credential,
        }) => (protocol, credential),
        Ok(_) => {
            let _ = send_json(socket, &SignalError::HelloRequired.to_message(max, None)).await;
            return None;
        }
        Err(_) => {
            let _ = send_json(
                socket,
                &SignalError::BadMessage.to_message(max, Some("hello")),
            )
            .await;
            return None;
        }
    };
    if protocol != PROTOCOL_VERSION {
        let _ = send_json(
            socket,
            &SignalError::UnsupportedProtocol.to_message(max, Some("hello")),
        )
        .await;
        return None;
    }
    if let Some(credential) = credential {
        let hash = tokens::sha256_hex(credential.trim());
        match state.db.device_by_credential(&hash).await {
            Ok(Some(device)) => {
                let _ = state.db.touch_device(device.id, state.now()).await;
                let group = device.group_id;
                return Some((
                    Who::Camera {
                        device_id: device.id,
                        name: device.name,
                        group_id: device.group_id,
                        group_name: device.group_name,
                    },
                    Auth::Device {
                        credential_hash: hash,
                        group,
                    },
                ));
            }
            Ok(None) => {}
            Err(error) => {
                // Not the device's fault: tell it to retry rather than that it was revoked.
                tracing::warn!(%error, "hello: device lookup failed");
                let _ = send_json(
                    socket,
                    &SignalError::Unavailable.to_message(max, Some("hello")),
                )
                .await;
                return None;
            }
        }
    } else if let Some(me) = supporter {
        return Some((
            Who::Supporter {
                user_id: me.user.id,
                login_id: me.user.login_id.clone(),
                display_name: me.user.display_name.clone(),
                group_id: me.user.group_id,
                group_name: me.user.group_name.clone(),
            },
            Auth::Supporter {
                user: me.user.id,
                session_id: me.session.id,
                group: me.user.group_id,
            },
        ));
    }
    let _ = send_json(
        socket,
        &SignalError::NotAuthenticated.to_message(max, Some("hello")),
    )
    .await;
    None
}

/// Whether the connection's credential still holds. A supporter's open console counts as
/// activity: it extends the session's idle expiry (never past the absolute one).
async fn still_authorized(state: &AppState, auth: &Auth) -> Recheck {
    match auth {
        Auth::Device {
            credential_hash,
            group,
        } => match state.db.device_by_credential(credential_hash).await {
            Ok(Some(device)) if device.group_id == *group => Recheck::Valid,
            Ok(_) => Recheck::Invalid,
            Err(_) => Recheck::Unknown,
        },
        Auth::Supporter {
            user,
            session_id,
            group,
        } => {
            let idle_ms = state.config.session_idle_timeout_secs as i64 * 1000;
            match state
                .db
                .touch_live_session(*session_id, *user, state.now(), idle_ms)
                .await
            {
                Ok(false) => return Recheck::Invalid,
                Err(_) => return Recheck::Unknown,
                Ok(true) => {}
            }
            match state.db.user(*user).await {
                Ok(Some(u)) if u.group_id == *group && !u.must_change_password => Recheck::Valid,
                Ok(_) => Recheck::Invalid,
                Err(_) => Recheck::Unknown,
            }
        }
    }
}

async fn connection(
    state: AppState,
    mut socket: WebSocket,
    supporter: Option<SessionUser>,
    client: ClientInfo,
) {
    let Some((who, auth)) = handshake(&state, &mut socket, supporter).await else {
        close(&mut socket, "not authenticated").await;
        return;
    };
    let live = state.live.clone();
    let conn: ConnId = live.next_conn_id();
    let (outbox, mut inbox) = mpsc::channel(CONNECTION_QUEUE);
    live.send(HubInput::Join {
        conn,
        who,
        client,
        outbox,
        whip: false,
    })
    .await;
    let max = state.config.max_cameras_per_session;
    let dead_after = Duration::from_secs(state.config.signaling_dead_after_secs);
    let mut ping = tokio::time::interval(dead_after / 3);
    let mut reauth = tokio::time::interval(REAUTH_EVERY.min(dead_after));
    reauth.tick().await;
    let mut last_heard = Instant::now();
    let mut bucket = TokenBucket::new();
    let reason: &'static str = loop {
        tokio::select! {
            incoming = socket.recv() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(_))) if !bucket.take() => {
                        if bucket.should_warn()
                            && !send_json(&mut socket, &SignalError::RateLimited.to_message(max, None)).await
                        {
                            break "send failed";
                        }
                    }
                    Some(Ok(Message::Text(text))) => match parse_client_message(&text) {
                        Ok(message) => live.send(HubInput::Message { conn, message }).await,
                        Err(detail) => {
                            tracing::debug!(conn, %detail, "bad signaling message");
                            if !send_json(&mut socket, &SignalError::BadMessage.to_message(max, None)).await {
                                break "send failed";
                            }
                        }
                    },
                    Some(Ok(Message::Binary(_))) => {
                        if !send_json(&mut socket, &SignalError::BadMessage.to_message(max, None)).await {
                            break "send failed";
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break "closed by client",
                    Some(Err(_)) => break "protocol error",
                }
            }
            outgoing = inbox.recv() => match outgoing {
                Some(Outgoing::Message(message)) => {
                    if !send_json(&mut socket, &message).await {
                        break "send failed";
                    }
                }
                Some(Outgoing::Close(why)) => {
                    close(&mut socket, why).await;
                    break why;
                }
                None => break "hub stopped",
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > dead_after {
                    break "heartbeat timeout";
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break "send failed";
                }
            }
            _ = reauth.tick() => {
                if matches!(still_authorized(&state, &auth).await, Recheck::Invalid) {
                    let _ = send_json(&mut socket, &SignalError::NotAuthenticated.to_message(max, None)).await;
                    close(&mut socket, "credential no longer valid").await;
                    break "credential no longer valid";
                }
            }
        }
    };
    tracing::debug!(conn, reason, "signaling connection ended");
    live.send(HubInput::Leave { conn }).await;
}
