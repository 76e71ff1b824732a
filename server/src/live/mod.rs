//! Live remote assist: the signaling WebSocket (`/ws`), presence, supporter sessions of up to
//! `max_cameras_per_session` cameras, calls for help, and the bridge to the media plane (`sfu`).
//!
//! One task, the [`hub::Hub`], owns all live state; connections and the SFU only send it
//! messages over bounded channels. Every decision about who may see whom is made there, on the
//! server, from the authenticated identity of each connection — never from what a browser claims.

pub mod hub;
pub mod protocol;
pub mod whip;
pub mod ws;

pub use hub::{HubInput, LiveHandle};
