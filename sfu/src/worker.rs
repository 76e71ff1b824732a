//! The media worker: one thread, one UDP socket, every peer connection.
//!
//! Datagrams are demultiplexed by ICE username on first contact (each peer gets its own random
//! ufrag, so the STUN USERNAME `serverUfrag:browserUfrag` names the peer) and by remote address
//! afterwards. After each input the touched peers are drained: datagrams out, events to the
//! server, received RTP forwarded into the subscribers' slots by direct calls. The server is
//! ICE-lite with a single host candidate: browsers connect to it, it never probes them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::api::{
    PeerId, PeerRole, PeerState, RecordingEvent, RecordingKey, SfuConfig, SfuError, SfuEvent,
};
use crate::counters::Counters;
use crate::handle::Command;
use crate::inbound::Inbound;
use crate::record::{Recorder, Stream};
use crate::rewrite::StreamRewriter;

/// The worker's maps, looked up several times per packet: foldhash (seeded per process, so
/// addresses a sender chooses cannot be made to collide) instead of SipHash, which was a
/// tenth of the worker's instructions per packet.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Datagrams handled per turn of the worker loop at most, so that timers and commands still
/// get their turn under a steady flood.
pub(crate) const RECEIVE_BATCH: usize = 64;
/// At most one keyframe request per publisher in this interval, however many ask.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);
/// Wake-up interval when no peer has a timer.
const IDLE_TICK: Duration = Duration::from_millis(500);

pub(crate) fn spawn(
    config: SfuConfig,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<SfuEvent>,
    recording_tx: mpsc::Sender<RecordingEvent>,
    counters: Arc<Counters>,
) -> std::io::Result<SocketAddr> {
    let socket = bind_media_socket(config.bind)?;
    let local_addr = socket.local_addr()?;
    let advertised = SocketAddr::new(
        config.advertised_ip.unwrap_or(local_addr.ip()),
        local_addr.port(),
    );
    std::thread::Builder::new()
        .name("sfu-worker".into())
        .spawn(move || {
            raise_priority(config.realtime_priority, &counters);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime can be built");
            runtime.block_on(async move {
                let (socket, inbound) = match UdpSocket::from_std(socket)
                    .and_then(|socket| Inbound::new(&socket).map(|inbound| (socket, inbound)))
                {
                    Ok(both) => both,
                    Err(error) => {
                        tracing::error!(%error, "media socket unusable");
                        return;
                    }
                };
                let mut worker = Worker {
                    connect_timeout: config.connect_timeout,
                    socket,
                    inbound,
                    advertised,
                    events,
                    recording_tx,
                    recordings: HashMap::default(),
                    counters,
                    peers: HashMap::default(),
                    by_ufrag: HashMap::default(),
                    by_addr: HashMap::default(),
                    inbox: Vec::new(),
                    dirty: Vec::new(),
                };
                worker.run(commands).await;
            });
        })?;
    Ok(local_addr)
}

/// Asks for real-time scheduling of the calling (worker) thread; see
/// [`SfuConfig::realtime_priority`]. Without the privilege the worker goes on at normal
/// priority, and says so once.
fn raise_priority(priority: u8, counters: &Counters) {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    };
    if priority == 0 {
        return;
    }
    let result = ThreadPriorityValue::try_from(priority.min(99))
        .map_err(|_| thread_priority::Error::Priority("outside 1..=99"))
        .and_then(|value| {
            thread_priority::set_thread_priority_and_policy(
                thread_priority::thread_native_id(),
                ThreadPriority::Crossplatform(value),
                ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin),
            )
        });
    match result {
        Ok(()) => {
            counters
                .worker_realtime_priority
                .store(u64::from(priority), std::sync::atomic::Ordering::Relaxed);
            tracing::info!(priority, "media worker runs at real-time priority");
        }
        Err(error) => tracing::warn!(
            ?error,
            "media worker runs at normal priority: real-time priority needs RLIMIT_RTPRIO >= \
             {priority} or CAP_SYS_NICE (systemd: LimitRTPRIO={priority}; Docker: --ulimit \
             rtprio={priority})"
        ),
    }
}

/// Kernel buffer asked for on the media socket, each way. One socket carries every peer, so a
/// short stall of the worker (a busy machine) must not overflow the default ~200 KB and drop a
/// handshake or a keyframe. The kernel may grant less (`net.core.rmem_max`); logged at start.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

fn bind_media_socket(bind: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let domain = socket2::Domain::for_address(bind);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: a smaller buffer still works, it only drops sooner under load.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket.bind(&bind.into())?;
    socket.set_nonblocking(true)?;
    tracing::debug!(
        receive = socket.recv_buffer_size().unwrap_or(0),
        send = socket.send_buffer_size().unwrap_or(0),
        "media socket buffers"
    );
    Ok(socket.into())
}

/// The codecs we forward; anything else is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    H264,
    Vp8,
    Opus,
    Other,
}

impl Codec {
    fn from_mime(mime: &str) -> Self {
        if mime.eq_ignore_ascii_case(MIME_TYPE_H264) {
            Codec::H264
        } else if mime.eq_ignore_ascii_case(MIME_TYPE_VP8) {
            Codec::Vp8
        } else if mime.eq_ignore_ascii_case(MIME_TYPE_OPUS) {
            Codec::Opus
        } else {
            Codec::Other
        }
    }
}

/// A codec with the H.264 details that decide which payload type fits a stream: the
/// `profile-level-id` profile part (e.g. `42e0`) and packetization mode 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CodecId {
    codec: Codec,
    h264_profile: [u8; 4],
    packetization_mode_1: bool,
}

impl CodecId {
    fn from_codec(mime: &str, fmtp: &str) -> Self {
        let mut h264_profile = [0u8; 4];
        let mut packetization_mode_1 = false;
        for parameter in fmtp.split(';') {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            match key.trim() {
                "profile-level-id" if value.len() >= 4 => {
                    for (slot, byte) in h264_profile.iter_mut().zip(value.bytes()) {
                        *slot = byte.to_ascii_lowercase();
                    }
                }
                "packetization-mode" => packetization_mode_1 = value.trim() == "1",
                _ => {}
            }
        }
        Self {
            codec: Codec::from_mime(mime),
            h264_profile,
            packetization_mode_1,
        }
    }

