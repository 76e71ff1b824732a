//! The signaling protocol spoken over `/ws`: one JSON object per WebSocket text message, tagged by
//! `type`. This file is the single source of truth; `web/js/protocol.js` is generated from it by
//! `cargo test` (see [`generate_js`]) and the browser code is type-checked against that, so the two
//! cannot drift. `docs/protocol.md` describes every message, field and error code.
//!
//! Version 1. A client states the version it speaks in `hello`; the server refuses others with
//! `unsupported_protocol`.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, GroupId, UserId};

pub const PROTOCOL_VERSION: u32 = 1;
/// Largest accepted message (an SDP offer with four video and four audio sections is ~12 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Messages a browser (supporter console or field camera) sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message on every connection. A camera device authenticates here with its
    /// credential (browsers cannot set headers on WebSockets); a supporter is already
    /// authenticated by the session cookie and sends no credential.
    Hello {
        protocol: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential: Option<String>,
    },
    /// An SDP offer for this connection's media. Supporter: recvonly video/audio slots plus one
    /// sendonly audio. Camera: sendonly video + audio plus one recvonly audio. A new offer
    /// replaces the previous media connection (ICE restart, page reload).
    Offer { sdp: String },
    /// Supporter: bring a camera of the own group into the session.
    ConnectCamera { device_id: DeviceId },
    /// Supporter: remove a camera from the session.
    DisconnectCamera { device_id: DeviceId },
    /// Supporter: stop or resume sending the supporter's voice to one camera.
    SetCameraMuted { device_id: DeviceId, muted: bool },
    /// Supporter: ask a camera for a fresh keyframe.
    RequestKeyframe { device_id: DeviceId },
    /// Camera: ask the group's supporters for help (rings on their consoles).
    CallForHelp {},
    /// Camera: withdraw a call for help.
    CancelCall {},
    /// Either side: application-level keep-alive; answered with `pong`.
    Ping {},
}

/// Presence of one camera as seen by supporters of its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// No connection from the device.
    Offline,
    /// Connected and available.
    Online,
    /// In a supporter's session.
    InSession,
}

/// Media state of a camera inside a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
    /// Waiting for the camera's media to arrive.
    Connecting,
    /// Media is flowing.
    Live,
    /// The camera's connection dropped; it is expected back (network change, reload).
    Reconnecting,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupporterRef {
    pub user_id: UserId,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraPresence {
    pub device_id: DeviceId,
    pub name: String,
    pub state: CameraState,
    /// Who has the camera in a session, when `state` is `in_session`.
    pub supporter: Option<SupporterRef>,
    /// The field worker is calling for help.
    pub calling: bool,
}

/// Who the server thinks this connection is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    Supporter {
        user_id: UserId,
        display_name: String,
        group_id: GroupId,
        group_name: String,
    },
    Camera {
        device_id: DeviceId,
        name: String,
        group_id: GroupId,
        group_name: String,
    },
}

/// Messages the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`.
    Welcome {
        protocol: u32,
        you: Identity,
        /// Cameras one supporter session can hold (the supporter offers this many slots).
        max_cameras: u32,
    },
    /// The SDP answer to the last `offer`.
    Answer { sdp: String },
    /// Supporter: the cameras of the own group (full list; sent on every change).
    Presence { cameras: Vec<CameraPresence> },
    /// Supporter: a camera now fills `slot` (0-based index of the recvonly video/audio pair, in
    /// offer order).
    CameraAdded {
        device_id: DeviceId,
        name: String,
        slot: u32,
        /// The camera is recorded in this session (the console shows it, and sends the
        /// recording's thumbnail once the first picture is decoded).
        recording: bool,
    },
    /// Supporter: a camera left the session.
    CameraRemoved {
        device_id: DeviceId,
        slot: u32,
        reason: RemovalReason,
    },
    /// Supporter: media state of a camera in the session.
    CameraMedia {
        device_id: DeviceId,
        state: MediaState,
    },
    /// Camera: whether a supporter is watching, and whether their voice is muted for this camera.
    Watch {
        watched_by: Option<SupporterRef>,
        muted: bool,
    },
    /// Answer to `ping`.
    Pong,
    /// Something went wrong; `request` names the message type that caused it, if any.
    Error {
        code: SignalError,
        message: String,
        message_ja: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
    },
}

