//! The boundary between the server and the media plane: typed commands in, events out, over
//! bounded channels. The server decides who may see whom; the SFU only moves packets.

use std::fmt;
use std::net::SocketAddr;

/// A peer connection inside the SFU (one per browser media connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer-{}", self.0)
    }
}

/// What a peer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    /// A camera: publishes one video and one audio track, receives one audio track (the
    /// supporter's voice).
    Publisher,
    /// A supporter: receives `slots` video+audio pairs, publishes one audio track.
    Subscriber { slots: u32 },
}

/// Errors of SFU operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SfuError {
    #[error("the SDP offer is malformed: {0}")]
    BadOffer(String),
    #[error("the offer has no codec we support ({0})")]
    NoSupportedCodec(String),
    #[error("no such peer {0}")]
    NoSuchPeer(PeerId),
    #[error("slot {slot} does not exist on {peer}")]
    NoSuchSlot { peer: PeerId, slot: u32 },
    #[error("the media worker is not running")]
    Stopped,
    #[error("media engine error: {0}")]
    Internal(String),
}

/// Connection state changes reported to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    Connecting,
    Connected,
    /// ICE lost the peer; it may come back (network change).
    Disconnected,
    /// Gave up; the peer is removed.
    Failed,
}

/// What the media plane tells the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SfuEvent {
    PeerState {
        peer: PeerId,
        state: PeerState,
    },
    /// The first media packet of a publisher arrived (video or audio).
    MediaFlowing {
        peer: PeerId,
    },
}

/// Identifies one recording (one camera in one session) between the server and the SFU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingKey(pub u64);

/// Recording output, on its own channel so that media bytes are never dropped with state events.
#[derive(Debug)]
pub enum RecordingEvent {
    /// The next bytes of the fragmented MP4 (init segment first, then fragments).
    Data {
        recording: RecordingKey,
        bytes: Vec<u8>,
    },
    /// The recording ended; every byte has been sent before this.
    Finished {
        recording: RecordingKey,
        stats: crate::record::RecorderStats,
    },
}

/// Where the SFU listens and what it advertises.
#[derive(Clone, Debug)]
pub struct SfuConfig {
    /// UDP address to bind (e.g. `0.0.0.0:8443`; port 0 picks a free one).
    pub bind: SocketAddr,
    /// Address put into ICE candidates; the public IP behind NAT. `None` = the bound address.
    pub advertised_ip: Option<std::net::IpAddr>,
    /// A peer that has not connected (ICE and DTLS) in this time is given up and removed.
    pub connect_timeout: std::time::Duration,
    /// Real-time (`SCHED_RR`) priority asked for the media worker thread, 1–99, so that no
    /// other thread on its core (HTTP, database, recordings, backups, other processes) can
    /// hold up media; 0 leaves it at normal priority. Needs `CAP_SYS_NICE` or an
    /// `RLIMIT_RTPRIO` at least this high; without them the worker runs at normal priority.
    pub realtime_priority: u8,
}

/// The media worker's real-time priority unless configured otherwise: above every ordinary
/// thread, below the kernel's own real-time threads.
pub const DEFAULT_REALTIME_PRIORITY: u8 = 10;

/// How long a new peer may take to connect unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