    /// How well a payload type of this codec carries a stream of `other` (0 = not at all).
    fn fit(&self, other: &CodecId) -> u8 {
        if self.codec != other.codec {
            return 0;
        }
        if self.codec != Codec::H264 {
            return 3;
        }
        match (
            self.packetization_mode_1 == other.packetization_mode_1,
            self.h264_profile == other.h264_profile,
        ) {
            (true, true) => 3,
            (true, false) => 2,
            _ => 1,
        }
    }
}

/// A media track received from a browser.
#[derive(Clone, Debug)]
struct RemoteTrack {
    kind: RtpCodecKind,
    receiver: RTCRtpReceiverId,
    ssrc: u32,
    highest_seq: Option<u16>,
}

/// One outgoing stream: a sender of ours with its fixed SSRC and its own rewriter.
struct OutStream {
    sender: RTCRtpSenderId,
    ssrc: u32,
    rewriter: StreamRewriter,
    /// Payload type to use per codec, learnt after negotiation (first match wins).
    payload_types: Vec<(CodecId, u8)>,
}

impl OutStream {
    /// The negotiated payload type that best fits the incoming stream's codec (for H.264 the
    /// same profile and packetization mode, so decoders get what the camera really sends).
    fn payload_type_for(&self, codec: &CodecId) -> Option<u8> {
        self.payload_types
            .iter()
            .map(|(c, pt)| (c.fit(codec), *pt))
            .filter(|(fit, _)| *fit > 0)
            .max_by_key(|(fit, _)| *fit)
            .map(|(_, pt)| pt)
    }
}

struct Slot {
    video: OutStream,
    audio: OutStream,
    source: Option<PeerId>,
}

/// Most destinations one packet can have (routes of a camera, or cameras hearing a supporter).
/// Fixed so that the fan-out list lives on the stack: no allocation per forwarded packet in our
/// own code.
pub(crate) const MAX_FANOUT: usize = 32;

/// Where one received packet goes: (peer, slot) for slots, (peer, None) for return audio.
struct Destinations {
    items: [(PeerId, Option<u32>); MAX_FANOUT],
    len: usize,
}

impl Destinations {
    fn new() -> Self {
        Self {
            items: [(PeerId(0), None); MAX_FANOUT],
            len: 0,
        }
    }

    fn push(&mut self, item: (PeerId, Option<u32>)) {
        if self.len < MAX_FANOUT {
            self.items[self.len] = item;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[(PeerId, Option<u32>)] {
        &self.items[..self.len]
    }
}

enum Role {
    Publisher {
        /// The supporter's voice towards this camera.
        return_audio: OutStream,
        /// (subscriber, slot) pairs this camera's media goes to.
        routes: Vec<(PeerId, u32)>,
        last_keyframe_request: Option<Instant>,
        /// A viewer was attached before the video track was known: ask as soon as it is.
        keyframe_pending: bool,
        media_flowing: bool,
    },
    Subscriber {
        slots: Vec<Slot>,
        /// Publishers that receive this supporter's microphone.
        return_targets: Vec<PeerId>,
    },
}

struct Peer {
    pc: RTCPeerConnection,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    role: Role,
    /// Remote tracks by track ID, with their codec.
    remote: HashMap<String, (RemoteTrack, CodecId)>,
    created: Instant,
    connected: bool,
    next_timeout: Option<Instant>,
}

struct Worker {
    connect_timeout: Duration,
    socket: UdpSocket,
    /// Received datagrams waiting for the worker, per sender.
    inbound: Inbound,
    advertised: SocketAddr,
    events: mpsc::Sender<SfuEvent>,
    recording_tx: mpsc::Sender<RecordingEvent>,
    /// Active recordings and the publisher peer currently feeding each.
    recordings: HashMap<RecordingKey, (Recorder, Option<PeerId>)>,
    counters: Arc<Counters>,
    peers: HashMap<PeerId, Peer>,
    by_ufrag: HashMap<String, PeerId>,
    by_addr: HashMap<SocketAddr, PeerId>,
    /// Messages read from peers, waiting to be forwarded (reused, never shrunk).
    inbox: Vec<(PeerId, RTCMessage)>,
    /// Peers with output to drain (reused).
    dirty: Vec<PeerId>,
}

fn random_string(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// What we offer browsers for video: transport-wide congestion control (the SFU answers the
/// camera's transport-cc sequence numbers with feedback, which drives its bandwidth estimate),
/// keyframe requests and NACK. No REMB: this SFU does not produce REMB, so it does not offer it.
fn video_feedback() -> Vec<RTCPFeedback> {
    [
        ("transport-cc", ""),
        ("ccm", "fir"),
        ("nack", ""),
        ("nack", "pli"),
    ]
    .into_iter()
    .map(|(typ, parameter)| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    })
    .collect()
}

fn h264_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.into(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
            .into(),
        rtcp_feedback: video_feedback(),
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![RTCPFeedback {
            typ: "transport-cc".into(),
            parameter: String::new(),
        }],
    }
}

/// Packets kept per outgoing stream for retransmission on NACK. The `rtc` default of 1024 is
/// ten seconds of a camera's video, held for every slot of every supporter: megabytes per room
/// for repairs nobody can use (a retransmission later than a few round trips arrives after the
/// picture it belonged to). 256 packets are about 2.5 s of 1 Mbit/s video and 5 s of audio.
const NACK_BUFFER_PACKETS: u16 = 256;

/// The interceptor chain of every peer: NACK (generate for what we receive, answer from a
/// [`NACK_BUFFER_PACKETS`] buffer for what we send), transport-wide congestion control feedback
/// to publishers, RTCP sender and receiver reports.
fn media_interceptors(
    registry: Registry,
    engine: &mut MediaEngine,
) -> Result<Registry, rtc::shared::error::Error> {
    use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, Slot};
    let registry = registry
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new()
                .with_size(NACK_BUFFER_PACKETS)
                .build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(engine)?;
    let registry = configure_twcc_receiver_only(registry, engine)?;
    Ok(configure_rtcp_reports(registry))
}