/// Why a camera left a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// The supporter disconnected it.
    Disconnected,
    /// The device went offline and did not come back in time.
    Offline,
    /// The device was revoked by an administrator.
    Revoked,
}

/// Every signaling error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalError {
    /// The first message was not `hello`, or a message came before `hello`.
    HelloRequired,
    UnsupportedProtocol,
    /// Not logged in / session expired, or the device credential is invalid or revoked.
    NotAuthenticated,
    /// The message is not valid JSON, too large, or of an unknown type or shape.
    BadMessage,
    /// The message is not allowed for this kind of connection (e.g. a camera connecting cameras).
    NotAllowed,
    /// The camera does not exist in the caller's group (also for other groups' cameras).
    CameraNotFound,
    /// The camera is not connected.
    CameraOffline,
    /// The camera is in another supporter's session.
    CameraBusy,
    /// The session already holds the maximum number of cameras.
    TooManyCameras,
    /// The camera is not in this session.
    CameraNotInSession,
    /// The SDP offer is malformed or offers no supported codec.
    BadOffer,
    /// Send an `offer` before connecting cameras.
    OfferRequired,
    /// The media server is overloaded or unavailable.
    Unavailable,
    /// This camera was opened in another window or tab; this connection is closed for good.
    Replaced,
    /// Too many messages in a short time; the message was ignored.
    RateLimited,
}

impl SignalError {
    pub const ALL: &'static [SignalError] = &[
        SignalError::HelloRequired,
        SignalError::UnsupportedProtocol,
        SignalError::NotAuthenticated,
        SignalError::BadMessage,
        SignalError::NotAllowed,
        SignalError::CameraNotFound,
        SignalError::CameraOffline,
        SignalError::CameraBusy,
        SignalError::TooManyCameras,
        SignalError::CameraNotInSession,
        SignalError::BadOffer,
        SignalError::OfferRequired,
        SignalError::Unavailable,
        SignalError::Replaced,
        SignalError::RateLimited,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SignalError::HelloRequired => "hello_required",
            SignalError::UnsupportedProtocol => "unsupported_protocol",
            SignalError::NotAuthenticated => "not_authenticated",
            SignalError::BadMessage => "bad_message",
            SignalError::NotAllowed => "not_allowed",
            SignalError::CameraNotFound => "camera_not_found",
            SignalError::CameraOffline => "camera_offline",
            SignalError::CameraBusy => "camera_busy",
            SignalError::TooManyCameras => "too_many_cameras",
            SignalError::CameraNotInSession => "camera_not_in_session",
            SignalError::BadOffer => "bad_offer",
            SignalError::OfferRequired => "offer_required",
            SignalError::Unavailable => "unavailable",
            SignalError::Replaced => "replaced",
            SignalError::RateLimited => "rate_limited",
        }
    }

    pub fn message_en(self, max_cameras: u32) -> String {
        match self {
            SignalError::HelloRequired => "Send hello first.".into(),
            SignalError::UnsupportedProtocol => {
                "This page is out of date; reload it to get the current version.".into()
            }
            SignalError::NotAuthenticated => {
                "Not authenticated: log in again, or pair this device again.".into()
            }
            SignalError::BadMessage => "The message could not be understood.".into(),
            SignalError::NotAllowed => "This action is not allowed here.".into(),
            SignalError::CameraNotFound => "No such camera in your group.".into(),
            SignalError::CameraOffline => "The camera is offline.".into(),
            SignalError::CameraBusy => "The camera is in another supporter's session.".into(),
            SignalError::TooManyCameras => {
                format!("You can view at most {max_cameras} cameras at once. Disconnect one first.")
            }
            SignalError::CameraNotInSession => "The camera is not in your session.".into(),
            SignalError::BadOffer => {
                "The browser's media offer was not usable (no supported codec).".into()
            }
            SignalError::OfferRequired => "The media connection is not ready yet.".into(),
            SignalError::Unavailable => "The media server is unavailable; try again.".into(),
            SignalError::Replaced => {
                "This camera was opened in another window or tab; this one has stopped.".into()
            }
            SignalError::RateLimited => "Too many requests; slow down.".into(),
        }
    }

    pub fn message_ja(self, max_cameras: u32) -> String {
        match self {
            SignalError::HelloRequired => "最初に hello を送信してください。".into(),
            SignalError::UnsupportedProtocol => {
                "このページは古くなっています。再読み込みしてください。".into()
            }
            SignalError::NotAuthenticated => {
                "認証されていません。再ログインするか、端末を再ペアリングしてください。".into()
            }
            SignalError::BadMessage => "メッセージを解釈できませんでした。".into(),
            SignalError::NotAllowed => "この操作は許可されていません。".into(),
            SignalError::CameraNotFound => "所属グループにそのカメラはありません。".into(),
            SignalError::CameraOffline => "カメラはオフラインです。".into(),
            SignalError::CameraBusy => "カメラは他のサポーターのセッションで使用中です。".into(),
            SignalError::TooManyCameras => format!(
                "同時に表示できるカメラは最大{max_cameras}台です。先にいずれかを切断してください。"
            ),
            SignalError::CameraNotInSession => "カメラはこのセッションにありません。".into(),
            SignalError::BadOffer => {
                "ブラウザのメディア提案を利用できません（対応コーデックがありません）。".into()
            }
            SignalError::OfferRequired => "メディア接続の準備ができていません。".into(),
            SignalError::Unavailable => {
                "メディアサーバーを利用できません。もう一度お試しください。".into()
            }
            SignalError::Replaced => {
                "このカメラは別のウィンドウまたはタブで開かれたため、こちらは停止しました。".into()
            }
            SignalError::RateLimited => "要求が多すぎます。しばらく待ってください。".into(),
        }
    }

    pub fn to_message(self, max_cameras: u32, request: Option<&str>) -> ServerMessage {
        ServerMessage::Error {
            code: self,
            message: self.message_en(max_cameras),
            message_ja: self.message_ja(max_cameras),
            request: request.map(str::to_owned),
        }
    }
}

