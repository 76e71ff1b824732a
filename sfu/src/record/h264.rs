//! RTP H.264 (RFC 6184: single NAL units, STAP-A, FU-A) to access units, and the bits of the SPS
//! a container needs (width, height).
//!
//! Packets come through a small reorder buffer. A frame with a missing packet is dropped, and so
//! is everything after it until the next keyframe: a recording shows a short freeze rather than
//! smeared, undecodable pictures.

use std::collections::BTreeMap;

/// How many out-of-order packets are held before a missing one is given up for lost.
const REORDER_WINDOW: usize = 48;

pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Extends 16-bit sequence numbers to 64 bits across wrap-around.
#[derive(Debug, Default, Clone)]
pub struct SeqUnwrapper {
    last: Option<u64>,
}

impl SeqUnwrapper {
    pub fn unwrap(&mut self, seq: u16) -> u64 {
        let ext = match self.last {
            None => u64::from(seq) + (1 << 16), // headroom for late packets just below
            Some(last) => {
                let cycle = last & !0xFFFF;
                let candidates = [cycle.wrapping_sub(1 << 16), cycle, cycle + (1 << 16)];
                candidates
                    .into_iter()
                    .map(|c| c + u64::from(seq))
                    .min_by_key(|v| v.abs_diff(last))
                    .unwrap_or(cycle + u64::from(seq))
            }
        };
        if self.last.is_none_or(|l| ext > l) {
            self.last = Some(ext);
        }
        ext
    }
}

/// Extends 32-bit RTP timestamps to 64 bits across wrap-around.
#[derive(Debug, Default, Clone)]
pub struct TimestampUnwrapper {
    last: Option<u64>,
}

impl TimestampUnwrapper {
    pub fn unwrap(&mut self, ts: u32) -> u64 {
        let ext = match self.last {
            None => u64::from(ts) + (1 << 32),
            Some(last) => {
                let cycle = last & !0xFFFF_FFFF;
                [cycle.wrapping_sub(1 << 32), cycle, cycle + (1 << 32)]
                    .into_iter()
                    .map(|c| c + u64::from(ts))
                    .min_by_key(|v| v.abs_diff(last))
                    .unwrap_or(cycle + u64::from(ts))
            }
        };
        if self.last.is_none_or(|l| ext > l) {
            self.last = Some(ext);
        }
        ext
    }
}

/// One complete picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// Extended RTP timestamp (90 kHz).
    pub timestamp: u64,
    pub keyframe: bool,
    /// NAL units without start codes.
    pub nals: Vec<Vec<u8>>,
}

/// What the reorder buffer hands on: packets in sequence order, and gaps where packets were
/// given up for lost.
#[derive(Debug)]
pub enum Delivered {
    Packet {
        timestamp: u32,
        marker: bool,
        payload: Vec<u8>,
    },
    Gap,
}

/// Puts RTP packets back in sequence order (holding at most [`REORDER_WINDOW`] while one is
/// missing), drops duplicates and late packets, and reports gaps.
#[derive(Debug, Default)]
pub struct Reorder {
    seq: SeqUnwrapper,
    next: Option<u64>,
    pending: BTreeMap<u64, (u32, bool, Vec<u8>)>,
    pub packets_lost: u64,
}

impl Reorder {
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        mut deliver: impl FnMut(Delivered),
    ) {
        let ext = self.seq.unwrap(seq);
        if self.next.is_some_and(|n| ext < n) {
            return; // duplicate or too late
        }
        self.pending
            .insert(ext, (timestamp, marker, payload.to_vec()));
        if self.next.is_none() {
            self.next = Some(ext);
        }
        loop {
            let next = self.next.expect("set above");
            if let Some((timestamp, marker, payload)) = self.pending.remove(&next) {
                self.next = Some(next + 1);
                deliver(Delivered::Packet {
                    timestamp,
                    marker,
                    payload,
                });
            } else if self.pending.len() > REORDER_WINDOW {
                // Give up on the missing packet(s): jump to the oldest we have.
                let (&oldest, _) = self.pending.iter().next().expect("non-empty");
                self.packets_lost += oldest - next;
                self.next = Some(oldest);
                deliver(Delivered::Gap);
            } else {
                break;
            }
        }
    }

    /// Hands on everything still held, with gaps where packets are missing.
    pub fn flush(&mut self, mut deliver: impl FnMut(Delivered)) {
        let pending = std::mem::take(&mut self.pending);
        for (ext, (timestamp, marker, payload)) in pending {
            if self.next.is_some_and(|n| ext != n) {
                deliver(Delivered::Gap);
            }
            self.next = Some(ext + 1);
            deliver(Delivered::Packet {
                timestamp,
                marker,
                payload,
            });
        }
    }
}

