//! In-process WebRTC test clients (feature `test-client`): offerers with full ICE built on the
//! sans-I/O `rtc` core, each with its own UDP socket on 127.0.0.1, driven step by step by the
//! caller — shaped like our browsers (a camera, or a supporter with slots). Used by the SFU's own
//! tests, the server's end-to-end tests and the load generator. Every wait is bounded.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{PeerId, PeerRole, SfuConfig, SfuEvent, SfuHandle};
use bytes::{Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MediaEngine,
};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::packetizer::Payloader;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(15);

static PEER_IP: std::sync::OnceLock<std::net::IpAddr> = std::sync::OnceLock::new();

/// Binds every test peer of this process to `ip` instead of 127.0.0.1 (the load generator does
/// this to reach a server inside a network namespace it made). Call before the first peer.
pub fn bind_peers_to(ip: std::net::IpAddr) {
    let _ = PEER_IP.set(ip);
}

pub async fn start_sfu() -> (SfuHandle, mpsc::Receiver<SfuEvent>) {
    SfuHandle::start(SfuConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertised_ip: None,
        connect_timeout: crate::DEFAULT_CONNECT_TIMEOUT,
        realtime_priority: crate::DEFAULT_REALTIME_PRIORITY,
    })
    .unwrap()
}

/// What a test client received.
#[derive(Default)]
pub struct Received {
    /// (receive time, track kind, packet)
    pub rtp: Vec<(Instant, RtpCodecKind, rtc::rtp::Packet)>,
    pub plis: usize,
}

/// Transport-wide congestion control feedback packets received by any test client (the chain
/// consumes them, so an interceptor counts them on the way).
pub static TRANSPORT_CC_RECEIVED: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

#[derive(Default)]
struct CountTransportCc {
    read_queue: std::collections::VecDeque<rtc::interceptor::TaggedPacket>,
    write_queue: std::collections::VecDeque<rtc::interceptor::TaggedPacket>,
}

impl Protocol<rtc::interceptor::TaggedPacket, rtc::interceptor::TaggedPacket, ()>
    for CountTransportCc
{
    type Rout = rtc::interceptor::TaggedPacket;
    type Wout = rtc::interceptor::TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: rtc::interceptor::TaggedPacket) -> Result<(), Self::Error> {
        if let rtc::interceptor::Packet::Rtcp(packets) = &msg.message.packet {
            let n = packets
                .iter()
                .filter(|p| {
                    p.as_any()
                        .is::<rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc>(
                        )
                })
                .count();
            TRANSPORT_CC_RECEIVED.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }
    fn handle_write(&mut self, msg: rtc::interceptor::TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }
    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Self::Time> {
        None
    }
}

impl rtc::interceptor::Interceptor for CountTransportCc {
    fn bind_local_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
}

pub struct TestPeer {
    pub pc: RTCPeerConnection,
    pub socket: UdpSocket,
    pub local: SocketAddr,
    /// Where datagrams go (the SFU, or a lossy relay in front of it).
    pub remote: Option<SocketAddr>,
    pub connected: bool,
    pub received: Received,
    /// Outgoing senders: (sender, ssrc, kind).
    pub senders: Vec<(RTCRtpSenderId, u32, RtpCodecKind)>,
    pub track_kinds: std::collections::HashMap<String, RtpCodecKind>,
    /// Receivers of the video tracks that opened (to send keyframe requests on).
    pub video_receivers: Vec<rtc::rtp_transceiver::RTCRtpReceiverId>,
    seq: u16,
    audio_seq: u16,
    /// When the datagram being handled reached the socket (the kernel's receive time).
    arrival: Option<Instant>,
}

/// Which video codec a test camera sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    /// A camera that offers VP8 only.
    Vp8,
}

fn codec(kind: RtpCodecKind, video: VideoCodec) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.into(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
            rtcp_feedback: vec![],
        },
        _ if video == VideoCodec::Vp8 => RTCRtpCodec {
            mime_type: rtc::peer_connection::configuration::media_engine::MIME_TYPE_VP8.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_H264.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                .into(),
            rtcp_feedback: vec![],
        },
    }
}

impl TestPeer {
    /// A client shaped like our browsers: a camera (video sendonly + audio sendrecv) or a
    /// supporter (`slots` recvonly video/audio pairs + a sendonly microphone).
    pub async fn new(role: PeerRole) -> Self {
        Self::with_video(role, VideoCodec::H264).await
    }