/// Parses one client message, refusing oversized or malformed input with a clear reason.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, String> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(format!("message larger than {MAX_MESSAGE_BYTES} bytes"));
    }
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The `type` of a client message, for error replies.
pub fn client_message_type(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello { .. } => "hello",
        ClientMessage::Offer { .. } => "offer",
        ClientMessage::ConnectCamera { .. } => "connect_camera",
        ClientMessage::DisconnectCamera { .. } => "disconnect_camera",
        ClientMessage::SetCameraMuted { .. } => "set_camera_muted",
        ClientMessage::RequestKeyframe { .. } => "request_keyframe",
        ClientMessage::CallForHelp {} => "call_for_help",
        ClientMessage::CancelCall {} => "cancel_call",
        ClientMessage::Ping {} => "ping",
    }
}

/// One example of every client message (exhaustive by construction: adding a variant without
/// an example fails to compile in [`client_message_type`]'s sibling below).
pub fn client_examples() -> Vec<ClientMessage> {
    let device = DeviceId(uuid::Uuid::nil());
    let all = vec![
        ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            credential: Some("radev_...".into()),
        },
        ClientMessage::Offer {
            sdp: "v=0...".into(),
        },
        ClientMessage::ConnectCamera { device_id: device },
        ClientMessage::DisconnectCamera { device_id: device },
        ClientMessage::SetCameraMuted {
            device_id: device,
            muted: true,
        },
        ClientMessage::RequestKeyframe { device_id: device },
        ClientMessage::CallForHelp {},
        ClientMessage::CancelCall {},
        ClientMessage::Ping {},
    ];
    // Compile-time exhaustiveness: every variant must be listed above.
    for message in &all {
        match message {
            ClientMessage::Hello { .. }
            | ClientMessage::Offer { .. }
            | ClientMessage::ConnectCamera { .. }
            | ClientMessage::DisconnectCamera { .. }
            | ClientMessage::SetCameraMuted { .. }
            | ClientMessage::RequestKeyframe { .. }
            | ClientMessage::CallForHelp {}
            | ClientMessage::CancelCall {}
            | ClientMessage::Ping {} => {}
        }
    }
    all
}

