//! Micro-benchmarks of the media plane's own per-packet work: the forwarding step (sequence and
//! timestamp rewriting for one subscriber plus the packet copy; SRTP is the `rtc` crate's) and
//! the recording step (depacketize and mux one H.264 packet into fragmented MP4).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use remote_assist_sfu::record::{Recorder, Stream};
use remote_assist_sfu::rewrite::StreamRewriter;
use remote_assist_sfu::test_client::{h264_clip, h264_rtp};

fn forward_one_packet(c: &mut Criterion) {
    let packets = h264_rtp(&h264_clip("640x480", 2, 30), 7, 1000, 0);
    let now = Instant::now();
    let mut rewriter = StreamRewriter::new(90_000);
    let mut i = 0usize;
    c.bench_function(
        "forward one packet to one subscriber (rewrite + copy)",
        |b| {
            b.iter(|| {
                let p = &packets[i % packets.len()];
                i += 1;
                let out = rewriter.rewrite(
                    p.header.ssrc,
                    p.header.sequence_number,
                    p.header.timestamp,
                    now,
                );
                let mut copy = p.clone();
                if let Some(out) = out {
                    copy.header.sequence_number = out.seq;
                    copy.header.timestamp = out.ts;
                }
                std::hint::black_box(copy)
            })
        },
    );
}

fn mux_one_packet(c: &mut Criterion) {
    let packets = h264_rtp(&h264_clip("640x480", 4, 30), 7, 1000, 0);
    c.bench_function("depacketize and mux one H.264 packet (fMP4)", |b| {
        let start = Instant::now();
        let mut recorder = Recorder::new(start);
        let mut i = 0usize;
        b.iter(|| {
            let p = &packets[i % packets.len()];
            // A monotonic timeline across loops of the clip.
            let mut p = p.clone();
            let round = (i / packets.len()) as u32;
            p.header.timestamp = p.header.timestamp.wrapping_add(round * 360_000);
            p.header.sequence_number = p
                .header
                .sequence_number
                .wrapping_add((round as usize * packets.len()) as u16);
            recorder.push(
                Stream::CameraVideo,
                &p,
                start + Duration::from_millis(i as u64),
            );
            while let Some(bytes) = recorder.poll_output() {
                std::hint::black_box(bytes);
            }
            i += 1;
        })
    });
}

criterion_group!(benches, forward_one_packet, mux_one_packet);
criterion_main!(benches);