/// Codecs we negotiate, in order of preference: H.264 constrained baseline with
/// packetization-mode 1 (recordable without transcoding), then VP8; Opus for audio.
fn media_engine() -> Result<MediaEngine, SfuError> {
    let mut engine = MediaEngine::default();
    let internal = |e: rtc::shared::error::Error| SfuError::Internal(e.to_string());
    let video = [
        (h264_codec(), 102u8),
        (
            RTCRtpCodec {
                sdp_fmtp_line:
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f".into(),
                ..h264_codec()
            },
            108,
        ),
        (
            RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.into(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: video_feedback(),
            },
            96,
        ),
    ];
    for (codec, pt) in video {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec,
                    payload_type: pt,
                },
                RtpCodecKind::Video,
            )
            .map_err(internal)?;
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: RTCRtpCodec {
                        mime_type: MIME_TYPE_RTX.into(),
                        clock_rate: 90_000,
                        channels: 0,
                        sdp_fmtp_line: format!("apt={pt}"),
                        rtcp_feedback: vec![],
                    },
                    payload_type: pt + 1,
                },
                RtpCodecKind::Video,
            )
            .map_err(internal)?;
    }
    engine
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus_codec(),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )
        .map_err(internal)?;
    Ok(engine)
}

fn local_track(id: &str, kind: RtpCodecKind, ssrc: u32) -> MediaStreamTrack {
    let codec = match kind {
        RtpCodecKind::Audio => opus_codec(),
        _ => h264_codec(),
    };
    MediaStreamTrack::new(
        format!("ra-{id}"),
        id.to_owned(),
        id.to_owned(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )
}

/// Extracts the STUN USERNAME's first half (our ufrag) from a binding request, if this
/// datagram is one. Never panics on garbage.
pub(crate) fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    const MAGIC: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    const USERNAME: u16 = 0x0006;
    if datagram.len() < 20 || datagram[0] & 0xC0 != 0 || datagram[4..8] != MAGIC {
        return None;
    }
    let length = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let body = datagram.get(20..20 + length)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + len)?;
        if typ == USERNAME {
            let text = std::str::from_utf8(value).ok()?;
            return text.split(':').next();
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// Lists the codecs each `m=` section of an answer ended up with, to refuse offers with none.
fn answer_has_codec(sdp: &str, kind: &str) -> bool {
    let mut in_section = false;
    let mut has_codec = false;
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            if in_section && has_codec {
                return true;
            }
            in_section = rest.starts_with(kind) && !rest.contains(" 0 ");
            has_codec = false;
        } else if in_section && line.starts_with("a=rtpmap:") {
            let lower = line.to_ascii_lowercase();
            if lower.contains("h264") || lower.contains("vp8") || lower.contains("opus") {
                has_codec = true;
            }
        }
    }
    in_section && has_codec
}

