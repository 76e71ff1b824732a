//! The live hub: the single owner of presence and sessions.
//!
//! Invariants:
//! - a camera is in at most one session; a session holds at most `max_cameras` cameras, each in
//!   its own slot;
//! - a supporter only ever sees and connects cameras of their own group;
//! - a camera whose connection drops while in a session keeps its slot for [`RECONNECT_GRACE`]
//!   (network change, page reload) and is shown as reconnecting meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use remote_assist_sfu::{PeerId, PeerRole, PeerState, SfuError, SfuEvent, SfuHandle};
use tokio::sync::mpsc;

use super::protocol::{
    CameraPresence, CameraState, ClientMessage, Identity, MediaState, PROTOCOL_VERSION,
    RemovalReason, ServerMessage, SignalError, SupporterRef, client_message_type,
};
use crate::auth::ClientInfo;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::ids::{DeviceId, GroupId, UserId};
use crate::metrics::Metrics;

/// What the hub needs of the application: configuration, storage, time.
struct HubContext {
    config: Arc<Config>,
    db: Db,
    clock: Arc<dyn Clock>,
}

impl HubContext {
    fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}

/// Messages queued for the hub. When full, connection tasks wait (back-pressure on the sockets
/// of the chattiest clients, never dropped control messages).
pub const HUB_QUEUE: usize = 1024;
/// Messages queued for one connection. When full the client is too slow to keep up with
/// presence updates and is disconnected (it reconnects and gets a fresh full state).
pub const CONNECTION_QUEUE: usize = 64;
/// How long a camera keeps its slot after its connection dropped.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(20);

pub type ConnId = u64;

