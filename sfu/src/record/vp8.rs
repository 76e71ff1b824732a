//! RTP VP8 (RFC 7741) to whole frames, and the picture size a container needs.
//!
//! Packets go through the same reorder buffer as H.264. A frame is the packets from one with
//! the start bit (S=1, partition 0) up to the marker; a frame with a missing packet is dropped,
//! and so is everything after it until the next keyframe (inter frames would only smear).

use super::h264::{Delivered, Reorder, TimestampUnwrapper};

/// One complete VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp8Frame {
    /// Extended RTP timestamp (90 kHz).
    pub timestamp: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Vp8Assembler {
    reorder: Reorder,
    ts: TimestampUnwrapper,
    /// (timestamp, frame so far) of the frame being assembled.
    current: Option<(u64, Vec<u8>)>,
    broken: bool,
    need_keyframe: bool,
    pub frames_dropped: u64,
}

/// The VP8 payload after the RFC 7741 payload descriptor, and whether it starts a frame.
pub fn strip_descriptor(payload: &[u8]) -> Option<(bool, &[u8])> {
    let first = *payload.first()?;
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0 && first & 0x07 == 0;
    let mut at = 1;
    if extended {
        let x = *payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            // PictureID: 15 bits when M is set, else 7.
            let m = *payload.get(at)? & 0x80 != 0;
            at += if m { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    let rest = payload.get(at..)?;
    Some((start, rest))
}

/// Width and height of a VP8 keyframe (from its uncompressed header), if it is one.
pub fn keyframe_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    if frame.len() < 10 || frame[0] & 0x01 != 0 || frame[3..6] != [0x9D, 0x01, 0x2A] {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3FFF;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3FFF;
    (width > 0 && height > 0).then_some((width, height))
}

impl Vp8Assembler {
    pub fn new() -> Self {
        Self {
            need_keyframe: true,
            ..Default::default()
        }
    }

    /// Starts over (a new SSRC).
    pub fn reset(&mut self) {
        *self = Self {
            frames_dropped: self.frames_dropped,
            ..Self::new()
        };
    }

    /// Feeds one RTP packet; returns the frames it completes, in order.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Vec<Vp8Frame> {
        let mut out = Vec::new();
        let mut delivered = Vec::new();
        self.reorder
            .push(seq, timestamp, marker, payload, |d| delivered.push(d));
        for item in delivered {
            self.deliver(item, &mut out);
        }
        out
    }

    /// Emits what is still buffered (end of recording).
    pub fn flush(&mut self) -> Vec<Vp8Frame> {
        let mut out = Vec::new();
        let mut delivered = Vec::new();
        self.reorder.flush(|d| delivered.push(d));
        for item in delivered {
            self.deliver(item, &mut out);
        }
        self.finish_frame(&mut out);
        out
    }

    fn deliver(&mut self, item: Delivered, out: &mut Vec<Vp8Frame>) {
        match item {
            Delivered::Gap => self.broken = true,
            Delivered::Packet {
                timestamp,
                marker,
                payload,
            } => {
                let ts = self.ts.unwrap(timestamp);
                let Some((start, data)) = strip_descriptor(&payload) else {
                    self.broken = true;
                    return;
                };
                if self.current.as_ref().is_some_and(|(t, _)| *t != ts) || start {
                    // A new frame: the old one ends here (complete only if its marker came).
                    self.finish_frame(out);
                }
                match self.current.as_mut() {
                    Some((_, frame)) => frame.extend_from_slice(data),
                    None if start => self.current = Some((ts, data.to_vec())),
                    // The middle of a frame whose start was lost.
                    None => {
                        self.broken = true;
                        return;
                    }
                }
                if marker {
                    self.finish_frame(out);
                }
            }
        }
    }

    fn finish_frame(&mut self, out: &mut Vec<Vp8Frame>) {
        let Some((timestamp, data)) = self.current.take() else {
            return;
        };
        let broken = std::mem::replace(&mut self.broken, false);
        let keyframe = data.first().is_some_and(|b| b & 0x01 == 0);
        if broken || data.is_empty() {
            self.frames_dropped += 1;
            self.need_keyframe = true;
            return;
        }
        if self.need_keyframe && !keyframe {
            self.frames_dropped += 1;
            return;
        }
        self.need_keyframe = false;
        out.push(Vp8Frame {
            timestamp,
            keyframe,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 keyframe header for 640x480 followed by `extra` bytes.
    fn keyframe(extra: usize) -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01];
        f.extend(std::iter::repeat_n(0xAB, extra));
        f
    }

    fn packets(frame: &[u8], seq: u16, ts: u32, size: usize) -> Vec<(u16, u32, bool, Vec<u8>)> {
        let chunks: Vec<&[u8]> = frame.chunks(size).collect();
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Extended descriptor with a 15-bit picture ID.
                let mut p = vec![if i == 0 { 0x90 } else { 0x80 }, 0x80, 0x80 | 0x12, 0x34];
                p.extend_from_slice(c);
                (seq.wrapping_add(i as u16), ts, i + 1 == chunks.len(), p)
            })
            .collect()
    }

    #[test]
    fn descriptors_are_stripped_and_frames_reassembled() {
        let frame = keyframe(3000);
        assert_eq!(keyframe_dimensions(&frame), Some((640, 480)));
        let mut a = Vp8Assembler::new();
        let mut out = Vec::new();
        let mut input = packets(&frame, 65530, 1000, 1000);
        input.swap(1, 2); // reordering is fine
        for (seq, ts, m, p) in input {
            out.extend(a.push(seq, ts, m, &p));
        }
        assert_eq!(out.len(), 1);
        assert!(out[0].keyframe);
        assert_eq!(out[0].data, frame);
    }

    #[test]
    fn a_lost_packet_drops_frames_until_the_next_keyframe() {
        let mut a = Vp8Assembler::new();
        let mut delta = vec![0x01u8]; // inter frame
        delta.extend(std::iter::repeat_n(0x11, 2500));
        let mut seq = 100u16;
        let mut frames = Vec::new();
        for (i, frame) in [keyframe(2000), delta.clone(), delta.clone(), keyframe(2000)]
            .iter()
            .enumerate()
        {
            let mut ps = packets(frame, seq, 3000 * i as u32, 1000);
            seq = seq.wrapping_add(ps.len() as u16);
            if i == 1 {
                ps.remove(1); // lost
            }
            for (s, ts, m, p) in ps {
                frames.extend(a.push(s, ts, m, &p));
            }
        }
        frames.extend(a.flush());
        let kinds: Vec<bool> = frames.iter().map(|f| f.keyframe).collect();
        assert_eq!(
            kinds,
            vec![true, true],
            "the broken frame and the one after it are dropped"
        );
        assert_eq!(a.frames_dropped, 2);
    }

    #[test]
    fn garbage_never_panics() {
        let mut a = Vp8Assembler::new();
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = a.push(len as u16, len as u32 * 7, len % 3 == 0, &junk);
            let _ = strip_descriptor(&junk);
            let _ = keyframe_dimensions(&junk);
        }
        let _ = a.flush();
    }
}
