//! The media plane of remote-assist: peers, rooms, packet forwarding, RTCP handling and
//! recording taps, built on the sans-I/O `rtc` crate in a later milestone.
//!
//! This crate knows nothing of HTTP, SQL or users. For now it only holds the limits the server
//! enforces when a supporter builds a session, so that both sides agree on them.

/// Cameras one supporter can watch at once unless configured otherwise (R1).
pub const DEFAULT_MAX_CAMERAS_PER_SESSION: u32 = 4;