/// Who a connection is, as established at connect time.
#[derive(Clone, Debug)]
pub enum Who {
    Supporter {
        user_id: UserId,
        login_id: String,
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

impl Who {
    fn group(&self) -> GroupId {
        match self {
            Who::Supporter { group_id, .. } | Who::Camera { group_id, .. } => *group_id,
        }
    }
}

/// What a connection task receives from the hub.
#[derive(Debug)]
pub enum Outgoing {
    Message(ServerMessage),
    /// Close the connection (replaced by a newer one, revoked, ...).
    Close(&'static str),
}

/// Inputs of the hub.
#[derive(Debug)]
pub enum HubInput {
    Join {
        conn: ConnId,
        who: Who,
        client: ClientInfo,
        outbox: mpsc::Sender<Outgoing>,
        /// A WHIP publisher: no WebSocket, so it leaves when its media peer fails.
        whip: bool,
    },
    Message {
        conn: ConnId,
        message: ClientMessage,
    },
    Leave {
        conn: ConnId,
    },
    /// WHIP DELETE: leave only if `conn` is this device's connection.
    LeaveIfCamera {
        conn: ConnId,
        device: DeviceId,
    },
    /// An administrator revoked or deleted a device: disconnect it now.
    DeviceRevoked {
        device: DeviceId,
    },
    /// A device was renamed or created: refresh presence of its group.
    DevicesChanged {
        group: GroupId,
    },
    Sfu(SfuEvent),
    /// Whether a device has a live connection (for operations and tests).
    IsOnline {
        device: DeviceId,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
    /// The session in which `user` watches `device` right now, if any (snapshots).
    SessionOf {
        user: UserId,
        device: DeviceId,
        reply: tokio::sync::oneshot::Sender<Option<LiveContext>>,
    },
}

/// A camera as it is in a supporter's live session: what a snapshot of it is filed under.
#[derive(Clone, Debug)]
pub struct LiveContext {
    pub session_id: String,
    pub group_id: GroupId,
    pub device_id: DeviceId,
    pub device_name: String,
    /// The recording of the camera in this session, when it is recorded.
    pub recording: Option<crate::db::recordings::RecordingId>,
    /// Who takes part (they alone may reach what is filed under the session).
    pub participants: Vec<UserId>,
}

/// Cheap handle to the hub, stored in the application state.
#[derive(Clone, Debug)]
pub struct LiveHandle {
    tx: mpsc::Sender<HubInput>,
    next_conn: Arc<AtomicU64>,
    /// Unix milliseconds of the hub's last turn (it turns at least every second).
    heartbeat: Arc<AtomicU64>,
    pub sfu: SfuHandle,
}

impl LiveHandle {
    /// Whether the hub and the media worker are both turning.
    pub fn is_alive(&self) -> bool {
        let max_age = std::time::Duration::from_secs(5);
        let hub = remote_assist_sfu::unix_millis()
            .saturating_sub(self.heartbeat.load(Ordering::Relaxed))
            <= max_age.as_millis() as u64;
        hub && self.sfu.is_alive(max_age)
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub async fn send(&self, input: HubInput) {
        // Only fails when the hub has stopped (shutdown); nothing to do then.
        let _ = self.tx.send(input).await;
    }

    /// Whether the device is connected right now.
    pub async fn is_online(&self, device: DeviceId) -> bool {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(HubInput::IsOnline { device, reply }).await;
        rx.await.unwrap_or(false)
    }

    /// Where `user` watches `device` right now (`None` when they do not).
    pub async fn session_of(&self, user: UserId, device: DeviceId) -> Option<LiveContext> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(HubInput::SessionOf {
            user,
            device,
            reply,
        })
        .await;
        rx.await.ok().flatten()
    }

    /// For admin handlers: never blocks a request on a busy hub for long.
    pub fn notify(&self, input: HubInput) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(input).await;
        });
    }
}

/// Starts the hub task on top of a running SFU.
pub fn start_with(
    config: Arc<Config>,
    db: Db,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    sfu: SfuHandle,
    mut sfu_events: mpsc::Receiver<SfuEvent>,
    recordings: crate::recording::RecordingService,
) -> LiveHandle {
    let state = HubContext { config, db, clock };
    let (tx, rx) = mpsc::channel(HUB_QUEUE);
    let heartbeat = Arc::new(AtomicU64::new(remote_assist_sfu::unix_millis()));
    let handle = LiveHandle {
        tx: tx.clone(),
        next_conn: Arc::new(AtomicU64::new(1)),
        heartbeat: heartbeat.clone(),
        sfu: sfu.clone(),
    };
    // Forward SFU events into the hub's single queue.
    tokio::spawn(async move {
        while let Some(event) = sfu_events.recv().await {
            if tx.send(HubInput::Sfu(event)).await.is_err() {
                break;
            }
        }
    });
    let hub = Hub {
        metrics,
        recordings,
        next_recording: 1,
        heartbeat,
        evicted: Default::default(),
        max_cameras: state.config.max_cameras_per_session,
        state,
        sfu,
        conns: HashMap::new(),
        cameras: HashMap::new(),
        peers: HashMap::new(),
        next_peer: 1,
    };
    tokio::spawn(hub.run(rx));
    handle
}

struct Conn {
    who: Who,
    client: ClientInfo,
    outbox: mpsc::Sender<Outgoing>,
    /// The media peer of this connection, once it sent an offer.
    peer: Option<PeerId>,
    /// Supporter only: device in each slot.
    slots: Vec<Option<DeviceId>>,
    /// Supporter only: the live session while at least one camera is connected.
    session_id: Option<String>,
    whip: bool,
}

/// A camera that is online, or in a session and within its reconnect grace.
struct Camera {
    name: String,
    group_id: GroupId,
    conn: Option<ConnId>,
    peer: Option<PeerId>,
    calling: bool,
    /// The supporter connection whose session holds this camera.
    session: Option<ConnId>,
    media: MediaState,
    muted: bool,
    gone_since: Option<Instant>,
    /// The recording of this camera in its current session (the SFU's key and the row's ID).
    recording: Option<(
        remote_assist_sfu::RecordingKey,
        crate::db::recordings::RecordingId,
    )>,
}

/// What a media peer belongs to.
#[derive(Clone, Copy)]
enum PeerOwner {
    Camera(DeviceId),
    Supporter(ConnId),
}

struct Hub {
    metrics: Arc<Metrics>,
    recordings: crate::recording::RecordingService,
    next_recording: u64,
    heartbeat: Arc<AtomicU64>,
    state: HubContext,
    /// Connections whose queue overflowed; dropped after the current input.
    evicted: std::sync::Mutex<Vec<ConnId>>,
    // (A Mutex only because `send` takes `&self` inside async fns; it is never contended and
    // never held across an await.)
    sfu: SfuHandle,
    max_cameras: u32,
    conns: HashMap<ConnId, Conn>,
    cameras: HashMap<DeviceId, Camera>,
    peers: HashMap<PeerId, PeerOwner>,
    next_peer: u64,
}

impl Hub {
    async fn run(mut self, mut rx: mpsc::Receiver<HubInput>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                input = rx.recv() => match input {
                    Some(input) => {
                        self.handle(input).await;
                        self.drop_evicted().await;
                        self.publish_gauges();
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    self.heartbeat.store(remote_assist_sfu::unix_millis(), Ordering::Relaxed);
                    self.expire_graces().await;
                }
            }
        }
    }

