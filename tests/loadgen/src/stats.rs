//! What a run measures, collected by the subscribers and summed up at the end: packets per
//! received stream (loss = gaps in the sequence numbers the SFU sends), one-way delay per
//! frame, jitter, join times, and the SFU process's CPU time and memory from `/proc`.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

/// One received RTP stream (an SFU-assigned SSRC at one subscriber).
#[derive(Default, Debug, Clone)]
pub struct StreamStats {
    pub packets: u64,
    pub bytes: u64,
    highest: Option<u64>,
    lowest: Option<u64>,
    unwrap: remote_assist_sfu::record::h264::SeqUnwrapper,
    /// Sequence numbers seen (to count duplicates from retransmission once).
    seen: std::collections::HashSet<u64>,
    /// RFC 3550 interarrival jitter, in RTP timestamp units.
    jitter: f64,
    last_transit: Option<f64>,
    /// Where the sequence jumped forward: (last highest, new, arrival s) — for reports.
    pub jumps: Vec<(u64, u64, f64)>,
}

impl StreamStats {
    /// Records a packet with its RTP sequence number and timestamp, arriving at `arrival`
    /// (seconds), for a clock of `rate` Hz.
    pub fn packet(&mut self, seq: u16, rtp_ts: u32, bytes: usize, arrival: f64, rate: f64) {
        let ext = self.unwrap.unwrap(seq);
        if !self.seen.insert(ext) {
            return; // a retransmission of something already here
        }
        self.packets += 1;
        self.bytes += bytes as u64;
        if let Some(h) = self.highest
            && ext > h + 1
            && self.jumps.len() < 16
        {
            self.jumps.push((h, ext, arrival));
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.lowest = Some(self.lowest.map_or(ext, |l| l.min(ext)));
        let transit = arrival * rate - f64::from(rtp_ts);
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            // Frames span several packets with one timestamp; only real steps count.
            if d < rate {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);
    }

    /// Packets between the first and the last seen that never arrived.
    pub fn missing(&self) -> u64 {
        match (self.lowest, self.highest) {
            (Some(l), Some(h)) => (h - l + 1).saturating_sub(self.packets),
            _ => 0,
        }
    }

    pub fn jitter_ms(&self, rate: f64) -> f64 {
        self.jitter / rate * 1000.0
    }
}

/// Percentile of a list (sorted here), `p` in 0..=100.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values.get(rank).copied()
}

/// What one subscriber (a supporter, or a camera hearing the supporter) collected.
#[derive(Default, Debug)]
pub struct Collected {
    pub video: HashMap<u32, StreamStats>,
    pub audio: HashMap<u32, StreamStats>,
    /// Added one-way delay of stamped frames, in microseconds.
    pub delays_us: Vec<f64>,
    /// Join → first media packet / first keyframe, in milliseconds, one per camera.
    pub first_packet_ms: Vec<f64>,
    pub first_keyframe_ms: Vec<f64>,
}

impl Collected {
    pub fn merge(&mut self, other: Collected) {
        let base = self.video.len() as u32 + self.audio.len() as u32;
        for (i, (_, s)) in other.video.into_iter().enumerate() {
            self.video.insert(base + i as u32, s);
        }
        let base = self.video.len() as u32 + self.audio.len() as u32;
        for (i, (_, s)) in other.audio.into_iter().enumerate() {
            self.audio.insert(base + i as u32, s);
        }
        self.delays_us.extend(other.delays_us);
        self.first_packet_ms.extend(other.first_packet_ms);
        self.first_keyframe_ms.extend(other.first_keyframe_ms);
    }
}

/// CPU time and memory of a process, read from `/proc`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ProcSample {
    /// user + system CPU seconds so far.
    pub cpu_seconds: f64,
    /// Proportional set size, kB.
    pub pss_kb: u64,
}

pub fn sample_process(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields start after the closing parenthesis.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("odd /proc stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; after ")" they are at 11 and 12.
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    let clock_ticks = 100.0; // USER_HZ on Linux
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let pss_kb = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Ok(ProcSample {
        cpu_seconds: ticks / clock_ticks,
        pss_kb,
    })
}

