//! Sequence-number and timestamp rewriting for one outgoing stream (a subscriber's slot).
//!
//! A slot keeps one SSRC for its whole life while its source changes: another camera, or the same
//! camera after a reconnect (new SSRC, new random sequence and timestamp bases). The receiver must
//! see one continuous stream, so at every source switch the offsets are recomputed such that the
//! next packet continues right after the last one sent, with the timestamp advanced by the wall
//! time that passed. Within one source, gaps and reordering are kept as they are (the receiver's
//! NACK and jitter buffer need them).

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct StreamRewriter {
    clock_rate: u32,
    source_ssrc: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last_out_seq: u16,
    last_out_ts: u32,
    last_sent_at: Option<Instant>,
    /// Highest input sequence number seen from the current source (extended, for loss counts).
    highest_in: Option<u16>,
    /// The first sequence number of the current source: older ones would map onto sequence
    /// numbers already used by the previous source, so they are dropped.
    first_in: u16,
}

/// What happened to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub seq: u16,
    pub ts: u32,
    /// The packet starts a new source (the receiver needs a keyframe).
    pub switched: bool,
    /// Input packets missing between the previous highest and this one (0 for reordering).
    pub gap: u16,
}

impl StreamRewriter {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            source_ssrc: None,
            seq_offset: 0,
            ts_offset: 0,
            last_out_seq: rand_u16(),
            last_out_ts: 0,
            last_sent_at: None,
            highest_in: None,
            first_in: 0,
        }
    }

    /// Forgets the source; the next packet starts a new one.
    pub fn reset_source(&mut self) {
        self.source_ssrc = None;
    }

    /// Rewrites one packet; `None` when it must be dropped (a late packet from before the
    /// current source's first one).
    pub fn rewrite(&mut self, ssrc: u32, seq: u16, ts: u32, now: Instant) -> Option<Rewritten> {
        if self.source_ssrc == Some(ssrc) && seq.wrapping_sub(self.first_in) >= 0x8000 {
            return None;
        }
        let mut switched = false;
        if self.source_ssrc != Some(ssrc) {
            switched = true;
            let out_seq = self.last_out_seq.wrapping_add(1);
            let elapsed_ticks = self
                .last_sent_at
                .map(|at| {
                    let secs = now.saturating_duration_since(at).as_secs_f64();
                    (secs * f64::from(self.clock_rate)).max(1.0) as u32
                })
                .unwrap_or(0);
            let out_ts = self.last_out_ts.wrapping_add(elapsed_ticks);
            self.seq_offset = out_seq.wrapping_sub(seq);
            self.ts_offset = out_ts.wrapping_sub(ts);
            self.source_ssrc = Some(ssrc);
            self.highest_in = None;
            self.first_in = seq;
        }
        let gap = match self.highest_in {
            None => 0,
            Some(highest) => {
                let diff = seq.wrapping_sub(highest);
                // Forward by less than half the space: new packets (maybe after a gap).
                if diff != 0 && diff < 0x8000 {
                    diff - 1
                } else {
                    0
                }
            }
        };
        if self
            .highest_in
            .is_none_or(|h| seq.wrapping_sub(h) < 0x8000 && seq != h)
        {
            self.highest_in = Some(seq);
        }
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        // Track the newest output position (ignoring late, reordered packets).
        if switched || out_seq.wrapping_sub(self.last_out_seq) < 0x8000 {
            self.last_out_seq = out_seq;
            self.last_out_ts = out_ts;
            self.last_sent_at = Some(now);
        }
        Some(Rewritten {
            seq: out_seq,
            ts: out_ts,
            switched,
            gap,
        })
    }
}

fn rand_u16() -> u16 {
    // Random start per RFC 3550 §5.1; not security relevant, so the address of a stack value
    // mixed with the time is enough and avoids a dependency.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (t ^ (t >> 16)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn continuous_within_a_source_and_across_switches() {
        let start = Instant::now();
        let mut rw = StreamRewriter::new(90_000);
        let a = rw.rewrite(1, 100, 5000, start).unwrap();
        assert!(a.switched);
        let b = rw
            .rewrite(1, 101, 8000, start + Duration::from_millis(33))
            .unwrap();
        assert_eq!(b.seq, a.seq.wrapping_add(1));
        assert_eq!(b.ts, a.ts.wrapping_add(3000));
        assert!(!b.switched);
        // A new source with unrelated bases continues right after, 1 s later in RTP time.
        let c = rw
            .rewrite(2, 60_000, 123_456, start + Duration::from_millis(1033))
            .unwrap();
        assert!(c.switched);
        assert_eq!(c.seq, b.seq.wrapping_add(1));
        assert_eq!(c.ts, b.ts.wrapping_add(90_000));
        let d = rw
            .rewrite(2, 60_001, 126_456, start + Duration::from_millis(1066))
            .unwrap();
        // A late packet of the new source from before its first one would reuse an old number.
        assert!(
            rw.rewrite(2, 59_999, 120_000, start + Duration::from_millis(1070))
                .is_none()
        );
        assert_eq!(d.seq, c.seq.wrapping_add(1));
        assert_eq!(d.ts, c.ts.wrapping_add(3000));
    }

    #[test]
    fn gaps_and_reordering_are_kept_and_counted() {
        let now = Instant::now();
        let mut rw = StreamRewriter::new(48_000);
        let a = rw.rewrite(7, 65_534, 0, now).unwrap();
        let b = rw.rewrite(7, 1, 960, now).unwrap(); // wraps, skipping 65535 and 0
        assert_eq!(b.seq, a.seq.wrapping_add(3));
        assert_eq!(b.gap, 2);
        let late = rw.rewrite(7, 0, 960, now).unwrap(); // the missing one arrives late
        assert_eq!(late.seq, a.seq.wrapping_add(2));
        assert_eq!(late.gap, 0);
        let c = rw.rewrite(7, 2, 1920, now).unwrap();
        assert_eq!(c.seq, a.seq.wrapping_add(4));
        assert_eq!(c.gap, 0);
    }
}