/// One example of every server message.
pub fn server_examples() -> Vec<ServerMessage> {
    let device = DeviceId(uuid::Uuid::nil());
    let supporter = SupporterRef {
        user_id: UserId(uuid::Uuid::nil()),
        display_name: "山田".into(),
    };
    let all = vec![
        ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            you: Identity::Camera {
                device_id: device,
                name: "cam".into(),
                group_id: GroupId(uuid::Uuid::nil()),
                group_name: "group".into(),
            },
            max_cameras: 4,
        },
        ServerMessage::Answer {
            sdp: "v=0...".into(),
        },
        ServerMessage::Presence {
            cameras: vec![CameraPresence {
                device_id: device,
                name: "cam".into(),
                state: CameraState::InSession,
                supporter: Some(supporter.clone()),
                calling: false,
            }],
        },
        ServerMessage::CameraAdded {
            device_id: device,
            name: "cam".into(),
            slot: 0,
            recording: true,
        },
        ServerMessage::CameraRemoved {
            device_id: device,
            slot: 0,
            reason: RemovalReason::Disconnected,
        },
        ServerMessage::CameraMedia {
            device_id: device,
            state: MediaState::Live,
        },
        ServerMessage::Watch {
            watched_by: Some(supporter),
            muted: false,
        },
        ServerMessage::Pong,
        SignalError::CameraBusy.to_message(4, Some("connect_camera")),
    ];
    for message in &all {
        match message {
            ServerMessage::Welcome { .. }
            | ServerMessage::Answer { .. }
            | ServerMessage::Presence { .. }
            | ServerMessage::CameraAdded { .. }
            | ServerMessage::CameraRemoved { .. }
            | ServerMessage::CameraMedia { .. }
            | ServerMessage::Watch { .. }
            | ServerMessage::Pong
            | ServerMessage::Error { .. } => {}
        }
    }
    all
}

/// Renders `web/js/protocol.js`: the version, message type names, enum values, error texts and
/// JSDoc typedefs of every message, derived from the Rust types above.
pub fn generate_js() -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str(
        "// GENERATED by `cargo test -p remote-assist --lib live::protocol` from\n\
         // server/src/live/protocol.rs. Do not edit: change the Rust types and re-run the test\n\
         // (it rewrites this file and fails once so the change is reviewed and committed).\n\n",
    );
    let _ = writeln!(out, "export const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n");
    let mut typedefs = Vec::new();
    let mut client_names = Vec::new();
    for example in client_examples() {
        let value = serde_json::to_value(&example).expect("serializable");
        let name = value["type"].as_str().expect("tagged").to_owned();
        typedefs.push(js_typedef("Client", &name, &value));
        client_names.push(name);
    }
    let mut server_names = Vec::new();
    for example in server_examples() {
        let value = serde_json::to_value(&example).expect("serializable");
        let name = value["type"].as_str().expect("tagged").to_owned();
        typedefs.push(js_typedef("Server", &name, &value));
        server_names.push(name);
    }
    out.push_str("/**\n");
    out.push_str(" * @typedef {{device_id: string, name: string, state: 'offline' | 'online' | 'in_session', supporter: {user_id: string, display_name: string} | null, calling: boolean}} CameraPresence\n");
    for t in &typedefs {
        out.push_str(t);
    }
    let union = |prefix: &str, names: &[String]| {
        names
            .iter()
            .map(|n| format!("{prefix}{}", pascal(n)))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let _ = writeln!(
        out,
        " * @typedef {{{}}} ClientMessage",
        union("Client", &client_names)
    );
    let _ = writeln!(
        out,
        " * @typedef {{{}}} ServerMessage",
        union("Server", &server_names)
    );
    out.push_str(" */\n\n");
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "/** Every message type a client may send. */\nexport const CLIENT_MESSAGE_TYPES = Object.freeze([{}]);\n",
        list(&client_names)
    );
    let _ = writeln!(
        out,
        "/** Every message type the server sends. */\nexport const SERVER_MESSAGE_TYPES = Object.freeze([{}]);\n",
        list(&server_names)
    );
    out.push_str("/** Signaling error codes with their texts ({n} = the camera limit). */\nexport const ERROR_TEXTS = Object.freeze({\n");
    for error in SignalError::ALL {
        let _ = writeln!(
            out,
            "  {}: {{ en: {}, ja: {} }},",
            error.code(),
            serde_json::to_string(&error.message_en(0).replace(" 0 ", " {n} ")).unwrap(),
            serde_json::to_string(&error.message_ja(0).replace("最大0台", "最大{n}台")).unwrap()
        );
    }
    out.push_str("});\n");
    out
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A JSDoc typedef from one example object: field names and JSON types.
fn js_typedef(prefix: &str, name: &str, value: &serde_json::Value) -> String {
    let fields: Vec<String> = value
        .as_object()
        .expect("messages are objects")
        .iter()
        .map(|(key, v)| {
            let ty = if key == "type" {
                format!("'{name}'")
            } else {
                js_type(key, v)
            };
            format!("{key}: {ty}")
        })
        .collect();
    format!(
        " * @typedef {{{{{}}}}} {prefix}{}\n",
        fields.join(", "),
        pascal(name)
    )
}