/// The result of one run, as written to JSON and read by the report.
#[derive(Debug, Default, Serialize, serde::Deserialize, Clone)]
pub struct RunResult {
    pub target: String,
    pub rooms: usize,
    pub seconds: f64,
    pub recording: bool,
    pub video_streams: usize,
    pub video_packets_received: u64,
    pub video_packets_missing: u64,
    pub audio_packets_received: u64,
    pub audio_packets_missing: u64,
    pub loss_percent: f64,
    pub delay_p50_us: f64,
    pub delay_p99_us: f64,
    pub jitter_ms: f64,
    pub join_first_packet_p50_ms: f64,
    pub join_first_packet_p95_ms: f64,
    pub join_first_keyframe_p50_ms: f64,
    pub join_first_keyframe_p95_ms: f64,
    pub server_cpu_seconds: f64,
    /// Server CPU as a share of one core over the measured window.
    pub server_cpu_percent: f64,
    /// The load generator's own CPU in the same window (all its threads, % of one core): near
    /// the whole of its cores, its own pacing and not the server would shape the load.
    pub loadgen_cpu_percent: f64,
    pub server_pss_kb: u64,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Server CPU microseconds per packet forwarded to a subscriber.
    pub cpu_us_per_forwarded_packet: f64,
    pub measured_for: f64,
    /// The server's own share of the delay, from its `/metrics` over the same window (ours
    /// only): the wait from the kernel receiving a datagram to the worker taking it up, and the
    /// whole stay up to everything it caused being sent. Read from histogram buckets, so a
    /// quantile is placed by linear interpolation within its bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_wait_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_wait_p99_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_handling_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_handling_p99_us: Option<f64>,
    /// Audio streams with loss: SSRC, and where their sequence numbers jumped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audio_gaps: Vec<String>,
}

impl RunResult {
    pub fn from_collected(
        target: &str,
        rooms: usize,
        recording: bool,
        mut all: Collected,
        window: Duration,
        cpu: (ProcSample, ProcSample),
        sent: (u64, u64),
    ) -> Self {
        let missing_v: u64 = all.video.values().map(StreamStats::missing).sum();
        let received_v: u64 = all.video.values().map(|s| s.packets).sum();
        let missing_a: u64 = all.audio.values().map(StreamStats::missing).sum();
        let audio_gaps: Vec<String> = all
            .audio
            .iter()
            .filter(|(_, s)| s.missing() > 0)
            .map(|(ssrc, s)| format!("ssrc {ssrc}: {} packets, jumps {:?}", s.packets, s.jumps))
            .collect();
        let received_a: u64 = all.audio.values().map(|s| s.packets).sum();
        let bytes_received: u64 = all
            .video
            .values()
            .chain(all.audio.values())
            .map(|s| s.bytes)
            .sum();
        let total = (received_v + missing_v + received_a + missing_a).max(1);
        let mut jitters: Vec<f64> = all.video.values().map(|s| s.jitter_ms(90_000.0)).collect();
        let cpu_seconds = (cpu.1.cpu_seconds - cpu.0.cpu_seconds).max(0.0);
        let forwarded = (received_v + received_a).max(1);
        let p = |v: &mut Vec<f64>, q| percentile(v, q).unwrap_or(f64::NAN);
        Self {
            target: target.to_owned(),
            rooms,
            seconds: window.as_secs_f64(),
            recording,
            video_streams: all.video.len(),
            video_packets_received: received_v,
            video_packets_missing: missing_v,
            audio_packets_received: received_a,
            audio_packets_missing: missing_a,
            loss_percent: (missing_v + missing_a) as f64 * 100.0 / total as f64,
            delay_p50_us: p(&mut all.delays_us, 50.0),
            delay_p99_us: p(&mut all.delays_us, 99.0),
            jitter_ms: p(&mut jitters, 50.0),
            join_first_packet_p50_ms: p(&mut all.first_packet_ms, 50.0),
            join_first_packet_p95_ms: p(&mut all.first_packet_ms, 95.0),
            join_first_keyframe_p50_ms: p(&mut all.first_keyframe_ms, 50.0),
            join_first_keyframe_p95_ms: p(&mut all.first_keyframe_ms, 95.0),
            server_cpu_seconds: cpu_seconds,
            server_cpu_percent: cpu_seconds * 100.0 / window.as_secs_f64().max(0.001),
            server_pss_kb: cpu.1.pss_kb,
            // The caller samples its own process around the same window.
            loadgen_cpu_percent: f64::NAN,
            packets_sent: sent.0,
            bytes_sent: sent.1,
            bytes_received,
            cpu_us_per_forwarded_packet: cpu_seconds * 1e6 / forwarded as f64,
            measured_for: window.as_secs_f64(),
            // The caller reads the server's /metrics around the same window.
            server_wait_p50_us: None,
            server_wait_p99_us: None,
            server_handling_p50_us: None,
            server_handling_p99_us: None,
            audio_gaps,
        }
    }
}