#[derive(Debug, Default)]
pub struct H264Assembler {
    reorder: Reorder,
    ts: TimestampUnwrapper,
    current: Option<(u64, Vec<Vec<u8>>)>,
    fu: Option<Vec<u8>>,
    /// A packet of the current frame was lost.
    broken: bool,
    /// Drop frames until the next keyframe.
    need_keyframe: bool,
    pub frames_dropped: u64,
}

impl H264Assembler {
    pub fn new() -> Self {
        Self {
            need_keyframe: true,
            ..Default::default()
        }
    }

    /// Starts over (a new SSRC): nothing from the old source is combined with the new one.
    pub fn reset(&mut self) {
        let lost = self.reorder.packets_lost;
        *self = Self {
            frames_dropped: self.frames_dropped,
            ..Self::new()
        };
        self.reorder.packets_lost = lost;
    }

    /// Feeds one RTP packet; returns the access units it completes, in order.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Vec<AccessUnit> {
        let mut delivered = Vec::new();
        self.reorder
            .push(seq, timestamp, marker, payload, |d| delivered.push(d));
        let mut out = Vec::new();
        for item in delivered {
            self.deliver(item, &mut out);
        }
        out
    }

    /// Emits what is still buffered (end of recording).
    pub fn flush(&mut self) -> Vec<AccessUnit> {
        let mut delivered = Vec::new();
        self.reorder.flush(|d| delivered.push(d));
        let mut out = Vec::new();
        for item in delivered {
            self.deliver(item, &mut out);
        }
        self.finish_frame(&mut out);
        out
    }

    /// Packets lost for good (given up after the reorder window).
    pub fn packets_lost(&self) -> u64 {
        self.reorder.packets_lost
    }

    fn deliver(&mut self, item: Delivered, out: &mut Vec<AccessUnit>) {
        match item {
            Delivered::Gap => {
                self.broken = true;
                self.fu = None;
            }
            Delivered::Packet {
                timestamp,
                marker,
                payload,
            } => self.packet(timestamp, marker, &payload, out),
        }
    }

    fn packet(&mut self, ts: u32, marker: bool, payload: &[u8], out: &mut Vec<AccessUnit>) {
        let ts = self.ts.unwrap(ts);
        if self.current.as_ref().is_some_and(|(t, _)| *t != ts) {
            // A new timestamp without a marker on the last one: the old frame is done.
            self.finish_frame(out);
        }
        if self.current.is_none() {
            self.current = Some((ts, Vec::new()));
        }
        self.depacketize(payload);
        if marker {
            self.finish_frame(out);
        }
    }

    fn depacketize(&mut self, payload: &[u8]) {
        let Some(&header) = payload.first() else {
            return;
        };
        let Some((_, nals)) = self.current.as_mut() else {
            return;
        };
        match header & 0x1F {
            1..=23 => nals.push(payload.to_vec()),
            STAP_A => {
                let mut at = 1;
                while at + 2 <= payload.len() {
                    let len = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                    at += 2;
                    let Some(nal) = payload.get(at..at + len) else {
                        self.broken = true;
                        return;
                    };
                    if !nal.is_empty() {
                        nals.push(nal.to_vec());
                    }
                    at += len;
                }
            }
            FU_A => {
                let Some(&fu_header) = payload.get(1) else {
                    self.broken = true;
                    return;
                };
                let start = fu_header & 0x80 != 0;
                let end = fu_header & 0x40 != 0;
                if start {
                    let mut nal = vec![(header & 0xE0) | (fu_header & 0x1F)];
                    nal.extend_from_slice(&payload[2..]);
                    self.fu = Some(nal);
                } else if let Some(nal) = self.fu.as_mut() {
                    nal.extend_from_slice(&payload[2..]);
                } else {
                    self.broken = true; // middle of a fragment whose start we lost
                    return;
                }
                if end && let Some(nal) = self.fu.take() {
                    nals.push(nal);
                }
            }
            _ => {} // STAP-B, MTAP, FU-B: not used by browsers in packetization-mode 1
        }
    }

    fn finish_frame(&mut self, out: &mut Vec<AccessUnit>) {
        let Some((timestamp, nals)) = self.current.take() else {
            return;
        };
        if self.fu.take().is_some() {
            self.broken = true; // a fragmented NAL never ended
        }
        let keyframe = nals
            .iter()
            .any(|n| n.first().is_some_and(|h| h & 0x1F == NAL_IDR));
        let broken = std::mem::replace(&mut self.broken, false);
        if broken || nals.is_empty() {
            self.frames_dropped += 1;
            self.need_keyframe = true;
            return;
        }
        if self.need_keyframe && !keyframe {
            self.frames_dropped += 1;
            return;
        }
        self.need_keyframe = false;
        out.push(AccessUnit {
            timestamp,
            keyframe,
            nals,
        });
    }
}

