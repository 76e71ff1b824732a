//! Media counters read by the server's `/metrics`. Plain atomics, bumped on the packet path
//! without locks or allocation.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct Counters {
    pub peers: AtomicU64,
    pub publishers: AtomicU64,
    pub subscribers: AtomicU64,
    pub routes: AtomicU64,
    /// Media tracks received from peers (camera video and audio, supporter microphones).
    pub tracks: AtomicU64,
    /// Recordings being muxed.
    pub recordings: AtomicU64,
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub rtp_forwarded: AtomicU64,
    pub rtp_lost: AtomicU64,
    pub nacks_received: AtomicU64,
    pub plis_sent: AtomicU64,
    pub plis_received: AtomicU64,
    pub dropped_datagrams: AtomicU64,
    /// Milliseconds since the Unix epoch of the worker loop's last turn (it turns at least every
    /// half second), for readiness checks.
    pub worker_heartbeat_ms: AtomicU64,
    /// Inputs that made the media engine panic (the peer involved was dropped).
    pub panics: AtomicU64,
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Name, help, kind ("counter"/"gauge") and value of every metric.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let g = Self::get;
        vec![
            (
                "ra_media_peers",
                "Media peer connections.",
                "gauge",
                g(&self.peers),
            ),
            (
                "ra_media_publishers",
                "Camera (publishing) peers.",
                "gauge",
                g(&self.publishers),
            ),
            (
                "ra_media_subscribers",
                "Supporter (subscribing) peers.",
                "gauge",
                g(&self.subscribers),
            ),
            (
                "ra_media_routes",
                "Camera-to-slot routes (tracks being forwarded).",
                "gauge",
                g(&self.routes),
            ),
            (
                "ra_media_tracks",
                "Media tracks received from peers.",
                "gauge",
                g(&self.tracks),
            ),
            (
                "ra_media_recordings",
                "Recordings being muxed.",
                "gauge",
                g(&self.recordings),
            ),
            (
                "ra_media_packets_in_total",
                "UDP datagrams received.",
                "counter",
                g(&self.packets_in),
            ),
            (
                "ra_media_bytes_in_total",
                "UDP bytes received.",
                "counter",
                g(&self.bytes_in),
            ),
            (
                "ra_media_packets_out_total",
                "UDP datagrams sent.",
                "counter",
                g(&self.packets_out),
            ),
            (
                "ra_media_bytes_out_total",
                "UDP bytes sent.",
                "counter",
                g(&self.bytes_out),
            ),
            (
                "ra_media_rtp_forwarded_total",
                "RTP packets forwarded to subscribers.",
                "counter",
                g(&self.rtp_forwarded),
            ),
            (
                "ra_media_rtp_lost_total",
                "RTP packets missing from publishers (sequence gaps).",
                "counter",
                g(&self.rtp_lost),
            ),
            (
                "ra_media_nacks_received_total",
                "NACK feedback packets received from subscribers.",
                "counter",
                g(&self.nacks_received),
            ),
            (
                "ra_media_plis_sent_total",
                "Keyframe requests sent to publishers.",
                "counter",
                g(&self.plis_sent),
            ),
            (
                "ra_media_plis_received_total",
                "Keyframe requests received from subscribers.",
                "counter",
                g(&self.plis_received),
            ),
            (
                "ra_media_dropped_datagrams_total",
                "Datagrams dropped (unknown sender, garbage, no peer).",
                "counter",
                g(&self.dropped_datagrams),
            ),
        ]
    }
}
