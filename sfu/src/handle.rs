//! [`SfuHandle`]: the server's way into the media worker. Every call is a command on a bounded
//! channel with a one-shot reply, so the worker thread stays the single owner of all peers.

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};

use crate::api::{PeerId, PeerRole, RecordingEvent, RecordingKey, SfuConfig, SfuError, SfuEvent};
use crate::counters::Counters;

/// Commands queued for the worker. When full, callers wait: signaling slows down rather than
/// the media path.
pub const COMMAND_QUEUE: usize = 256;
/// Events queued for the server. When full, the worker drops state events (the server re-syncs
/// from later ones) rather than stall packet forwarding.
pub const EVENT_QUEUE: usize = 1024;
/// Recording output waiting for the server's writer (about 2 s of media per fragment, so hours
/// of backlog). When full the worker stops that recording and reports it finished early rather
/// than leave a hole in the middle of a file.
pub const RECORDING_QUEUE: usize = 4096;

pub(crate) enum Command {
    CreatePeer {
        peer: PeerId,
        role: PeerRole,
        offer: String,
        reply: oneshot::Sender<Result<String, SfuError>>,
    },
    RemovePeer {
        peer: PeerId,
    },
    Attach {
        publisher: PeerId,
        subscriber: PeerId,
        slot: u32,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    Detach {
        publisher: PeerId,
        subscriber: PeerId,
        slot: u32,
    },
    SetReturnAudio {
        subscriber: PeerId,
        publisher: PeerId,
        enabled: bool,
    },
    RequestKeyframe {
        publisher: PeerId,
        /// Skip the rate limit (a new viewer or recording needs one now).
        force: bool,
    },
    /// Records the publisher (and the subscriber's voice sent to it) under `recording`. A later
    /// call with another publisher continues the same recording (the camera reconnected).
    StartRecording {
        publisher: PeerId,
        recording: RecordingKey,
    },
    StopRecording {
        recording: RecordingKey,
    },
    Stop,
}

/// Cloneable handle to the running media worker.
#[derive(Clone, Debug)]
pub struct SfuHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    counters: std::sync::Arc<Counters>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl SfuHandle {
    /// Binds the UDP socket and starts the worker thread (recording output is discarded: use
    /// [`SfuHandle::start_with_recordings`] to record).
    pub fn start(config: SfuConfig) -> std::io::Result<(SfuHandle, mpsc::Receiver<SfuEvent>)> {
        let (handle, events, mut recordings) = Self::start_with_recordings(config)?;
        tokio::spawn(async move { while recordings.recv().await.is_some() {} });
        Ok((handle, events))
    }

    /// Like [`SfuHandle::start`], also returning the stream of recording output.
    #[allow(clippy::type_complexity)]
    pub fn start_with_recordings(
        config: SfuConfig,
    ) -> std::io::Result<(
        SfuHandle,
        mpsc::Receiver<SfuEvent>,
        mpsc::Receiver<RecordingEvent>,
    )> {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events, event_rx) = mpsc::channel(EVENT_QUEUE);
        let (recording_tx, recording_rx) = mpsc::channel(RECORDING_QUEUE);
        let counters = std::sync::Arc::new(Counters::default());
        let local_addr =
            crate::worker::spawn(config, command_rx, events, recording_tx, counters.clone())?;
        Ok((
            SfuHandle {
                commands,
                local_addr,
                counters,
            },
            event_rx,
            recording_rx,
        ))
    }

    /// Starts (or moves to a new publisher peer) a recording.
    pub async fn start_recording(
        &self,
        publisher: PeerId,
        recording: RecordingKey,
    ) -> Result<(), SfuError> {
        self.commands
            .send(Command::StartRecording {
                publisher,
                recording,
            })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// Ends a recording; its last bytes and `Finished` follow on the recording stream.
    pub async fn stop_recording(&self, recording: RecordingKey) -> Result<(), SfuError> {
        self.commands
            .send(Command::StopRecording { recording })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// The UDP address media is received on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the worker loop turned within `max_age` (it turns at least every half second).
    pub fn is_alive(&self, max_age: std::time::Duration) -> bool {
        let last = Counters::get(&self.counters.worker_heartbeat_ms);
        crate::counters::unix_millis().saturating_sub(last) <= max_age.as_millis() as u64
    }

    /// Packet and byte counters for `/metrics`.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Creates a peer from a browser's offer and returns the SDP answer.
    pub async fn create_peer(
        &self,
        peer: PeerId,
        role: PeerRole,
        offer: String,
    ) -> Result<String, SfuError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::CreatePeer {
                peer,
                role,
                offer,
                reply,
            })
            .await
            .map_err(|_| SfuError::Stopped)?;
        rx.await.map_err(|_| SfuError::Stopped)?
    }

    pub async fn remove_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.commands
            .send(Command::RemovePeer { peer })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// Forwards the publisher's video and audio into the subscriber's `slot`.
    pub async fn attach(
        &self,
        publisher: PeerId,
        subscriber: PeerId,
        slot: u32,
    ) -> Result<(), SfuError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Attach {
                publisher,
                subscriber,
                slot,
                reply,
            })
            .await
            .map_err(|_| SfuError::Stopped)?;
        rx.await.map_err(|_| SfuError::Stopped)?
    }

    pub async fn detach(
        &self,
        publisher: PeerId,
        subscriber: PeerId,
        slot: u32,
    ) -> Result<(), SfuError> {
        self.commands
            .send(Command::Detach {
                publisher,
                subscriber,
                slot,
            })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// Sends (or stops sending) the subscriber's microphone to the publisher.
    pub async fn set_return_audio(
        &self,
        subscriber: PeerId,
        publisher: PeerId,
        enabled: bool,
    ) -> Result<(), SfuError> {
        self.commands
            .send(Command::SetReturnAudio {
                subscriber,
                publisher,
                enabled,
            })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// Asks the publisher for a keyframe now (a new viewer needs one).
    pub async fn request_keyframe(&self, publisher: PeerId) -> Result<(), SfuError> {
        self.commands
            .send(Command::RequestKeyframe {
                publisher,
                force: true,
            })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// Asks for a keyframe at most once per rate-limit interval (requests from clients).
    pub async fn request_keyframe_limited(&self, publisher: PeerId) -> Result<(), SfuError> {
        self.commands
            .send(Command::RequestKeyframe {
                publisher,
                force: false,
            })
            .await
            .map_err(|_| SfuError::Stopped)
    }

    /// Stops the worker (peers are closed).
    pub async fn stop(&self) {
        let _ = self.commands.send(Command::Stop).await;
    }
}