    async fn handle(&mut self, input: HubInput) {
        match input {
            HubInput::Join {
                conn,
                who,
                client,
                outbox,
                whip,
            } => self.join(conn, who, client, outbox, whip).await,
            HubInput::LeaveIfCamera { conn, device } => {
                let owned = matches!(
                    self.conns.get(&conn).map(|c| &c.who),
                    Some(Who::Camera { device_id, .. }) if *device_id == device
                );
                if owned {
                    self.leave(conn).await;
                }
            }
            HubInput::Message { conn, message } => self.message(conn, message).await,
            HubInput::Leave { conn } => self.leave(conn).await,
            HubInput::DeviceRevoked { device } => self.revoke(device).await,
            HubInput::DevicesChanged { group } => self.broadcast_presence(group).await,
            HubInput::Sfu(event) => self.sfu_event(event).await,
            HubInput::IsOnline { device, reply } => {
                let online = self.cameras.get(&device).is_some_and(|c| c.conn.is_some());
                let _ = reply.send(online);
            }
            HubInput::SessionOf {
                user,
                device,
                reply,
            } => {
                let _ = reply.send(self.session_of(user, device));
            }
        }
    }

    /// Sessions and cameras for `/metrics` (recounted after every input: a handful of items).
    fn publish_gauges(&self) {
        let sessions = self
            .conns
            .values()
            .filter(|c| c.slots.iter().any(Option::is_some))
            .count();
        let in_sessions = self
            .cameras
            .values()
            .filter(|c| c.session.is_some())
            .count();
        let online = self.cameras.values().filter(|c| c.conn.is_some()).count();
        self.metrics
            .live_sessions
            .store(sessions as u64, Ordering::Relaxed);
        self.metrics
            .cameras_in_sessions
            .store(in_sessions as u64, Ordering::Relaxed);
        self.metrics
            .cameras_online
            .store(online as u64, Ordering::Relaxed);
    }

    fn send(&self, conn: ConnId, message: ServerMessage) {
        if let Some(c) = self.conns.get(&conn)
            && c.outbox.try_send(Outgoing::Message(message)).is_err()
        {
            // Too slow or gone. A close message would not fit either, so the connection is
            // dropped from the hub after this input: its queue's sender goes away, its socket
            // task ends, and the client reconnects and gets the full state again.
            let mut evicted = self.evicted.lock().unwrap_or_else(|e| e.into_inner());
            if !evicted.contains(&conn) {
                evicted.push(conn);
            }
        }
    }

    async fn drop_evicted(&mut self) {
        let evicted = std::mem::take(&mut *self.evicted.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in evicted {
            tracing::info!(conn, "signaling client too slow; disconnecting it");
            self.leave(conn).await;
            self.conns.remove(&conn);
        }
    }

    fn error(&self, conn: ConnId, error: SignalError, request: Option<&str>) {
        self.send(conn, error.to_message(self.max_cameras, request));
    }

    fn new_peer_id(&mut self) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        id
    }

    async fn audit(
        &self,
        conn: ConnId,
        action: &'static str,
        target: Option<String>,
        group: GroupId,
        outcome: Outcome,
        detail: Option<String>,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (kind, id, label) = match &c.who {
            Who::Supporter {
                user_id, login_id, ..
            } => (ActorKind::User, user_id.to_string(), login_id.clone()),
            Who::Camera {
                device_id, name, ..
            } => (ActorKind::Device, device_id.to_string(), name.clone()),
        };
        let db = self.state.db.clone();
        let event = NewAuditEvent {
            at: self.state.now(),
            actor_kind: kind,
            actor_id: Some(id),
            actor_label: Some(label),
            group_id: Some(group.to_string()),
            action,
            target,
            client_ip: c.client.ip_text(),
            user_agent: c.client.user_agent.clone(),
            outcome,
            detail,
        };
        // Written off the hub task: a slow database must not stall signaling for everyone.
        tokio::spawn(async move { crate::state::write_audit(&db, event).await });
    }