    /// Like [`TestPeer::new`], choosing the camera's video codec; a VP8 camera offers VP8 only.
    pub async fn with_video(role: PeerRole, video: VideoCodec) -> Self {
        let (socket, local) = Self::socket().await;
        let mut pc = Self::peer_connection(video);
        let mut senders = Vec::new();
        let mut add_send = |pc: &mut RTCPeerConnection, kind, direction, name: &str| {
            let ssrc = rand::random::<u32>();
            let track = MediaStreamTrack::new(
                "test-stream".into(),
                name.into(),
                name.into(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: codec(kind, video),
                    ..Default::default()
                }],
            );
            let encodings = track.codings().to_vec();
            let id = pc
                .add_transceiver_from_track(
                    track,
                    Some(RTCRtpTransceiverInit {
                        direction,
                        streams: vec![],
                        send_encodings: encodings,
                    }),
                )
                .unwrap();
            senders.push((RTCRtpSenderId::from(id), ssrc, kind));
        };
        match role {
            PeerRole::Publisher => {
                add_send(
                    &mut pc,
                    RtpCodecKind::Video,
                    RTCRtpTransceiverDirection::Sendonly,
                    "cam-video",
                );
                add_send(
                    &mut pc,
                    RtpCodecKind::Audio,
                    RTCRtpTransceiverDirection::Sendrecv,
                    "cam-audio",
                );
            }
            PeerRole::Subscriber { slots } => {
                for _ in 0..slots {
                    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
                        pc.add_transceiver_from_kind(
                            kind,
                            Some(RTCRtpTransceiverInit {
                                direction: RTCRtpTransceiverDirection::Recvonly,
                                streams: vec![],
                                send_encodings: vec![],
                            }),
                        )
                        .unwrap();
                    }
                }
                add_send(
                    &mut pc,
                    RtpCodecKind::Audio,
                    RTCRtpTransceiverDirection::Sendonly,
                    "mic",
                );
            }
        }
        Self::from_parts(pc, socket, local, senders)
    }

    async fn socket() -> (UdpSocket, SocketAddr) {
        let ip = *PEER_IP.get_or_init(|| std::net::Ipv4Addr::LOCALHOST.into());
        // A large receive buffer, like the server's: a test peer whose task is briefly not
        // scheduled (a loaded two-core machine) must not drop what the server sent it, or the
        // loss it reports would be its own.
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(SocketAddr::new(ip, 0)),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .unwrap();
        let _ = socket.set_recv_buffer_size(4 * 1024 * 1024);
        // The kernel stamps each datagram on arrival: what a test (or the load generator)
        // measures as arrival must not include how long this peer's task waited to run.
        nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::ReceiveTimestampns,
            &true,
        )
        .unwrap();
        socket.set_nonblocking(true).unwrap();
        socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
        let socket = UdpSocket::from_std(socket.into()).unwrap();
        let local = socket.local_addr().unwrap();
        (socket, local)
    }

    fn peer_connection(video: VideoCodec) -> RTCPeerConnection {
        let mut engine = MediaEngine::default();
        if video == VideoCodec::Vp8 {
            for (kind, pt) in [(RtpCodecKind::Video, 96), (RtpCodecKind::Audio, 111)] {
                engine
                    .register_codec(
                        rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters {
                            rtp_codec: codec(kind, video),
                            payload_type: pt,
                        },
                        kind,
                    )
                    .unwrap();
            }
        } else {
            engine.register_default_codecs().unwrap();
        }
        let registry = Registry::new().with(
            rtc::interceptor::Slot::from(crate::DELIVER_FEEDBACK_SLOT),
            crate::DeliverFeedback::default(),
        );
        let registry = register_default_interceptors(registry, &mut engine).unwrap();
        // Like a browser, a camera stamps transport-wide sequence numbers on what it sends, so
        // the SFU can give it bandwidth feedback.
        let registry =
            rtc::peer_connection::configuration::interceptor_registry::configure_twcc_sender_only(
                registry,
                &mut engine,
            )
            .unwrap();
        let registry = registry.with(
            rtc::interceptor::Slot::from(crate::DELIVER_FEEDBACK_SLOT + 1),
            CountTransportCc::default(),
        );
        RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .build(Instant::now())
            .unwrap()
    }

    fn from_parts(
        pc: RTCPeerConnection,
        socket: UdpSocket,
        local: SocketAddr,
        senders: Vec<(RTCRtpSenderId, u32, RtpCodecKind)>,
    ) -> Self {
        Self {
            pc,
            socket,
            local,
            remote: None,
            connected: false,
            received: Received::default(),
            senders,
            track_kinds: Default::default(),
            video_receivers: Vec::new(),
            seq: rand::random(),
            audio_seq: rand::random(),
            arrival: None,
        }
    }

    /// A peer that answers `offer` (a server that offers, as Janus does to subscribers):
    /// receives whatever the offer sends. Returns the peer and its answer.
    pub async fn answering(offer: &str) -> (Self, String) {
        let (socket, local) = Self::socket().await;
        let mut pc = Self::peer_connection(VideoCodec::H264);
        pc.set_remote_description(
            Instant::now(),
            RTCSessionDescription::offer(offer.to_owned()).unwrap(),
        )
        .unwrap();
        let answer = pc.create_answer(None).unwrap();
        pc.set_local_description(Instant::now(), answer).unwrap();
        let mut peer = Self::from_parts(pc, socket, local, Vec::new());
        peer.add_host_candidate();
        peer.remote = candidate_addr(offer);
        let sdp = peer.pc.local_description().unwrap().sdp.clone();
        (peer, sdp)
    }

    /// A peer that only sends a microphone (a supporter publishing to Janus).
    pub async fn microphone() -> Self {
        let (socket, local) = Self::socket().await;
        let mut pc = Self::peer_connection(VideoCodec::H264);
        let ssrc = rand::random::<u32>();
        let track = MediaStreamTrack::new(
            "test-stream".into(),
            "mic".into(),
            "mic".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: codec(RtpCodecKind::Audio, VideoCodec::H264),
                ..Default::default()
            }],
        );
        let encodings = track.codings().to_vec();
        let id = pc
            .add_transceiver_from_track(
                track,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec![],
                    send_encodings: encodings,
                }),
            )
            .unwrap();
        Self::from_parts(
            pc,
            socket,
            local,
            vec![(RTCRtpSenderId::from(id), ssrc, RtpCodecKind::Audio)],
        )
    }

    fn add_host_candidate(&mut self) {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.local.ip().to_string(),
                port: self.local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .unwrap();
        self.pc
            .add_local_candidate(RTCIceCandidate::from(&candidate).to_json().unwrap())
            .unwrap();
    }

    pub fn offer(&mut self) -> String {
        let offer = self.pc.create_offer(None).unwrap();
        self.pc
            .set_local_description(Instant::now(), offer)
            .unwrap();
        self.add_host_candidate();
        self.pc.local_description().unwrap().sdp.clone()
    }

    /// Applies the SFU's answer; `via` replaces the SFU's candidate address (a relay).
    pub fn answer(&mut self, sdp: &str, via: Option<SocketAddr>) {
        let sdp = match via {
            Some(relay) => rewrite_candidate(sdp, relay),
            None => sdp.to_owned(),
        };
        self.remote = Some(candidate_addr(&sdp).expect("answer has a candidate"));
        self.pc
            .set_remote_description(Instant::now(), RTCSessionDescription::answer(sdp).unwrap())
            .unwrap();
    }

    /// Runs I/O until `deadline`, processing everything that arrives.
    pub async fn pump_until(&mut self, deadline: Instant) {
        let mut buf = vec![0u8; 2048];
        let fd = self.socket.as_raw_fd();
        loop {
            self.flush();
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let timer = self.pc.poll_timeout().unwrap_or(deadline).min(deadline);
            tokio::select! {
                r = self.socket.async_io(Interest::READABLE, || recv_with_arrival(fd, &mut buf)) => {
                    if let Ok(datagram) = r {
                        self.handle_datagram(&buf, datagram);
                        // Whatever else is already queued, without a trip through the
                        // scheduler and a new timer per datagram.
                        for _ in 1..crate::worker::RECEIVE_BATCH {
                            let Ok(datagram) = self
                                .socket
                                .try_io(Interest::READABLE, || recv_with_arrival(fd, &mut buf))
                            else {
                                break;
                            };
                            self.handle_datagram(&buf, datagram);
                        }
                    }
                }
                _ = tokio::time::sleep_until(timer.into()) => {
                    let _ = self.pc.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Hands one received datagram to the peer connection and collects what it yields, stamped
    /// with the datagram's arrival.
    fn handle_datagram(&mut self, buf: &[u8], (len, from, arrival): (usize, SocketAddr, Instant)) {
        let result = self.pc.handle_read(TaggedBytesMut {
            now: Instant::now(),
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(&buf[..len]),
        });
        // Garbage and replays are the SFU's problem to avoid; count nothing here.
        let _ = result;
        self.arrival = Some(arrival);
        self.flush();
        self.arrival = None;
    }

    pub async fn pump(&mut self, duration: Duration) {
        self.pump_until(Instant::now() + duration).await
    }

    fn flush(&mut self) {
        while let Some(out) = self.pc.poll_write() {
            let _ = self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr);
        }
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    self.connected = state == RTCPeerConnectionState::Connected;
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    if let Some(receiver) = self.pc.rtp_receiver(init.receiver_id) {
                        let kind = receiver.track().kind();
                        self.track_kinds.insert(init.track_id.clone(), kind);
                        if kind == RtpCodecKind::Video {
                            self.video_receivers.push(init.receiver_id);
                        }
                    }
                }
                _ => {}
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            match message {
                RTCMessage::RtpPacket(track, packet) => {
                    let kind = self
                        .track_kinds
                        .get(&track)
                        .copied()
                        .unwrap_or(RtpCodecKind::Unspecified);
                    let at = self.arrival.unwrap_or_else(Instant::now);
                    self.received.rtp.push((at, kind, packet));
                }
                RTCMessage::RtcpPacket(_, packets) => {
                    self.received.plis += packets
                        .iter()
                        .filter(|p| p.as_any().is::<PictureLossIndication>())
                        .count();
                }
                _ => {}
            }
        }
    }

    /// Sends a picture loss indication for the video this peer receives with `media_ssrc`, as
    /// a browser does when its decoder lost the picture.
    pub fn send_pli(&mut self, media_ssrc: u32) {
        let Some(&receiver) = self.video_receivers.first() else {
            return;
        };
        if let Some(mut receiver) = self.pc.rtp_receiver(receiver) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            let _ = receiver.write_rtcp(Instant::now(), vec![Box::new(pli)]);
        }
        self.flush();
    }

    pub async fn connect(&mut self) {
        let deadline = Instant::now() + WAIT;
        while !self.connected {
            assert!(Instant::now() < deadline, "peer did not connect in time");
            self.pump(Duration::from_millis(20)).await;
        }
    }

    fn payload_type(&mut self, sender: RTCRtpSenderId, mime: &str) -> u8 {
        let mut s = self.pc.rtp_sender(sender).unwrap();
        s.get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| {
                c.rtp_codec.mime_type.eq_ignore_ascii_case(mime)
                    && (mime != MIME_TYPE_H264
                        || c.rtp_codec.sdp_fmtp_line.contains("packetization-mode=1"))
            })
            .map(|c| c.payload_type)
            .expect("codec negotiated")
    }

    /// Sends one H.264 access unit (Annex-B) as RTP on the video sender.
    pub fn send_video_frame(&mut self, access_unit: &Bytes, timestamp: u32) {
        let mut payloader = rtc::rtp::codec::h264::H264Payloader::default();
        let payloads = payloader.payload(1100, access_unit).unwrap();
        self.send_video_payloads(payloads, MIME_TYPE_H264, timestamp);
    }

    /// Sends one VP8 frame as RTP on the video sender (the VP8 payload type of this connection).
    pub fn send_vp8_frame(&mut self, frame: &Bytes, timestamp: u32) {
        let mut payloader = rtc::rtp::codec::vp8::Vp8Payloader::default();
        let payloads = payloader.payload(1100, frame).unwrap();
        let mime = rtc::peer_connection::configuration::media_engine::MIME_TYPE_VP8;
        self.send_video_payloads(payloads, mime, timestamp);
    }

    /// Sends one H.264 access unit already cut into RTP payloads (single NAL units or FU-A).
    pub fn send_h264_payloads(&mut self, payloads: Vec<Bytes>, timestamp: u32) {
        self.send_video_payloads(payloads, MIME_TYPE_H264, timestamp);
    }

    /// Sends the RTP payloads of one frame (marker on the last) with the codec's payload type.
    /// Each packet leaves as soon as it is written, so the first is not held back while the
    /// rest of the frame is encrypted.
    fn send_video_payloads(&mut self, payloads: Vec<Bytes>, mime: &str, timestamp: u32) {
        let (sender, ssrc, _) = *self
            .senders
            .iter()
            .find(|(_, _, k)| *k == RtpCodecKind::Video)
            .expect("has a video sender");
        let pt = self.payload_type(sender, mime);
        let count = payloads.len();
        for (i, payload) in payloads.into_iter().enumerate() {
            self.seq = self.seq.wrapping_add(1);
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: i + 1 == count,
                    payload_type: pt,
                    sequence_number: self.seq,
                    timestamp,
                    ssrc,
                    ..Default::default()
                },
                payload,
            };
            self.pc
                .rtp_sender(sender)
                .unwrap()
                .write_rtp(Instant::now(), packet)
                .unwrap();
            self.flush();
        }
    }

    /// Sends one 20 ms Opus packet (a silence frame) on the first audio sender.
    pub fn send_audio_packet(&mut self, timestamp: u32) {
        // Opus TOC for a 20 ms SILK frame followed by a comfort-noise-sized body.
        self.send_audio_payload(timestamp, Bytes::from_static(&[0xF8, 0xFF, 0xFE]));
    }

    /// Sends one Opus packet on the first audio sender.
    pub fn send_audio_payload(&mut self, timestamp: u32, payload: Bytes) {
        let (sender, ssrc, _) = *self
            .senders
            .iter()
            .find(|(_, _, k)| *k == RtpCodecKind::Audio)
            .expect("has an audio sender");
        let pt = self.payload_type(sender, MIME_TYPE_OPUS);
        self.audio_seq = self.audio_seq.wrapping_add(1);
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: self.audio_seq,
                timestamp,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        self.pc
            .rtp_sender(sender)
            .unwrap()
            .write_rtp(Instant::now(), packet)
            .unwrap();
        self.flush();
    }

    pub fn video_packets(&self) -> Vec<&rtc::rtp::Packet> {
        self.received
            .rtp
            .iter()
            .filter(|(_, k, _)| *k == RtpCodecKind::Video)
            .map(|(_, _, p)| p)
            .collect()
    }

    pub fn audio_packet_count(&self) -> usize {
        self.received
            .rtp
            .iter()
            .filter(|(_, k, _)| *k == RtpCodecKind::Audio)
            .count()
    }
}

