//! The media plane of remote-assist: peers, slots, packet forwarding, RTCP handling.
//!
//! Built on the sans-I/O `rtc` crate: one worker thread owns one UDP socket shared by every
//! peer connection, serves what it receives per sender in turn, demultiplexes datagrams (STUN
//! username on first contact, then the remote address), drives every peer's state machine and
//! forwards RTP between them by plain function calls. The server talks to it only through
//! [`SfuHandle`] (commands) and [`SfuEvent`]s.
//!
//! This crate knows nothing of HTTP, SQL or users: the server decides who may see whom.

mod api;
mod counters;
mod feedback;
mod handle;
mod inbound;
pub mod record;
pub mod rewrite;
#[cfg(feature = "test-client")]
pub mod test_client;
mod worker;

pub use api::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REALTIME_PRIORITY, PeerId, PeerRole, PeerState,
    RecordingEvent, RecordingKey, SfuConfig, SfuError, SfuEvent,
};
pub use counters::{Counters, unix_millis};
pub use feedback::{DELIVER_FEEDBACK_SLOT, DeliverFeedback};
pub use handle::SfuHandle;

/// Cameras one supporter can watch at once unless configured otherwise (R1).
pub const DEFAULT_MAX_CAMERAS_PER_SESSION: u32 = 4;
