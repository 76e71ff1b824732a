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
    /// The real-time priority the media worker got (0: normal scheduling).
    pub worker_realtime_priority: AtomicU64,
    /// How long datagrams waited between the kernel receiving them and the worker taking them
    /// up: near zero on a worker that keeps up, growing with its backlog.
    pub receive_wait: Histogram,
    /// How long datagrams stayed in the server: from the kernel receiving one to the worker
    /// having handed the kernel everything it caused (the forwarded packets, feedback). The
    /// server's own share of the delay a subscriber sees, without the network's.
    pub datagram_handling: Histogram,
}

/// Upper bounds of the histograms' buckets, in microseconds: fine below a millisecond, where a
/// forwarding server's delays are, so that a p50 near 100 µs and a p99 near 1 ms can be read.
const DELAY_BUCKETS_US: [u64; 14] = [
    25, 50, 75, 100, 150, 250, 500, 750, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000,
];

/// A Prometheus histogram of durations, bumped without locks.
#[derive(Default, Debug)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last is above every bound.
    buckets: [AtomicU64; DELAY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub(crate) fn observe(&self, waited: std::time::Duration) {
        let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        let bucket = DELAY_BUCKETS_US.partition_point(|&bound| bound < us);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The Prometheus text of this histogram (cumulative buckets, bounds in seconds).
    pub fn render(&self, name: &str, help: &str) -> String {
        use std::fmt::Write;
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match DELAY_BUCKETS_US.get(i) {
                Some(bound) => {
                    let seconds = *bound as f64 / 1e6;
                    let _ = writeln!(out, "{name}_bucket{{le=\"{seconds}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
        out
    }
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

    /// The histograms in Prometheus text.
    pub fn histograms(&self) -> String {
        let mut text = self.receive_wait.render(
            "ra_media_receive_wait_seconds",
            "Time from the kernel receiving a media datagram to the SFU worker handling it.",
        );
        text.push_str(&self.datagram_handling.render(
            "ra_media_datagram_handling_seconds",
            "Time from the kernel receiving a media datagram to the SFU worker having sent \
             everything it caused.",
        ));
        text
    }

    /// Name, help, kind ("counter"/"gauge") and value of every counter and gauge.
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
                "ra_media_worker_realtime_priority",
                "Real-time priority the media worker thread runs at (0: normal scheduling).",
                "gauge",
                g(&self.worker_realtime_priority),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_land_in_cumulative_buckets() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(20));
        histogram.observe(Duration::from_micros(50));
        histogram.observe(Duration::from_micros(700));
        histogram.observe(Duration::from_secs(2));
        let text = histogram.render("w", "help");
        assert!(text.contains("# TYPE w histogram"), "{text}");
        assert!(text.contains("w_bucket{le=\"0.000025\"} 1\n"), "{text}");
        assert!(text.contains("w_bucket{le=\"0.00005\"} 2\n"), "{text}");
        assert!(text.contains("w_bucket{le=\"0.00075\"} 3\n"), "{text}");
        assert!(text.contains("w_bucket{le=\"0.0005\"} 2\n"), "{text}");
        assert!(text.contains("w_bucket{le=\"0.001\"} 3\n"), "{text}");
        assert!(text.contains("w_bucket{le=\"0.1\"} 3\n"), "{text}");
        assert!(text.contains("w_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("w_sum 2.00077\nw_count 4\n"), "{text}");
        assert_eq!(histogram.count(), 4);
    }
}