/// Receives one datagram with the kernel's arrival time (`SO_TIMESTAMPNS`, wall clock),
/// turned into an `Instant` on this process's monotonic clock.
fn recv_with_arrival(fd: RawFd, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr, Instant)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let message = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut space), MsgFlags::empty())?;
    // Peers bind IPv4 or IPv6 (`bind_peers_to`).
    let from = message
        .address
        .and_then(|address| {
            let v4 = address.as_sockaddr_in().map(|a| SocketAddr::from(*a));
            v4.or_else(|| address.as_sockaddr_in6().map(|a| SocketAddr::from(*a)))
        })
        .ok_or_else(|| std::io::Error::other("a datagram without an IP sender"))?;
    let mut arrival = Instant::now();
    if let Ok(messages) = message.cmsgs() {
        for control in messages {
            if let ControlMessageOwned::ScmTimestampns(at) = control {
                let at = std::time::UNIX_EPOCH + Duration::from(at);
                let age = std::time::SystemTime::now()
                    .duration_since(at)
                    .unwrap_or_default();
                arrival = arrival.checked_sub(age).unwrap_or(arrival);
            }
        }
    }
    Ok((message.bytes, from, arrival))
}

/// Creates a peer in the SFU from the client's offer and applies the answer.
pub async fn join(
    sfu: &SfuHandle,
    id: PeerId,
    role: PeerRole,
    via: Option<SocketAddr>,
) -> TestPeer {
    let mut peer = TestPeer::new(role).await;
    let offer = peer.offer();
    let answer = sfu.create_peer(id, role, offer).await.expect("SFU answers");
    peer.answer(&answer, via);
    peer
}