/// The buckets of Prometheus histogram `name` in a `/metrics` text: (upper bound in µs,
/// cumulative count), in the text's order (ascending), `+Inf` as infinity.
pub fn histogram_buckets(metrics: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (bound, count) = rest.split_once("\"} ")?;
            let bound = match bound {
                "+Inf" => f64::INFINITY,
                seconds => seconds.parse::<f64>().ok()? * 1e6,
            };
            Some((bound, count.trim().parse().ok()?))
        })
        .collect()
}

/// Quantile `q` (0–1) of what a histogram observed between two readings of it, in µs,
/// interpolated linearly within the bucket it falls in (the first bucket starts at 0). `None`
/// when nothing was observed or the readings do not match; a quantile in the open top bucket
/// is given as that bucket's lower bound.
pub fn histogram_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    if before.len() != after.len() || after.is_empty() {
        return None;
    }
    let counts: Vec<(f64, u64)> = before
        .iter()
        .zip(after)
        .map(|(b, a)| (a.0, a.1.saturating_sub(b.1)))
        .collect();
    let total = counts.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for &(bound, cumulative) in &counts {
        if cumulative as f64 >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let inside = (cumulative - lower.1) as f64;
            let share = if inside > 0.0 {
                (rank - lower.1 as f64) / inside
            } else {
                0.0
            };
            return Some(lower.0 + (bound - lower.0) * share);
        }
        lower = (bound, cumulative);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_wraps_and_retransmissions_are_counted_right() {
        let mut s = StreamStats::default();
        for (i, seq) in [65530u16, 65531, 65533, 65534, 65535, 0, 1, 3, 2, 65532]
            .into_iter()
            .enumerate()
        {
            s.packet(seq, 0, 100, i as f64 * 0.01, 90_000.0);
        }
        s.packet(1, 0, 100, 0.2, 90_000.0); // a duplicate
        assert_eq!(s.packets, 10);
        assert_eq!(s.missing(), 0, "65532 and 2 came late, nothing is missing");
        let mut lossy = StreamStats::default();
        for seq in [10u16, 11, 14, 15] {
            lossy.packet(seq, 0, 100, 0.0, 90_000.0);
        }
        assert_eq!(lossy.missing(), 2);
        assert_eq!(percentile(&mut [3.0, 1.0, 2.0], 50.0), Some(2.0));
    }

    #[test]
    fn histogram_quantiles_come_from_the_window_between_two_readings() {
        let text = |counts: [u64; 4]| {
            format!(
                "# TYPE h histogram\nh_bucket{{le=\"0.0001\"}} {}\nh_bucket{{le=\"0.001\"}} {}\n\
                 h_bucket{{le=\"0.01\"}} {}\nh_bucket{{le=\"+Inf\"}} {}\nh_sum 1\nh_count {}\n\
                 other_bucket{{le=\"0.0001\"}} 99\n",
                counts[0], counts[1], counts[2], counts[3], counts[3]
            )
        };
        let before = histogram_buckets(&text([10, 10, 10, 10]), "h");
        assert_eq!(before.len(), 4, "{before:?}");
        assert_eq!(before[0], (100.0, 10));
        assert!(before[3].0.is_infinite());
        // In the window: 50 under 100 µs, 40 in 100 µs–1 ms, 10 in 1–10 ms.
        let after = histogram_buckets(&text([60, 100, 110, 110]), "h");
        let q = |q| histogram_quantile(&before, &after, q).unwrap();
        assert!((q(0.25) - 50.0).abs() < 1e-9, "{}", q(0.25));
        assert!((q(0.5) - 100.0).abs() < 1e-9, "{}", q(0.5));
        assert!((q(0.7) - 550.0).abs() < 1e-9, "{}", q(0.7));
        assert!((q(0.95) - 5_500.0).abs() < 1e-9, "{}", q(0.95));
        assert_eq!(
            histogram_quantile(&before, &before, 0.5),
            None,
            "nothing observed"
        );
        assert_eq!(
            histogram_quantile(&before, &after[..2], 0.5),
            None,
            "mismatch"
        );
        let top = histogram_buckets(&text([10, 10, 10, 20]), "h");
        assert_eq!(histogram_quantile(&before, &top, 0.5), Some(10_000.0));
    }
}