/// Width and height from an SPS NAL unit (with its header byte).
pub fn sps_dimensions(sps: &[u8]) -> Option<(u16, u16)> {
    // Remove emulation-prevention bytes (00 00 03 -> 00 00).
    let mut rbsp = Vec::with_capacity(sps.len());
    let mut zeros = 0;
    for &b in sps.get(1..)? {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = BitReader {
        data: &rbsp,
        bit: 0,
    };
    let profile_idc = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bits(1)?;
        }
        r.ue()?;
        r.ue()?;
        r.bits(1)?;
        if r.bits(1)? == 1 {
            for i in 0..if chroma_format_idc == 3 { 12 } else { 8 } {
                if r.bits(1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bits(1)?;
            r.se()?;
            r.se()?;
            for _ in 0..r.ue()? {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bits(1)?;
    let width_mbs = r.ue()? + 1;
    let height_units = r.ue()? + 1;
    let frame_mbs_only = r.bits(1)?;
    if frame_mbs_only == 0 {
        r.bits(1)?;
    }
    r.bits(1)?;
    let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0, 0, 0, 0);
    if r.bits(1)? == 1 {
        crop_l = r.ue()?;
        crop_r = r.ue()?;
        crop_t = r.ue()?;
        crop_b = r.ue()?;
    }
    let (sub_w, sub_h) = match chroma_format_idc {
        0 | 3 => (1, 1),
        2 => (2, 1),
        _ => (2, 2),
    };
    let frame_height_factor = 2 - frame_mbs_only;
    let width = width_mbs * 16 - sub_w * (crop_l + crop_r);
    let height =
        height_units * 16 * frame_height_factor - sub_h * frame_height_factor * (crop_t + crop_b);
    Some((u16::try_from(width).ok()?, u16::try_from(height).ok()?))
}

struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            let byte = *self.data.get(self.bit / 8)?;
            let b = (byte >> (7 - (self.bit % 8))) & 1;
            v = (v << 1) | u64::from(b);
            self.bit += 1;
        }
        Some(v)
    }

    fn ue(&mut self) -> Option<u64> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u64 << zeros) - 1 + self.bits(zeros)?)
    }

    fn se(&mut self) -> Option<i64> {
        let v = self.ue()? as i64;
        Some(if v % 2 == 1 { (v + 1) / 2 } else { -(v / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_unwrap_across_the_boundary_and_back() {
        let mut u = SeqUnwrapper::default();
        let a = u.unwrap(65_534);
        let b = u.unwrap(65_535);
        let c = u.unwrap(0);
        let d = u.unwrap(1);
        let late = u.unwrap(65_533);
        assert_eq!((b - a, c - b, d - c), (1, 1, 1));
        assert_eq!(a - late, 1);
    }

    #[test]
    fn timestamps_unwrap() {
        let mut u = TimestampUnwrapper::default();
        let a = u.unwrap(u32::MAX - 1000);
        let b = u.unwrap(2000);
        assert_eq!(b - a, 3001);
    }

    #[test]
    fn malformed_sps_is_refused() {
        assert_eq!(sps_dimensions(&[0x67]), None);
        assert_eq!(sps_dimensions(&[]), None);
        assert_eq!(sps_dimensions(&[0x67, 0x42, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn stap_a_and_fu_a_reassemble() {
        let mut a = H264Assembler::new();
        // STAP-A with SPS + PPS, then an IDR in two FU-A fragments.
        let stap = [24u8, 0, 2, 0x67, 0xAA, 0, 2, 0x68, 0xBB];
        assert!(a.push(10, 3000, false, &stap).is_empty());
        assert!(a.push(11, 3000, false, &[0x7C, 0x85, 1, 2]).is_empty());
        let out = a.push(12, 3000, true, &[0x7C, 0x45, 3, 4]);
        assert_eq!(out.len(), 1);
        assert!(out[0].keyframe);
        assert_eq!(
            out[0].nals,
            vec![vec![0x67, 0xAA], vec![0x68, 0xBB], vec![0x65, 1, 2, 3, 4]]
        );
    }

    #[test]
    fn a_lost_fragment_drops_frames_until_the_next_keyframe() {
        let mut a = H264Assembler::new();
        let idr = |a: &mut H264Assembler, seq, ts| a.push(seq, ts, true, &[0x65, 9]);
        let p = |a: &mut H264Assembler, seq, ts| a.push(seq, ts, true, &[0x41, 9]);
        assert_eq!(idr(&mut a, 1, 0).len(), 1);
        // A P-frame in two fragments, the second lost; the next packets keep coming.
        a.push(2, 3000, false, &[0x5C, 0x81, 1]);
        let mut produced = 0;
        for seq in 4..(4 + REORDER_WINDOW as u16 + 2) {
            produced += p(&mut a, seq, 3000 * u32::from(seq)).len();
        }
        assert_eq!(produced, 0, "nothing until a keyframe");
        assert!(a.frames_dropped > 0 && a.packets_lost() == 1);
        let seq = 4 + REORDER_WINDOW as u16 + 2;
        let out = idr(&mut a, seq, 999_000);
        assert!(out.iter().any(|f| f.keyframe));
    }

    #[test]
    fn reordered_packets_are_put_back_in_order() {
        let mut a = H264Assembler::new();
        assert!(a.push(2, 0, true, &[0x7C, 0x45, 2]).is_empty());
        let out = a.push(1, 0, false, &[0x7C, 0x85, 1]);
        // The first packet seen (seq 2) set the expectation; seq 1 arrived too late.
        assert!(out.is_empty());
        let mut b = H264Assembler::new();
        b.push(10, 0, false, &[0x7C, 0x85, 1]);
        assert!(b.push(12, 0, true, &[0x7C, 0x45, 3]).is_empty());
        let out = b.push(11, 0, false, &[0x7C, 0x05, 2]);
        assert_eq!(out[0].nals, vec![vec![0x65, 1, 2, 3]]);
    }

    #[test]
    fn garbage_payloads_never_panic() {
        let mut a = H264Assembler::new();
        let mut state = 7u64;
        for seq in 0..5000u16 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let len = (state >> 56) as usize % 40;
            let payload: Vec<u8> = (0..len).map(|i| (state >> (i % 8 * 8)) as u8).collect();
            a.push(
                seq.wrapping_mul(7),
                (state >> 20) as u32,
                state & 1 == 1,
                &payload,
            );
        }
        a.flush();
    }
}