fn candidate_addr(sdp: &str) -> Option<SocketAddr> {
    sdp.lines().find_map(|line| {
        let rest = line.strip_prefix("a=candidate:")?;
        let parts: Vec<&str> = rest.split_whitespace().collect();
        format!("{}:{}", parts.get(4)?, parts.get(5)?).parse().ok()
    })
}

fn rewrite_candidate(sdp: &str, to: SocketAddr) -> String {
    sdp.lines()
        .map(|line| match line.strip_prefix("a=candidate:") {
            Some(rest) => {
                let mut parts: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
                parts[4] = to.ip().to_string();
                parts[5] = to.port().to_string();
                format!("a=candidate:{}", parts.join(" "))
            }
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n"
}

/// A real H.264 stream: constrained baseline, 15 fps, a keyframe every `gop` frames,
/// made by ffmpeg and split into access units (Annex-B).
pub fn h264_access_units(seconds: u32, gop: u32) -> Vec<Bytes> {
    h264_clip("320x240", seconds, gop)
}

/// A clip of about `kbps` of real picture data (moving noise over the test pattern, so the
/// encoder needs the bits), for tests that need a known amount of data.
pub fn h264_clip_cbr(size: &str, seconds: u32, gop: u32, kbps: u32) -> Vec<Bytes> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.h264");
    let rate = format!("{kbps}k");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc=size={size}:rate=15:duration={seconds},noise=alls=60:allf=t+u"
        ))
        .args([
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "0",
        ])
        .args(["-b:v", &rate, "-maxrate", &rate, "-bufsize", &rate])
        .args(["-g", &gop.to_string()])
        .args(["-x264-params", "repeat-headers=1:aud=1"])
        .args(["-f", "h264"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (tests/run installs it)");
    assert!(status.success());
    split_access_units(&std::fs::read(&path).unwrap())
}

/// Like [`h264_access_units`] at another size (e.g. `640x480` for more packets per frame).
pub fn h264_clip(size: &str, seconds: u32, gop: u32) -> Vec<Bytes> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.h264");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=15:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "0",
        ])
        // About 1 Mbit/s, like a phone camera, so frames span several packets.
        .args([
            "-b:v", "1M", "-minrate", "1M", "-maxrate", "1M", "-bufsize", "500k",
        ])
        .args([
            "-g",
            &gop.to_string(),
            "-x264-params",
            "repeat-headers=1:aud=1",
        ])
        .args(["-f", "h264"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (tests/run installs it)");
    assert!(status.success());
    let data = std::fs::read(&path).unwrap();
    split_access_units(&data)
}

/// Offsets of NAL units (just after each 3- or 4-byte start code) in an Annex-B stream.
fn nal_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
}