impl Worker {
    async fn run(&mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            self.counters.worker_heartbeat_ms.store(
                crate::counters::unix_millis(),
                std::sync::atomic::Ordering::Relaxed,
            );
            self.drain_dirty();
            let now = Instant::now();
            let deadline = self
                .peers
                .values()
                .filter_map(|p| p.next_timeout)
                .min()
                .unwrap_or(now + IDLE_TICK)
                .min(now + IDLE_TICK);
            let backlog = !self.inbound.is_empty();
            tokio::select! {
                // Commands and due timers before media, so that neither waits for a backlog.
                biased;
                command = commands.recv() => match command {
                    Some(Command::Stop) | None => break,
                    Some(command) => self.command(command),
                },
                _ = tokio::time::sleep_until(deadline.into()) => self.timeouts(),
                readable = self.socket.readable(), if !backlog => match readable {
                    Ok(()) => self.read_socket(),
                    Err(error) => tracing::debug!(%error, "media socket readiness error"),
                },
                // Datagrams are queued already: go on serving them, yielding to the runtime
                // only when this task has used its budget.
                () = tokio::task::consume_budget(), if backlog => {}
            }
            self.serve_queued();
        }
        for (_, mut peer) in self.peers.drain() {
            let _ = peer.pc.close();
        }
    }

    /// Handles up to [`RECEIVE_BATCH`] queued datagrams, the senders taking turns. The socket
    /// is read again after each one, so that a datagram that arrived meanwhile gets its
    /// sender's turn before the rest of an earlier burst of another. That costs a system call
    /// only until the kernel says it has nothing: tokio then skips the read until its next
    /// readiness event, which it takes up when this loop next yields (at the latest after
    /// this batch).
    ///
    /// Never inlined: it is the function `sfu/examples/worker_path.rs` has callgrind count
    /// between, which needs the symbol whatever the optimizer does (it is called once per turn
    /// of the loop, so the call costs nothing that shows).
    #[inline(never)]
    fn serve_queued(&mut self) {
        // Also after a command or a timer: media is read even if timers were due on every turn.
        if self.inbound.is_empty() {
            self.read_socket();
        }
        for _ in 0..RECEIVE_BATCH {
            let Some(datagram) = self.inbound.next() else {
                return;
            };
            self.counters
                .receive_wait
                .observe(Instant::now().saturating_duration_since(datagram.arrived));
            self.datagram_guarded(&datagram.data, datagram.from);
            // Everything the datagram caused has been sent (datagram_guarded drains the peers).
            self.counters
                .datagram_handling
                .observe(Instant::now().saturating_duration_since(datagram.arrived));
            self.inbound.recycle(datagram);
            self.read_socket();
        }
    }

    /// Queues what the kernel has received, without waiting.
    fn read_socket(&mut self) {
        match self.inbound.fill(&self.socket) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            // ICMP port unreachable and the like surface here; keep serving.
            Err(error) => tracing::debug!(%error, "media socket receive error"),
        }
    }

    fn emit(&self, event: SfuEvent) {
        match self.events.try_send(event) {
            Ok(()) => {}
            // A peer's end must reach the server even when the queue is momentarily full, or
            // a camera would stay "online" forever; other events are superseded by later ones.
            Err(mpsc::error::TrySendError::Full(
                event @ SfuEvent::PeerState {
                    state: PeerState::Failed,
                    ..
                },
            )) => {
                let events = self.events.clone();
                tokio::spawn(async move {
                    let _ = events.send(event).await;
                });
            }
            Err(_) => tracing::warn!("SFU event queue full; event dropped"),
        }
    }

    fn mark(&mut self, peer: PeerId) {
        if !self.dirty.contains(&peer) {
            self.dirty.push(peer);
        }
    }

    /// Handles a datagram; a panic inside the media engine (a bug, or input it cannot cope with)
    /// drops the peer involved instead of stopping media for everyone.
    fn datagram_guarded(&mut self, data: &[u8], from: SocketAddr) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.datagram(data, from);
            self.drain_dirty();
        }));
        if result.is_err() {
            Counters::add(&self.counters.panics, 1);
            self.dirty.clear();
            self.inbox.clear();
            if let Some(peer) = self.by_addr.get(&from).copied() {
                tracing::error!(%peer, "media engine panicked on a datagram; dropping the peer");
                self.remove_peer(peer);
                self.emit(SfuEvent::PeerState {
                    peer,
                    state: PeerState::Failed,
                });
            }
        }
    }

    fn datagram(&mut self, data: &[u8], from: SocketAddr) {
        Counters::add(&self.counters.packets_in, 1);
        Counters::add(&self.counters.bytes_in, data.len() as u64);
        // A STUN request names its peer; it also re-points the address after a network change.
        let peer = match stun_local_ufrag(data).and_then(|u| self.by_ufrag.get(u).copied()) {
            Some(peer) => {
                if self.by_addr.get(&from) != Some(&peer) {
                    self.by_addr.insert(from, peer);
                    if let Some(p) = self.peers.get_mut(&peer)
                        && !p.addrs.contains(&from)
                    {
                        p.addrs.push(from);
                    }
                }
                peer
            }
            None => match self.by_addr.get(&from) {
                Some(peer) => *peer,
                None => {
                    Counters::add(&self.counters.dropped_datagrams, 1);
                    return;
                }
            },
        };
        let Some(p) = self.peers.get_mut(&peer) else {
            Counters::add(&self.counters.dropped_datagrams, 1);
            return;
        };
        let result = p.pc.handle_read(TaggedBytesMut {
            now: Instant::now(),
            transport: TransportContext {
                // The ICE agent matches checks against the candidate it advertised, so this is
                // the advertised address, not the (possibly 0.0.0.0) bound one.
                local_addr: self.advertised,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        });
        if let Err(error) = result {
            // Garbage or a replayed/undecryptable packet: drop it, keep the peer.
            tracing::trace!(%error, %peer, "datagram rejected");
            Counters::add(&self.counters.dropped_datagrams, 1);
        }
        self.mark(peer);
    }

    fn timeouts(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        let due: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.next_timeout.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(p) = self.peers.get_mut(&id) {
                let _ = p.pc.handle_timeout(now);
            }
            self.mark(id);
        }
        for (id, p) in &self.peers {
            if !p.connected && now.duration_since(p.created) > self.connect_timeout {
                expired.push(*id);
            }
        }
        for id in expired {
            tracing::info!(peer = %id, "peer did not connect in time");
            self.remove_peer(id);
            self.emit(SfuEvent::PeerState {
                peer: id,
                state: PeerState::Failed,
            });
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::CreatePeer {
                peer,
                role,
                offer,
                reply,
            } => {
                let result = self.create_peer(peer, role, offer);
                let _ = reply.send(result);
            }
            Command::RemovePeer { peer } => self.remove_peer(peer),
            Command::Attach {
                publisher,
                subscriber,
                slot,
                reply,
            } => {
                let _ = reply.send(self.attach(publisher, subscriber, slot));
            }
            Command::Detach {
                publisher,
                subscriber,
                slot,
            } => self.detach(publisher, subscriber, slot),
            Command::SetReturnAudio {
                subscriber,
                publisher,
                enabled,
            } => self.set_return_audio(subscriber, publisher, enabled),
            Command::RequestKeyframe { publisher, force } => {
                self.request_keyframe(publisher, force)
            }
            Command::StartRecording {
                publisher,
                recording,
            } => {
                let counters = &self.counters;
                let entry = self.recordings.entry(recording).or_insert_with(|| {
                    Counters::add(&counters.recordings, 1);
                    (Recorder::new(Instant::now()), None)
                });
                entry.1 = Some(publisher);
                // The file must start with a keyframe.
                self.request_keyframe(publisher, true);
            }
            Command::StopRecording { recording } => self.finish_recording(recording),
            Command::Stop => {}
        }
    }

    fn create_peer(
        &mut self,
        id: PeerId,
        role: PeerRole,
        offer: String,
    ) -> Result<String, SfuError> {
        let internal = |e: rtc::shared::error::Error| SfuError::Internal(e.to_string());
        let offer =
            RTCSessionDescription::offer(offer).map_err(|e| SfuError::BadOffer(e.to_string()))?;
        let ufrag = random_string(16);
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_ice_credentials(ufrag.clone(), random_string(32))
            .with_answering_dtls_role(RTCDtlsRole::Server)
            // Browsers' `.local` candidates must never make us send multicast queries: we are
            // ICE-lite and learn their addresses from their checks.
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_network_types(vec![
                rtc::ice::network_type::NetworkType::Udp4,
                rtc::ice::network_type::NetworkType::Udp6,
            ])
            .build();
        let mut engine = media_engine()?;
        let registry = Registry::new().with(
            rtc::interceptor::Slot::from(crate::feedback::DELIVER_FEEDBACK_SLOT),
            crate::feedback::DeliverFeedback::default(),
        );
        let registry = media_interceptors(registry, &mut engine).map_err(internal)?;
        let now = Instant::now();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(internal)?;

        let add = |pc: &mut RTCPeerConnection,
                   name: String,
                   kind: RtpCodecKind,
                   direction: RTCRtpTransceiverDirection|
         -> Result<OutStream, SfuError> {
            let ssrc = rand::random::<u32>();
            let track = local_track(&name, kind, ssrc);
            let encodings = track.codings().to_vec();
            let transceiver = pc
                .add_transceiver_from_track(
                    track,
                    Some(RTCRtpTransceiverInit {
                        direction,
                        streams: vec![],
                        send_encodings: encodings,
                    }),
                )
                .map_err(internal)?;
            let clock = if kind == RtpCodecKind::Audio {
                48_000
            } else {
                90_000
            };
            Ok(OutStream {
                sender: RTCRtpSenderId::from(transceiver),
                ssrc,
                rewriter: StreamRewriter::new(clock),
                payload_types: Vec::new(),
            })
        };
        let mut role = match role {
            PeerRole::Publisher => Role::Publisher {
                // Sendrecv: the camera's microphone arrives on the same transceiver.
                return_audio: add(
                    &mut pc,
                    "return-audio".into(),
                    RtpCodecKind::Audio,
                    RTCRtpTransceiverDirection::Sendrecv,
                )?,
                routes: Vec::new(),
                last_keyframe_request: None,
                keyframe_pending: false,
                media_flowing: false,
            },
            PeerRole::Subscriber { slots } => {
                if slots as usize > MAX_FANOUT {
                    return Err(SfuError::Internal(format!(
                        "at most {MAX_FANOUT} slots per subscriber"
                    )));
                }
                let mut list = Vec::new();
                for i in 0..slots {
                    let video = add(
                        &mut pc,
                        format!("slot{i}-video"),
                        RtpCodecKind::Video,
                        RTCRtpTransceiverDirection::Sendonly,
                    )?;
                    let audio = add(
                        &mut pc,
                        format!("slot{i}-audio"),
                        RtpCodecKind::Audio,
                        RTCRtpTransceiverDirection::Sendonly,
                    )?;
                    list.push(Slot {
                        video,
                        audio,
                        source: None,
                    });
                }
                Role::Subscriber {
                    slots: list,
                    return_targets: Vec::new(),
                }
            }
        };
        pc.set_remote_description(now, offer)
            .map_err(|e| SfuError::BadOffer(e.to_string()))?;
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.advertised.ip().to_string(),
                port: self.advertised.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(internal)?;
        let candidate = RTCIceCandidate::from(&candidate)
            .to_json()
            .map_err(internal)?;
        pc.add_local_candidate(candidate).map_err(internal)?;
        let answer = pc
            .create_answer(None)
            .map_err(|e| SfuError::BadOffer(e.to_string()))?;
        pc.set_local_description(now, answer).map_err(internal)?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp.clone())
            .ok_or_else(|| SfuError::Internal("no local description".into()))?;
        let usable = match role {
            Role::Publisher { .. } => answer_has_codec(&sdp, "video"),
            Role::Subscriber { .. } => answer_has_codec(&sdp, "video"),
        };
        if !usable {
            let _ = pc.close();
            return Err(SfuError::NoSupportedCodec(
                "offer H.264 (packetization-mode=1) or VP8".into(),
            ));
        }
        // Learn the payload types the browser accepted for each of our senders.
        let streams: Vec<&mut OutStream> = match &mut role {
            Role::Publisher { return_audio, .. } => vec![return_audio],
            Role::Subscriber { slots, .. } => slots
                .iter_mut()
                .flat_map(|s| [&mut s.video, &mut s.audio])
                .collect(),
        };
        for stream in streams {
            if let Some(mut sender) = pc.rtp_sender(stream.sender) {
                stream.payload_types = sender
                    .get_parameters()
                    .rtp_parameters
                    .codecs
                    .iter()
                    .map(|c| {
                        (
                            CodecId::from_codec(&c.rtp_codec.mime_type, &c.rtp_codec.sdp_fmtp_line),
                            c.payload_type,
                        )
                    })
                    .filter(|(c, _)| c.codec != Codec::Other)
                    .collect();
            }
        }
        if let Some(old) = self.peers.contains_key(&id).then_some(id) {
            self.remove_peer(old);
        }
        match role {
            Role::Publisher { .. } => Counters::add(&self.counters.publishers, 1),
            Role::Subscriber { .. } => Counters::add(&self.counters.subscribers, 1),
        }
        Counters::add(&self.counters.peers, 1);
        let next_timeout = pc.poll_timeout();
        self.by_ufrag.insert(ufrag.clone(), id);
        self.peers.insert(
            id,
            Peer {
                pc,
                ufrag,
                addrs: Vec::new(),
                role,
                remote: HashMap::default(),
                created: now,
                connected: false,
                next_timeout,
            },
        );
        self.mark(id);
        Ok(sdp)
    }

    /// The recording a publisher feeds, if any.
    fn recording_of(&self, publisher: PeerId) -> Option<RecordingKey> {
        self.recordings
            .iter()
            .find(|(_, (_, p))| *p == Some(publisher))
            .map(|(k, _)| *k)
    }

    fn record(&mut self, recording: RecordingKey, stream: Stream, packet: &rtc::rtp::Packet) {
        let Some((recorder, publisher)) = self.recordings.get_mut(&recording) else {
            return;
        };
        let now = Instant::now();
        recorder.push(stream, packet, now);
        // Fragments start at keyframes: keep them coming about every fragment length.
        if matches!(stream, Stream::CameraVideo | Stream::CameraVideoVp8)
            && recorder.keyframe_due(now)
            && let Some(publisher) = *publisher
        {
            self.request_keyframe(publisher, false);
        }
        let Some((recorder, _)) = self.recordings.get_mut(&recording) else {
            return;
        };
        let mut overflow = false;
        while let Some(bytes) = recorder.poll_output() {
            if self
                .recording_tx
                .try_send(RecordingEvent::Data { recording, bytes })
                .is_err()
            {
                overflow = true;
                break;
            }
        }
        if overflow {
            tracing::error!(
                ?recording,
                "recording writer is too far behind; stopping this recording"
            );
            self.finish_recording(recording);
        }
    }

    fn finish_recording(&mut self, recording: RecordingKey) {
        let removed = self.recordings.remove(&recording);
        if removed.is_some() {
            self.counters
                .recordings
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        let Some((mut recorder, _)) = removed else {
            // Never started here (the camera never got a media peer): it still ends, empty, so
            // the server does not wait for it forever.
            let tx = self.recording_tx.clone();
            tokio::spawn(async move {
                let _ = tx
                    .send(RecordingEvent::Finished {
                        recording,
                        stats: Default::default(),
                    })
                    .await;
            });
            return;
        };
        recorder.finish();
        let tx = self.recording_tx.clone();
        let mut rest = Vec::new();
        while let Some(bytes) = recorder.poll_output() {
            rest.push(RecordingEvent::Data { recording, bytes });
        }
        rest.push(RecordingEvent::Finished {
            recording,
            stats: recorder.stats(),
        });
        // The end of a recording must not be lost to a momentarily full queue.
        tokio::spawn(async move {
            for event in rest {
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
    }

    fn remove_peer(&mut self, id: PeerId) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        let _ = peer.pc.close();
        self.by_ufrag.remove(&peer.ufrag);
        for addr in &peer.addrs {
            if self.by_addr.get(addr) == Some(&id) {
                self.by_addr.remove(addr);
            }
        }
        let dec = |c: &std::sync::atomic::AtomicU64| {
            c.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        };
        dec(&self.counters.peers);
        self.counters.tracks.fetch_sub(
            peer.remote.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        match peer.role {
            Role::Publisher { routes, .. } => {
                dec(&self.counters.publishers);
                for (subscriber, slot) in routes {
                    self.clear_slot(subscriber, slot, id);
                }
                for other in self.peers.values_mut() {
                    if let Role::Subscriber { return_targets, .. } = &mut other.role {
                        return_targets.retain(|p| *p != id);
                    }
                }
            }
            Role::Subscriber { slots, .. } => {
                dec(&self.counters.subscribers);
                for (slot, s) in slots.into_iter().enumerate() {
                    if let Some(source) = s.source {
                        self.unroute(source, id, slot as u32);
                    }
                }
            }
        }
    }

    fn clear_slot(&mut self, subscriber: PeerId, slot: u32, source: PeerId) {
        if let Some(Peer {
            role: Role::Subscriber { slots, .. },
            ..
        }) = self.peers.get_mut(&subscriber)
            && let Some(s) = slots.get_mut(slot as usize)
            && s.source == Some(source)
        {
            s.source = None;
            s.video.rewriter.reset_source();
            s.audio.rewriter.reset_source();
            self.counters
                .routes
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn unroute(&mut self, publisher: PeerId, subscriber: PeerId, slot: u32) {
        if let Some(Peer {
            role: Role::Publisher { routes, .. },
            ..
        }) = self.peers.get_mut(&publisher)
        {
            routes.retain(|r| *r != (subscriber, slot));
        }
    }

    fn attach(&mut self, publisher: PeerId, subscriber: PeerId, slot: u32) -> Result<(), SfuError> {
        match self.peers.get(&publisher) {
            Some(Peer {
                role: Role::Publisher { .. },
                ..
            }) => {}
            _ => return Err(SfuError::NoSuchPeer(publisher)),
        }
        let previous = match self.peers.get_mut(&subscriber) {
            Some(Peer {
                role: Role::Subscriber { slots, .. },
                ..
            }) => {
                let s = slots.get_mut(slot as usize).ok_or(SfuError::NoSuchSlot {
                    peer: subscriber,
                    slot,
                })?;
                let previous = s.source.replace(publisher);
                s.video.rewriter.reset_source();
                s.audio.rewriter.reset_source();
                previous
            }
            _ => return Err(SfuError::NoSuchPeer(subscriber)),
        };
        match previous {
            Some(old) if old != publisher => self.unroute(old, subscriber, slot),
            Some(_) => {}
            None => Counters::add(&self.counters.routes, 1),
        }
        if let Some(Peer {
            role: Role::Publisher { routes, .. },
            ..
        }) = self.peers.get_mut(&publisher)
            && !routes.contains(&(subscriber, slot))
            && routes.len() < MAX_FANOUT
        {
            routes.push((subscriber, slot));
        }
        // A new viewer needs a keyframe now, not at the next periodic one.
        self.request_keyframe(publisher, true);
        Ok(())
    }

    fn detach(&mut self, publisher: PeerId, subscriber: PeerId, slot: u32) {
        self.unroute(publisher, subscriber, slot);
        self.clear_slot(subscriber, slot, publisher);
        self.set_return_audio(subscriber, publisher, false);
    }

    fn set_return_audio(&mut self, subscriber: PeerId, publisher: PeerId, enabled: bool) {
        if let Some(Peer {
            role: Role::Subscriber { return_targets, .. },
            ..
        }) = self.peers.get_mut(&subscriber)
        {
            return_targets.retain(|p| *p != publisher);
            if enabled {
                return_targets.push(publisher);
            }
        }
        if let Some(Peer {
            role: Role::Publisher { return_audio, .. },
            ..
        }) = self.peers.get_mut(&publisher)
        {
            return_audio.rewriter.reset_source();
        }
    }

    /// Sends a PLI to the publisher's video, at most once per [`KEYFRAME_REQUEST_INTERVAL`]
    /// unless `force`d.
    fn request_keyframe(&mut self, publisher: PeerId, force: bool) {
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let Role::Publisher {
            last_keyframe_request,
            keyframe_pending,
            ..
        } = &mut peer.role
        else {
            return;
        };
        let now = Instant::now();
        if !force
            && last_keyframe_request
                .is_some_and(|at| now.duration_since(at) < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        let video = peer
            .remote
            .values()
            .find(|(t, _)| t.kind == RtpCodecKind::Video)
            .map(|(t, _)| (t.receiver, t.ssrc));
        let Some((receiver, media_ssrc)) = video else {
            *keyframe_pending = true;
            return;
        };
        *keyframe_pending = false;
        *last_keyframe_request = Some(now);
        if let Some(mut receiver) = peer.pc.rtp_receiver(receiver) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            if receiver.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
                Counters::add(&self.counters.plis_sent, 1);
            }
        }
        self.mark(publisher);
    }

    fn is_publisher(&self, peer: PeerId) -> bool {
        matches!(
            self.peers.get(&peer),
            Some(Peer {
                role: Role::Publisher { .. },
                ..
            })
        )
    }

    /// Drains every dirty peer until nothing is left to do.
    fn drain_dirty(&mut self) {
        while let Some(id) = self.dirty.pop() {
            self.drain_peer(id);
            let mut inbox = std::mem::take(&mut self.inbox);
            for (from, message) in inbox.drain(..) {
                self.forward(from, message);
            }
            self.inbox = inbox;
        }
    }

    fn drain_peer(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        while let Some(out) = peer.pc.poll_write() {
            match self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr)
            {
                Ok(n) => {
                    Counters::add(&self.counters.packets_out, 1);
                    Counters::add(&self.counters.bytes_out, n as u64);
                }
                // A full socket buffer drops this datagram; RTP/ICE recover as on any loss.
                Err(_) => Counters::add(&self.counters.dropped_datagrams, 1),
            }
        }
        let mut state_change = None;
        let mut opened = Vec::new();
        while let Some(event) = peer.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    state_change = Some(state);
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    opened.push(init);
                }
                _ => {}
            }
        }
        let video_opened = !opened.is_empty();
        for init in opened {
            if let Some(receiver) = peer.pc.rtp_receiver(init.receiver_id) {
                let track = receiver.track();
                let kind = track.kind();
                let mime = track
                    .codec(init.ssrc)
                    .map(|c| CodecId::from_codec(&c.mime_type, &c.sdp_fmtp_line))
                    .unwrap_or(CodecId::from_codec("", ""));
                if !peer.remote.contains_key(&init.track_id) {
                    Counters::add(&self.counters.tracks, 1);
                }
                peer.remote.insert(
                    init.track_id.clone(),
                    (
                        RemoteTrack {
                            kind,
                            receiver: init.receiver_id,
                            ssrc: init.ssrc,
                            highest_seq: None,
                        },
                        mime,
                    ),
                );
            }
        }
        // Media only: this SFU negotiates no data channel. `poll_read` would sweep the whole
        // pipeline again on every call for data-channel output that never comes; the media the
        // datagram carried is already queued by `handle_read` (and by `poll_event` above).
        while let Some(TaggedRTCMessage { message, .. }) = peer.pc.poll_media_read() {
            self.inbox.push((id, message));
        }
        peer.next_timeout = peer.pc.poll_timeout();
        let ask_keyframe = video_opened
            && matches!(
                peer.role,
                Role::Publisher {
                    keyframe_pending: true,
                    ..
                }
            );
        if ask_keyframe {
            self.request_keyframe(id, true);
        }
        // Re-borrow: asking for a keyframe needed the whole worker.
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some(state) = state_change {
            let mapped = match state {
                RTCPeerConnectionState::Connecting => Some(PeerState::Connecting),
                RTCPeerConnectionState::Connected => {
                    peer.connected = true;
                    Some(PeerState::Connected)
                }
                RTCPeerConnectionState::Disconnected => Some(PeerState::Disconnected),
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                    Some(PeerState::Failed)
                }
                _ => None,
            };
            if let Some(mapped) = mapped {
                self.emit(SfuEvent::PeerState {
                    peer: id,
                    state: mapped,
                });
                if mapped == PeerState::Failed {
                    self.remove_peer(id);
                }
            }
        }
    }

    fn forward(&mut self, from: PeerId, message: RTCMessage) {
        match message {
            RTCMessage::RtpPacket(track_id, packet) => self.forward_rtp(from, &track_id, packet),
            RTCMessage::RtcpPacket(track_id, packets) => self.handle_rtcp(from, &track_id, packets),
            _ => {}
        }
    }

    fn forward_rtp(&mut self, from: PeerId, track_id: &str, mut packet: rtc::rtp::Packet) {
        let now = Instant::now();
        // Phase 1: read what we need from the sending peer.
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let Some((track, codec)) = peer.remote.get_mut(track_id) else {
            return;
        };
        let (kind, codec) = (track.kind, *codec);
        let seq = packet.header.sequence_number;
        match track.highest_seq {
            Some(highest) => {
                let diff = seq.wrapping_sub(highest);
                if diff != 0 && diff < 0x8000 {
                    if diff > 1 {
                        Counters::add(&self.counters.rtp_lost, u64::from(diff - 1));
                    }
                    track.highest_seq = Some(seq);
                }
            }
            None => track.highest_seq = Some(seq),
        }
        let mut newly_flowing = false;
        let mut destinations = Destinations::new();
        match &mut peer.role {
            Role::Publisher {
                routes,
                media_flowing,
                ..
            } => {
                newly_flowing = !*media_flowing;
                *media_flowing = true;
                for &(subscriber, slot) in routes.iter() {
                    destinations.push((subscriber, Some(slot)));
                }
            }
            Role::Subscriber { return_targets, .. } if kind == RtpCodecKind::Audio => {
                for &target in return_targets.iter() {
                    destinations.push((target, None));
                }
            }
            Role::Subscriber { .. } => return,
        }
        if newly_flowing {
            self.emit(SfuEvent::MediaFlowing { peer: from });
        }
        // Recording taps: the camera's own tracks, and the supporter's voice to each camera.
        if self.is_publisher(from) {
            if let Some(recording) = self.recording_of(from) {
                let stream = match kind {
                    RtpCodecKind::Video if codec.codec == Codec::H264 => Some(Stream::CameraVideo),
                    RtpCodecKind::Video if codec.codec == Codec::Vp8 => {
                        Some(Stream::CameraVideoVp8)
                    }
                    RtpCodecKind::Audio => Some(Stream::CameraAudio),
                    _ => None,
                };
                if let Some(stream) = stream {
                    self.record(recording, stream, &packet);
                }
            }
        } else if kind == RtpCodecKind::Audio {
            for &(target, _) in destinations.as_slice() {
                if let Some(recording) = self.recording_of(target) {
                    self.record(recording, Stream::SupporterAudio, &packet);
                }
            }
        }
        // Extensions are negotiated per connection; forwarding them under another id would
        // corrupt them, so they are dropped and each leg adds its own.
        packet.header.extension = false;
        packet.header.extensions.clear();
        packet.header.extension_profile = 0;
        let (in_ssrc, in_seq, in_ts) = (
            packet.header.ssrc,
            packet.header.sequence_number,
            packet.header.timestamp,
        );
        // Phase 2: write into each destination.
        for &(to, slot) in destinations.as_slice() {
            // Before its DTLS handshake a peer has no SRTP keys; writing would only fail.
            let Some(dest) = self.peers.get_mut(&to).filter(|p| p.connected) else {
                continue;
            };
            let stream = match (&mut dest.role, slot) {
                (Role::Subscriber { slots, .. }, Some(slot)) => {
                    match slots.get_mut(slot as usize) {
                        Some(s) if kind == RtpCodecKind::Video => &mut s.video,
                        Some(s) => &mut s.audio,
                        None => continue,
                    }
                }
                (Role::Publisher { return_audio, .. }, None) => return_audio,
                _ => continue,
            };
            let Some(pt) = stream.payload_type_for(&codec) else {
                continue;
            };
            let Some(out) = stream.rewriter.rewrite(in_ssrc, in_seq, in_ts, now) else {
                continue;
            };
            let mut copy = packet.clone();
            copy.header.ssrc = stream.ssrc;
            copy.header.payload_type = pt;
            copy.header.sequence_number = out.seq;
            copy.header.timestamp = out.ts;
            let sender_id = stream.sender;
            if let Some(mut sender) = dest.pc.rtp_sender(sender_id)
                && sender.write_rtp(now, copy).is_ok()
            {
                Counters::add(&self.counters.rtp_forwarded, 1);
            }
            self.mark(to);
        }
    }

    fn handle_rtcp(
        &mut self,
        from: PeerId,
        _track_id: &str,
        packets: Vec<Box<dyn rtc::rtcp::Packet>>,
    ) {
        let Some(Peer {
            role: Role::Subscriber { slots, .. },
            ..
        }) = self.peers.get(&from)
        else {
            return;
        };
        // rtc tags a compound RTCP packet by its first part only, so the track id may name
        // another slot: map each request by the SSRC it is about instead.
        let slot_sources: Vec<(u32, Option<PeerId>)> =
            slots.iter().map(|s| (s.video.ssrc, s.source)).collect();
        for packet in &packets {
            let any = packet.as_any();
            if any.is::<TransportLayerNack>() {
                Counters::add(&self.counters.nacks_received, 1);
            } else if let Some(media_ssrcs) = keyframe_request_ssrcs(any) {
                Counters::add(&self.counters.plis_received, 1);
                for ssrc in media_ssrcs {
                    if let Some((_, Some(source))) = slot_sources
                        .iter()
                        .find(|(slot_ssrc, _)| *slot_ssrc == ssrc)
                    {
                        self.request_keyframe(*source, false);
                    }
                }
            }
        }
    }
}