    async fn join(
        &mut self,
        conn: ConnId,
        who: Who,
        client: ClientInfo,
        outbox: mpsc::Sender<Outgoing>,
        whip: bool,
    ) {
        let identity = match &who {
            Who::Supporter {
                user_id,
                display_name,
                group_id,
                group_name,
                ..
            } => Identity::Supporter {
                user_id: *user_id,
                display_name: display_name.clone(),
                group_id: *group_id,
                group_name: group_name.clone(),
            },
            Who::Camera {
                device_id,
                name,
                group_id,
                group_name,
            } => Identity::Camera {
                device_id: *device_id,
                name: name.clone(),
                group_id: *group_id,
                group_name: group_name.clone(),
            },
        };
        let group = who.group();
        let slots = match &who {
            Who::Supporter { .. } => vec![None; self.max_cameras as usize],
            Who::Camera { .. } => Vec::new(),
        };
        self.conns.insert(
            conn,
            Conn {
                who: who.clone(),
                client,
                outbox,
                peer: None,
                slots,
                session_id: None,
                whip,
            },
        );
        self.send(
            conn,
            ServerMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                you: identity,
                max_cameras: self.max_cameras,
            },
        );
        match who {
            Who::Supporter { .. } => {
                let presence = self.presence(group).await;
                self.send(conn, presence);
            }
            Who::Camera {
                device_id, name, ..
            } => {
                let previous = self.cameras.get(&device_id).and_then(|c| c.conn);
                if let Some(old) = previous
                    && let Some(old_conn) = self.conns.remove(&old)
                {
                    // A reload or a second tab: the newest connection wins, and the old one is
                    // told so, so it does not reconnect and take the camera back.
                    let _ = old_conn.outbox.try_send(Outgoing::Message(
                        SignalError::Replaced.to_message(self.max_cameras, None),
                    ));
                    let _ = old_conn.outbox.try_send(Outgoing::Close("replaced"));
                }
                let camera = self.cameras.entry(device_id).or_insert(Camera {
                    name: name.clone(),
                    group_id: group,
                    conn: None,
                    peer: None,
                    calling: false,
                    session: None,
                    media: MediaState::Connecting,
                    muted: false,
                    gone_since: None,
                    recording: None,
                });
                camera.conn = Some(conn);
                camera.name = name;
                camera.gone_since = None;
                let watch = self.watch_message(device_id);
                self.send(conn, watch);
                self.broadcast_presence(group).await;
            }
        }
    }

    /// Who a supporter connection is, as shown to cameras and to other supporters.
    fn supporter_ref(&self, conn: ConnId) -> Option<SupporterRef> {
        match &self.conns.get(&conn)?.who {
            Who::Supporter {
                user_id,
                display_name,
                ..
            } => Some(SupporterRef {
                user_id: *user_id,
                display_name: display_name.clone(),
            }),
            Who::Camera { .. } => None,
        }
    }

    fn watch_message(&self, device: DeviceId) -> ServerMessage {
        let camera = self.cameras.get(&device);
        let watched_by = camera
            .and_then(|c| c.session)
            .and_then(|s| self.supporter_ref(s));
        ServerMessage::Watch {
            watched_by,
            muted: camera.is_some_and(|c| c.muted),
        }
    }

    /// The full camera list of a group: every non-revoked device, with live state.
    async fn presence(&self, group: GroupId) -> ServerMessage {
        let devices = match self.state.db.list_devices(Some(group)).await {
            Ok(devices) => devices,
            Err(error) => {
                tracing::error!(%error, "presence: cannot list devices");
                Vec::new()
            }
        };
        let cameras = devices
            .into_iter()
            .filter(|d| d.revoked_at.is_none())
            .map(|d| {
                let live = self.cameras.get(&d.id);
                let supporter = live
                    .and_then(|c| c.session)
                    .and_then(|s| self.supporter_ref(s));
                let state = match live {
                    Some(c) if c.session.is_some() => CameraState::InSession,
                    Some(c) if c.conn.is_some() => CameraState::Online,
                    _ => CameraState::Offline,
                };
                CameraPresence {
                    device_id: d.id,
                    name: d.name,
                    state,
                    supporter,
                    calling: live.is_some_and(|c| c.calling && c.conn.is_some()),
                }
            })
            .collect();
        ServerMessage::Presence { cameras }
    }

    async fn broadcast_presence(&self, group: GroupId) {
        let message = self.presence(group).await;
        for (id, conn) in &self.conns {
            if matches!(conn.who, Who::Supporter { .. }) && conn.who.group() == group {
                self.send(*id, message.clone());
            }
        }
    }

    async fn message(&mut self, conn: ConnId, message: ClientMessage) {
        let Some(who) = self.conns.get(&conn).map(|c| c.who.clone()) else {
            return;
        };
        let request = client_message_type(&message);
        match (message, who) {
            (ClientMessage::Ping {}, _) => self.send(conn, ServerMessage::Pong),
            (ClientMessage::Hello { .. }, _) => {
                self.error(conn, SignalError::BadMessage, Some(request))
            }
            (ClientMessage::Offer { sdp }, Who::Supporter { .. }) => {
                self.supporter_offer(conn, sdp).await
            }
            (ClientMessage::Offer { sdp }, Who::Camera { device_id, .. }) => {
                self.camera_offer(conn, device_id, sdp).await
            }
            (ClientMessage::ConnectCamera { device_id }, Who::Supporter { group_id, .. }) => {
                self.connect_camera(conn, group_id, device_id).await
            }
            (ClientMessage::DisconnectCamera { device_id }, Who::Supporter { .. }) => {
                if !self.in_session_of(device_id, conn) {
                    return self.error(conn, SignalError::CameraNotInSession, Some(request));
                }
                self.remove_from_session(device_id, RemovalReason::Disconnected)
                    .await;
            }
            (ClientMessage::SetCameraMuted { device_id, muted }, Who::Supporter { .. }) => {
                if !self.in_session_of(device_id, conn) {
                    return self.error(conn, SignalError::CameraNotInSession, Some(request));
                }
                let camera = self.cameras.get_mut(&device_id).expect("checked");
                camera.muted = muted;
                let (camera_peer, camera_conn) = (camera.peer, camera.conn);
                if let (Some(camera_peer), Some(supporter_peer)) =
                    (camera_peer, self.conns[&conn].peer)
                {
                    let _ = self
                        .sfu
                        .set_return_audio(supporter_peer, camera_peer, !muted)
                        .await;
                }
                if let Some(camera_conn) = camera_conn {
                    let watch = self.watch_message(device_id);
                    self.send(camera_conn, watch);
                }
            }
            (ClientMessage::RequestKeyframe { device_id }, Who::Supporter { .. }) => {
                if !self.in_session_of(device_id, conn) {
                    return self.error(conn, SignalError::CameraNotInSession, Some(request));
                }
                if let Some(peer) = self.cameras[&device_id].peer {
                    // Rate-limited in the SFU: a client cannot make a camera send only keyframes.
                    let _ = self.sfu.request_keyframe_limited(peer).await;
                }
            }
            (
                ClientMessage::CallForHelp {},
                Who::Camera {
                    device_id,
                    group_id,
                    ..
                },
            ) => {
                if let Some(camera) = self.cameras.get_mut(&device_id) {
                    camera.calling = camera.session.is_none();
                }
                self.audit(
                    conn,
                    "live.call_for_help",
                    Some(device_id.to_string()),
                    group_id,
                    Outcome::Success,
                    None,
                )
                .await;
                self.broadcast_presence(group_id).await;
            }
            (
                ClientMessage::CancelCall {},
                Who::Camera {
                    device_id,
                    group_id,
                    ..
                },
            ) => {
                if let Some(camera) = self.cameras.get_mut(&device_id) {
                    camera.calling = false;
                }
                self.broadcast_presence(group_id).await;
            }
            (_, _) => self.error(conn, SignalError::NotAllowed, Some(request)),
        }
    }

    fn in_session_of(&self, device: DeviceId, supporter: ConnId) -> bool {
        self.cameras
            .get(&device)
            .is_some_and(|c| c.session == Some(supporter))
    }

    async fn supporter_offer(&mut self, conn: ConnId, sdp: String) {
        let slots = self.max_cameras;
        let peer = self.new_peer_id();
        let answer = match self
            .sfu
            .create_peer(peer, PeerRole::Subscriber { slots }, sdp)
            .await
        {
            Ok(answer) => answer,
            Err(error) => return self.offer_failed(conn, error),
        };
        let old = self.conns.get_mut(&conn).and_then(|c| c.peer.replace(peer));
        if let Some(old) = old {
            self.peers.remove(&old);
            let _ = self.sfu.remove_peer(old).await;
        }
        self.peers.insert(peer, PeerOwner::Supporter(conn));
        self.send(conn, ServerMessage::Answer { sdp: answer });
        // Route every camera already in the session into the new connection.
        let slots: Vec<(u32, DeviceId)> = self.conns[&conn]
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (i as u32, d)))
            .collect();
        for (slot, device) in slots {
            self.route(device, conn, slot).await;
        }
    }

    async fn camera_offer(&mut self, conn: ConnId, device: DeviceId, sdp: String) {
        let peer = self.new_peer_id();
        let answer = match self.sfu.create_peer(peer, PeerRole::Publisher, sdp).await {
            Ok(answer) => answer,
            Err(error) => return self.offer_failed(conn, error),
        };
        let Some(camera) = self.cameras.get_mut(&device) else {
            let _ = self.sfu.remove_peer(peer).await;
            return;
        };
        let old = camera.peer.replace(peer);
        camera.media = MediaState::Connecting;
        let session = camera.session;
        if let Some(old) = old {
            self.peers.remove(&old);
            let _ = self.sfu.remove_peer(old).await;
        }
        self.peers.insert(peer, PeerOwner::Camera(device));
        self.send(conn, ServerMessage::Answer { sdp: answer });
        if let Some(supporter) = session {
            self.send(
                supporter,
                ServerMessage::CameraMedia {
                    device_id: device,
                    state: MediaState::Connecting,
                },
            );
            if let Some(slot) = self.slot_of(supporter, device) {
                self.route(device, supporter, slot).await;
            }
        }
    }

    fn offer_failed(&self, conn: ConnId, error: SfuError) {
        tracing::info!(%error, conn, "offer refused");
        let code = match error {
            SfuError::BadOffer(_) | SfuError::NoSupportedCodec(_) => SignalError::BadOffer,
            _ => SignalError::Unavailable,
        };
        self.error(conn, code, Some("offer"));
    }

    fn slot_of(&self, supporter: ConnId, device: DeviceId) -> Option<u32> {
        self.conns
            .get(&supporter)?
            .slots
            .iter()
            .position(|d| *d == Some(device))
            .map(|i| i as u32)
    }

    /// Connects the camera's media to the supporter's slot when both peers exist.
    async fn route(&self, device: DeviceId, supporter: ConnId, slot: u32) {
        let (Some(camera), Some(conn)) = (self.cameras.get(&device), self.conns.get(&supporter))
        else {
            return;
        };
        if let (Some(camera_peer), Some(supporter_peer)) = (camera.peer, conn.peer) {
            if let Err(error) = self.sfu.attach(camera_peer, supporter_peer, slot).await {
                tracing::warn!(%error, "cannot attach camera to slot");
                return;
            }
            let _ = self
                .sfu
                .set_return_audio(supporter_peer, camera_peer, !camera.muted)
                .await;
            if let Some((recording, _)) = camera.recording {
                // Also after a reconnect: the same recording continues from the new peer.
                let _ = self.sfu.start_recording(camera_peer, recording).await;
            }
            let _ = self.sfu.request_keyframe(camera_peer).await;
        }
    }

    async fn connect_camera(&mut self, conn: ConnId, group: GroupId, device: DeviceId) {
        let request = Some("connect_camera");
        // Decide from the server's own records, never from the message: the device must be in
        // the supporter's group.
        let known = match self.state.db.device(device).await {
            Ok(d) => d,
            Err(error) => {
                tracing::error!(%error, "connect_camera: device lookup failed");
                return self.error(conn, SignalError::Unavailable, request);
            }
        };
        let Some(record) = known.filter(|d| d.group_id == group && d.revoked_at.is_none()) else {
            self.audit(
                conn,
                "live.connect_camera",
                Some(device.to_string()),
                group,
                Outcome::Denied,
                Some("device not in the caller's group".into()),
            )
            .await;
            return self.error(conn, SignalError::CameraNotFound, request);
        };
        let Some(camera) = self
            .cameras
            .get(&device)
            .filter(|c| c.conn.is_some() || c.session.is_some())
        else {
            return self.error(conn, SignalError::CameraOffline, request);
        };
        match camera.session {
            Some(owner) if owner == conn => {
                // Already here: answer as if newly added so the console can re-sync.
                if let Some(slot) = self.slot_of(conn, device) {
                    let recording = camera.recording.is_some();
                    self.send(
                        conn,
                        ServerMessage::CameraAdded {
                            device_id: device,
                            name: record.name,
                            slot,
                            recording,
                        },
                    );
                }
                return;
            }
            Some(_) => return self.error(conn, SignalError::CameraBusy, request),
            None => {}
        }
        let Some(slot) = self.conns[&conn].slots.iter().position(Option::is_none) else {
            self.audit(
                conn,
                "live.connect_camera",
                Some(device.to_string()),
                group,
                Outcome::Failure,
                Some("too many cameras".into()),
            )
            .await;
            return self.error(conn, SignalError::TooManyCameras, request);
        };
        let slot = slot as u32;
        let session_id = self
            .conns
            .get_mut(&conn)
            .expect("caller exists")
            .session_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        let group_records = match self.state.db.group(group).await {
            Ok(g) => g.is_some_and(|g| g.recording_enabled),
            Err(error) => {
                // Record when unsure: a missing recording cannot be made up later.
                tracing::error!(%error, "connect_camera: group lookup failed; recording anyway");
                true
            }
        };
        let recording = if self.state.config.recording_enabled && group_records {
            let key = remote_assist_sfu::RecordingKey(self.next_recording);
            self.next_recording += 1;
            let supporter = match &self.conns[&conn].who {
                Who::Supporter { user_id, .. } => vec![*user_id],
                Who::Camera { .. } => Vec::new(),
            };
            let meta = crate::recording::RecordingMeta {
                group_id: group,
                device_id: device,
                device_name: record.name.clone(),
                participants: supporter,
                session_id: session_id.clone(),
            };
            self.recordings.begin(key, meta).await.map(|id| (key, id))
        } else {
            None
        };
        self.conns.get_mut(&conn).expect("caller exists").slots[slot as usize] = Some(device);
        let camera = self.cameras.get_mut(&device).expect("checked");
        camera.session = Some(conn);
        camera.calling = false;
        camera.muted = false;
        camera.recording = recording;
        let media = camera.media;
        let camera_conn = camera.conn;
        self.send(
            conn,
            ServerMessage::CameraAdded {
                device_id: device,
                name: record.name.clone(),
                slot,
                recording: recording.is_some(),
            },
        );
        self.send(
            conn,
            ServerMessage::CameraMedia {
                device_id: device,
                state: media,
            },
        );
        if let Some(camera_conn) = camera_conn {
            let watch = self.watch_message(device);
            self.send(camera_conn, watch);
        }
        self.route(device, conn, slot).await;
        self.audit(
            conn,
            "live.connect_camera",
            Some(device.to_string()),
            group,
            Outcome::Success,
            Some(record.name),
        )
        .await;
        self.broadcast_presence(group).await;
    }

    /// Where `user` watches `device` now: the session, the camera's recording, who takes part.
    fn session_of(&self, user: UserId, device: DeviceId) -> Option<LiveContext> {
        let camera = self.cameras.get(&device)?;
        let conn = self.conns.get(&camera.session?)?;
        let Who::Supporter {
            user_id, group_id, ..
        } = &conn.who
        else {
            return None;
        };
        if *user_id != user || *group_id != camera.group_id {
            return None;
        }
        Some(LiveContext {
            session_id: conn.session_id.clone()?,
            group_id: camera.group_id,
            device_id: device,
            device_name: camera.name.clone(),
            recording: camera.recording.map(|(_, id)| id),
            participants: vec![*user_id],
        })
    }

    /// Takes a camera out of whatever session holds it.
    async fn remove_from_session(&mut self, device: DeviceId, reason: RemovalReason) {
        let Some(camera) = self.cameras.get_mut(&device) else {
            return;
        };
        let Some(supporter) = camera.session.take() else {
            return;
        };
        if let Some((recording, _)) = camera.recording.take() {
            let _ = self.sfu.stop_recording(recording).await;
        }
        let (camera_peer, camera_conn, group) = (camera.peer, camera.conn, camera.group_id);
        let slot = self.slot_of(supporter, device);
        let supporter_peer = self.conns.get(&supporter).and_then(|c| c.peer);
        if let Some(slot) = slot {
            if let Some(conn) = self.conns.get_mut(&supporter) {
                conn.slots[slot as usize] = None;
                // The last camera gone ends the session; the next one starts a new one.
                if conn.slots.iter().all(Option::is_none) {
                    conn.session_id = None;
                }
            }
            if let (Some(cp), Some(sp)) = (camera_peer, supporter_peer) {
                let _ = self.sfu.detach(cp, sp, slot).await;
            }
            self.send(
                supporter,
                ServerMessage::CameraRemoved {
                    device_id: device,
                    slot,
                    reason,
                },
            );
        }
        if let Some(camera_conn) = camera_conn {
            let watch = self.watch_message(device);
            self.send(camera_conn, watch);
        }
        self.audit(
            supporter,
            "live.disconnect_camera",
            Some(device.to_string()),
            group,
            Outcome::Success,
            Some(format!("{reason:?}").to_lowercase()),
        )
        .await;
        self.broadcast_presence(group).await;
    }

    async fn leave(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let group = c.who.group();
        match c.who.clone() {
            Who::Supporter { .. } => {
                let devices: Vec<DeviceId> = c.slots.iter().flatten().copied().collect();
                for device in devices {
                    self.remove_from_session(device, RemovalReason::Disconnected)
                        .await;
                }
                if let Some(c) = self.conns.remove(&conn)
                    && let Some(peer) = c.peer
                {
                    self.peers.remove(&peer);
                    let _ = self.sfu.remove_peer(peer).await;
                }
            }
            Who::Camera { device_id, .. } => {
                self.conns.remove(&conn);
                let Some(camera) = self.cameras.get_mut(&device_id) else {
                    return;
                };
                if camera.conn != Some(conn) {
                    return; // an older, replaced connection
                }
                camera.conn = None;
                if let Some(supporter) = camera.session {
                    // Keep the slot: the phone is expected back (network change, reload).
                    camera.gone_since = Some(Instant::now());
                    camera.media = MediaState::Reconnecting;
                    self.send(
                        supporter,
                        ServerMessage::CameraMedia {
                            device_id,
                            state: MediaState::Reconnecting,
                        },
                    );
                } else {
                    let camera = self.cameras.remove(&device_id).expect("present");
                    if let Some(peer) = camera.peer {
                        self.peers.remove(&peer);
                        let _ = self.sfu.remove_peer(peer).await;
                    }
                }
            }
        }
        self.broadcast_presence(group).await;
    }

    async fn expire_graces(&mut self) {
        let expired: Vec<DeviceId> = self
            .cameras
            .iter()
            .filter(|(_, c)| c.gone_since.is_some_and(|t| t.elapsed() >= RECONNECT_GRACE))
            .map(|(id, _)| *id)
            .collect();
        for device in expired {
            self.remove_from_session(device, RemovalReason::Offline)
                .await;
            if let Some(camera) = self.cameras.remove(&device) {
                if let Some(peer) = camera.peer {
                    self.peers.remove(&peer);
                    let _ = self.sfu.remove_peer(peer).await;
                }
                self.broadcast_presence(camera.group_id).await;
            }
        }
    }

    async fn revoke(&mut self, device: DeviceId) {
        self.remove_from_session(device, RemovalReason::Revoked)
            .await;
        if let Some(camera) = self.cameras.remove(&device) {
            if let Some(conn) = camera.conn
                && let Some(c) = self.conns.remove(&conn)
            {
                // Say why before closing, so the phone shows "revoked" without a retry.
                let _ = c.outbox.try_send(Outgoing::Message(
                    SignalError::NotAuthenticated.to_message(self.max_cameras, None),
                ));
                let _ = c.outbox.try_send(Outgoing::Close("revoked"));
            }
            if let Some(peer) = camera.peer {
                self.peers.remove(&peer);
                let _ = self.sfu.remove_peer(peer).await;
            }
            self.broadcast_presence(camera.group_id).await;
        }
    }

    async fn sfu_event(&mut self, event: SfuEvent) {
        let (peer, media) = match event.clone() {
            SfuEvent::MediaFlowing { peer } => (peer, MediaState::Live),
            SfuEvent::PeerState { peer, state } => match state {
                PeerState::Connecting => return,
                PeerState::Connected => (peer, MediaState::Live),
                PeerState::Disconnected | PeerState::Failed => (peer, MediaState::Reconnecting),
            },
        };
        let device = match self.peers.get(&peer).copied() {
            Some(PeerOwner::Camera(device)) => device,
            Some(PeerOwner::Supporter(conn)) => {
                // The SFU removed a failed supporter peer; the console sends a new offer.
                if matches!(
                    event,
                    SfuEvent::PeerState {
                        state: PeerState::Failed,
                        ..
                    }
                ) {
                    self.peers.remove(&peer);
                    if let Some(c) = self.conns.get_mut(&conn)
                        && c.peer == Some(peer)
                    {
                        c.peer = None;
                    }
                }
                return;
            }
            None => return,
        };
        let Some(camera) = self.cameras.get_mut(&device) else {
            return;
        };
        if camera.peer != Some(peer) {
            return;
        }
        if matches!(
            event,
            SfuEvent::PeerState {
                state: PeerState::Failed,
                ..
            }
        ) {
            // The SFU dropped this peer; a phone reconnects with a new offer, a WHIP publisher
            // is gone for good (it would POST again).
            camera.peer = None;
            let camera_conn = camera.conn;
            self.peers.remove(&peer);
            let whip_conn = camera_conn.filter(|c| self.conns.get(c).is_some_and(|c| c.whip));
            if let Some(conn) = whip_conn {
                self.leave(conn).await;
                return;
            }
        }
        let Some(camera) = self.cameras.get_mut(&device) else {
            return;
        };
        if camera.media == media {
            return;
        }
        camera.media = media;
        if let Some(supporter) = camera.session {
            self.send(
                supporter,
                ServerMessage::CameraMedia {
                    device_id: device,
                    state: media,
                },
            );
        }
    }
}
