//! RTP packets into the recorder: the H.264 (single NAL, STAP-A, FU-A) and VP8 depacketizers,
//! the reorder buffer, sequence and timestamp unwrapping, and the fragmented-MP4 and WebM
//! muxers. Any sequence of packets — lost, reordered, duplicated, with wrapping or jumping
//! numbers, new SSRCs, garbage payloads — is recorded without a panic, and what comes out is
//! well formed: an MP4 is a run of whole boxes starting with `ftyp`, a WebM finalizes.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use remote_assist_sfu::record::{Container, Recorder, Stream, webm};

/// Reads the fuzzer's bytes as packet descriptions.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// Walks ISO-BMFF boxes: the bytes must be whole boxes, end to end.
fn assert_whole_boxes(mut bytes: &[u8]) {
    let mut first = true;
    while !bytes.is_empty() {
        assert!(bytes.len() >= 8, "a box header is cut");
        let size32 = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as u64;
        let kind = &bytes[4..8];
        if first {
            assert_eq!(kind, b"ftyp", "an MP4 starts with ftyp");
            first = false;
        }
        let size = if size32 == 1 {
            u64::from_be_bytes(bytes[8..16].try_into().unwrap())
        } else {
            size32
        };
        assert!(
            size >= 8 && size <= bytes.len() as u64,
            "box {kind:?} of {size} bytes overruns"
        );
        bytes = &bytes[size as usize..];
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut recorder = Recorder::new(start);
    let mut input = Cursor(data);
    let mut at = Duration::ZERO;
    let mut next_seq = [0u16; 4];
    let mut out = Vec::new();
    // At most a few hundred packets per input: enough for fragments, wrap-around and SSRC
    // changes, small enough to stay fast.
    for _ in 0..512 {
        let Some(flags) = input.byte() else { break };
        let stream_index = usize::from(flags & 0b11);
        let stream = [
            Stream::CameraVideo,
            Stream::CameraVideoVp8,
            Stream::CameraAudio,
            Stream::SupporterAudio,
        ][stream_index];
        let Some(step_ms) = input.byte() else { break };
        at += Duration::from_millis(u64::from(step_ms));
        // Either the next sequence number or one read from the input (loss, reordering).
        let sequence_number = if flags & 0b100 != 0 {
            let Some(seq) = input.u16() else { break };
            seq
        } else {
            next_seq[stream_index].wrapping_add(1)
        };
        next_seq[stream_index] = sequence_number;
        let Some(timestamp) = input.u32() else { break };
        let ssrc = if flags & 0b1000 != 0 { 0x1111 } else { 0x2222 };
        let Some(len) = input.byte() else { break };
        let payload = bytes::Bytes::copy_from_slice(input.take(usize::from(len)));
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker: flags & 0b1_0000 != 0,
                payload_type: if stream_index < 2 { 102 } else { 111 },
                sequence_number,
                timestamp,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        recorder.push(stream, &packet, start + at);
        let _ = recorder.keyframe_due(start + at);
        while let Some(bytes) = recorder.poll_output() {
            out.extend_from_slice(&bytes);
        }
    }
    recorder.finish();
    while let Some(bytes) = recorder.poll_output() {
        out.extend_from_slice(&bytes);
    }
    match recorder.container() {
        Some(Container::Mp4) => assert_whole_boxes(&out),
        Some(Container::Webm) => {
            webm::finalize(&out).expect("a streamed WebM recording finalizes");
        }
        None => assert!(out.is_empty(), "output before the container was chosen"),
    }
});