/// The media SSRCs a PLI or FIR asks keyframes for.
fn keyframe_request_ssrcs(packet: &dyn std::any::Any) -> Option<Vec<u32>> {
    if let Some(pli) = packet.downcast_ref::<PictureLossIndication>() {
        return Some(vec![pli.media_ssrc]);
    }
    if let Some(fir) = packet.downcast_ref::<FullIntraRequest>() {
        return Some(fir.fir.iter().map(|entry| entry.ssrc).collect());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_username_is_found_and_garbage_is_ignored() {
        // A binding request with USERNAME "abcd:wxyz".
        let mut msg = vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xA4, 0x42];
        msg.extend_from_slice(&[0u8; 12]);
        msg.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
        msg.extend_from_slice(b"abcd:wxyz");
        msg.extend_from_slice(&[0, 0, 0]);
        assert_eq!(stun_local_ufrag(&msg), Some("abcd"));
        assert_eq!(stun_local_ufrag(&msg[..25]), None, "truncated");
        assert_eq!(stun_local_ufrag(&[0x80; 40]), None, "RTP");
        assert_eq!(stun_local_ufrag(&[]), None);
        let mut lying = msg.clone();
        lying[3] = 0xFF; // claims a longer body than it has
        assert_eq!(stun_local_ufrag(&lying), None);
        let mut bad_attr = msg.clone();
        bad_attr[22] = 0xFF; // attribute length beyond the body
        assert_eq!(stun_local_ufrag(&bad_attr), None);
    }

    #[test]
    fn h264_payload_types_follow_the_camera_profile() {
        let stream = OutStream {
            sender: RTCRtpSenderId::default(),
            ssrc: 1,
            rewriter: StreamRewriter::new(90_000),
            payload_types: vec![
                (
                    CodecId::from_codec(
                        "video/H264",
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
                    ),
                    102,
                ),
                (
                    CodecId::from_codec(
                        "video/H264",
                        "packetization-mode=0;profile-level-id=42e01f",
                    ),
                    104,
                ),
                (
                    CodecId::from_codec(
                        "video/H264",
                        "profile-level-id=42e01f;packetization-mode=1",
                    ),
                    106,
                ),
                (CodecId::from_codec("video/VP8", ""), 96),
            ],
        };
        let camera =
            CodecId::from_codec("video/h264", "packetization-mode=1;profile-level-id=42E01F");
        assert_eq!(stream.payload_type_for(&camera), Some(106));
        let vp8 = CodecId::from_codec("video/VP8", "");
        assert_eq!(stream.payload_type_for(&vp8), Some(96));
        let opus = CodecId::from_codec("audio/opus", "");
        assert_eq!(stream.payload_type_for(&opus), None);
    }

    #[test]
    fn answers_without_a_video_codec_are_detected() {
        let good = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert!(answer_has_codec(good, "video"));
        let none = "v=0\r\nm=video 0 UDP/TLS/RTP/SAVPF 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert!(!answer_has_codec(none, "video"));
    }
}