fn js_type(key: &str, value: &serde_json::Value) -> String {
    use serde_json::Value;
    match (key, value) {
        ("cameras", _) => "CameraPresence[]".into(),
        ("state", _) => "string".into(),
        ("supporter" | "watched_by", _) => "{user_id: string, display_name: string} | null".into(),
        ("you", _) => "{kind: 'supporter' | 'camera', user_id?: string, device_id?: string, display_name?: string, name?: string, group_id: string, group_name: string}".into(),
        ("credential" | "request", _) => "string | undefined".into(),
        (_, Value::String(_)) => "string".into(),
        (_, Value::Number(_)) => "number".into(),
        (_, Value::Bool(_)) => "boolean".into(),
        (_, Value::Null) => "null".into(),
        (_, Value::Array(_)) => "unknown[]".into(),
        (_, Value::Object(_)) => "object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        for message in client_examples() {
            let text = serde_json::to_string(&message).unwrap();
            assert_eq!(parse_client_message(&text).unwrap(), message, "{text}");
        }
        for message in server_examples() {
            let text = serde_json::to_string(&message).unwrap();
            let back: ServerMessage = serde_json::from_str(&text).unwrap();
            assert_eq!(back, message);
        }
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"type": "launch_missiles"}"#,
            r#"{"type": "connect_camera"}"#,
            r#"{"type": "connect_camera", "device_id": "not-a-uuid"}"#,
            r#"{"type": "ping", "extra": 1}"#,
            r#"{"type": "offer", "sdp": 5}"#,
        ] {
            assert!(parse_client_message(bad).is_err(), "{bad:?} accepted");
        }
        let huge = format!(
            r#"{{"type": "offer", "sdp": "{}"}}"#,
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        assert!(parse_client_message(&huge).unwrap_err().contains("larger"));
    }

    /// Mutated real messages and random bytes: always a clean `Err` or a valid message.
    #[test]
    fn fuzzed_messages_never_panic() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds: Vec<String> = client_examples()
            .iter()
            .map(|m| serde_json::to_string(m).unwrap())
            .collect();
        for round in 0..20_000 {
            let mut bytes = seeds[round % seeds.len()].clone().into_bytes();
            for _ in 0..1 + next() % 6 {
                let at = (next() as usize) % (bytes.len() + 1);
                match next() % 3 {
                    0 if at < bytes.len() => bytes[at] = next() as u8,
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at.min(bytes.len()), next() as u8),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(message) = parse_client_message(&text) {
                // Whatever parses must serialize back to something that parses the same.
                let again = serde_json::to_string(&message).unwrap();
                assert_eq!(parse_client_message(&again).unwrap(), message);
            }
        }
    }

    #[test]
    fn error_codes_are_unique_and_bilingual() {
        let mut seen = std::collections::HashSet::new();
        for e in SignalError::ALL {
            assert!(seen.insert(e.code()));
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json, e.code(), "serde name matches code()");
            assert!(!e.message_ja(4).is_empty());
        }
        assert!(SignalError::TooManyCameras.message_en(4).contains('4'));
    }

    /// Keeps web/js/protocol.js generated from these types.
    #[test]
    fn browser_protocol_module_is_generated_from_the_rust_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/js/protocol.js");
        let generated = generate_js();
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current != generated {
            std::fs::write(path, &generated).unwrap();
            panic!(
                "web/js/protocol.js was out of date and has been regenerated; review and commit it"
            );
        }
    }
}