/// Splits an Annex-B stream at access unit delimiters (NAL type 9).
pub fn split_access_units(data: &[u8]) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = nal_starts(data)
        .into_iter()
        .filter(|&n| n < data.len() && data[n] & 0x1F == 9)
        // Cut before the start code (3 bytes, or 4 with the leading zero).
        .map(|n| {
            if n >= 4 && data[n - 4] == 0 {
                n - 4
            } else {
                n - 3
            }
        })
        .collect();
    cuts.push(data.len());
    cuts.windows(2)
        .map(|w| Bytes::copy_from_slice(&data[w[0]..w[1]]))
        .collect()
}

pub fn is_keyframe(access_unit: &[u8]) -> bool {
    nal_starts(access_unit)
        .into_iter()
        .any(|n| n < access_unit.len() && access_unit[n] & 0x1F == 5)
}

/// Depacketizes received H.264 RTP (in sequence order) and counts the frames ffmpeg decodes.
pub fn decodable_frames(packets: &[&rtc::rtp::Packet]) -> u64 {
    use rtc::rtp::packetizer::Depacketizer;
    let mut sorted: Vec<&rtc::rtp::Packet> = packets.to_vec();
    let base = sorted
        .first()
        .map(|p| p.header.sequence_number)
        .unwrap_or(0);
    // Signed distance from the first arrival: a retransmission of an earlier packet sorts before
    // it, and a wrap past 65535 keeps the order. Retransmitted duplicates are fed only once.
    sorted.sort_by_key(|p| p.header.sequence_number.wrapping_sub(base) as i16);
    sorted.dedup_by_key(|p| p.header.sequence_number);
    let mut depacketizer = rtc::rtp::codec::h264::H264Packet::default();
    let mut stream = Vec::new();
    for p in sorted {
        if let Ok(bytes) = depacketizer.depacketize(&p.payload) {
            stream.extend_from_slice(&bytes);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("received.h264");
    std::fs::write(&path, &stream).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // "320,240,NNN"
    text.trim()
        .rsplit(',')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A real VP8 stream (libvpx, 320x240, 15 fps), as frames from an IVF file.
pub fn vp8_frames(seconds: u32) -> Vec<Bytes> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.ivf");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=320x240:rate=15:duration={seconds}"))
        .args(["-c:v", "libvpx", "-b:v", "500k", "-g", "15", "-f", "ivf"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed");
    assert!(status.success());
    let data = std::fs::read(&path).unwrap();
    let mut frames = Vec::new();
    let mut at = 32; // IVF file header
    while at + 12 <= data.len() {
        let size =
            u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let start = at + 12;
        if start + size > data.len() {
            break;
        }
        frames.push(Bytes::copy_from_slice(&data[start..start + size]));
        at = start + size;
    }
    frames
}

/// Reassembles received VP8 RTP into an IVF file and counts the frames ffmpeg decodes.
pub fn decodable_vp8_frames(packets: &[&rtc::rtp::Packet]) -> u64 {
    use rtc::rtp::packetizer::Depacketizer;
    let mut sorted: Vec<&rtc::rtp::Packet> = packets.to_vec();
    let base = sorted
        .first()
        .map(|p| p.header.sequence_number)
        .unwrap_or(0);
    // Signed distance from the first arrival: a retransmission of an earlier packet sorts before
    // it, and a wrap past 65535 keeps the order. Retransmitted duplicates are fed only once.
    sorted.sort_by_key(|p| p.header.sequence_number.wrapping_sub(base) as i16);
    sorted.dedup_by_key(|p| p.header.sequence_number);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut depacketizer = rtc::rtp::codec::vp8::Vp8Packet::default();
    for p in sorted {
        if let Ok(bytes) = depacketizer.depacketize(&p.payload) {
            current.extend_from_slice(&bytes);
        }
        if p.header.marker {
            frames.push(std::mem::take(&mut current));
        }
    }
    let mut ivf = Vec::new();
    ivf.extend_from_slice(b"DKIF");
    ivf.extend_from_slice(&0u16.to_le_bytes());
    ivf.extend_from_slice(&32u16.to_le_bytes());
    ivf.extend_from_slice(b"VP80");
    ivf.extend_from_slice(&320u16.to_le_bytes());
    ivf.extend_from_slice(&240u16.to_le_bytes());
    ivf.extend_from_slice(&15u32.to_le_bytes());
    ivf.extend_from_slice(&1u32.to_le_bytes());
    ivf.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    ivf.extend_from_slice(&0u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        ivf.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        ivf.extend_from_slice(&(i as u64).to_le_bytes());
        ivf.extend_from_slice(frame);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("received.ivf");
    std::fs::write(&path, &ivf).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // "vp8,NNN"
    if !text.starts_with("vp8") {
        return 0;
    }
    text.trim()
        .rsplit(',')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// RTP packets of H.264 access units at 15 fps (payload type 102), as a camera would send them.
pub fn h264_rtp(
    units: &[Bytes],
    ssrc: u32,
    first_seq: u16,
    first_ts: u32,
) -> Vec<rtc::rtp::Packet> {
    packetize(
        rtc::rtp::codec::h264::H264Payloader::default(),
        102,
        units,
        ssrc,
        first_seq,
        first_ts,
    )
}

/// Real VP8 frames as RTP (RFC 7741 payload descriptors), 15 fps, from `first_seq`/`first_ts`.
pub fn vp8_rtp(
    frames: &[Bytes],
    ssrc: u32,
    first_seq: u16,
    first_ts: u32,
) -> Vec<rtc::rtp::Packet> {
    packetize(
        rtc::rtp::codec::vp8::Vp8Payloader::default(),
        96,
        frames,
        ssrc,
        first_seq,
        first_ts,
    )
}

/// Frames as RTP packets of at most 1100 bytes, one frame every 1/15 s (marker on the last).
fn packetize(
    mut payloader: impl rtc::rtp::packetizer::Payloader,
    payload_type: u8,
    frames: &[Bytes],
    ssrc: u32,
    first_seq: u16,
    first_ts: u32,
) -> Vec<rtc::rtp::Packet> {
    let (mut seq, mut ts) = (first_seq, first_ts);
    let mut out = Vec::new();
    for frame in frames {
        let payloads = payloader.payload(1100, frame).unwrap();
        let n = payloads.len();
        for (i, payload) in payloads.into_iter().enumerate() {
            out.push(rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: i + 1 == n,
                    payload_type,
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc,
                    ..Default::default()
                },
                payload,
            });
            seq = seq.wrapping_add(1);
        }
        ts = ts.wrapping_add(6000);
    }
    out
}
