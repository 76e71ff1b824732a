//! Driving the WebRTC peers of a run: cameras send the clip at its rate (and answer keyframe
//! requests with the next keyframe, like an encoder); subscribers only receive and measure.
//! Every peer runs as its own task until the run's stop signal.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use remote_assist_sfu::test_client::TestPeer;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::watch;

use crate::media::{Clip, Stamp, read_stamp, since, stamp_payload, starts_keyframe};
use crate::stats::Collected;

/// Packets and bytes every camera sent, for the report.
#[derive(Default)]
pub struct SentCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

pub struct Shared {
    pub clip: Arc<Clip>,
    pub epoch: Instant,
    pub sent: Arc<SentCounters>,
    pub stop: watch::Receiver<bool>,
}

const FRAME_INTERVAL: Duration = Duration::from_micros(33_333);
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// After the stop, how long a peer goes on receiving (sending nothing) so that packets still in
/// flight or being retransmitted are counted, not taken for lost.
const DRAIN: Duration = Duration::from_millis(250);

/// Sends video (when `video`) and audio until stopped; starts when `go` turns true (a camera
/// that is watched). Collects what it hears (the supporter's voice).
pub async fn run_camera(
    mut peer: TestPeer,
    index: u32,
    video: bool,
    mut go: watch::Receiver<bool>,
    shared: Shared,
) -> Collected {
    let mut collected = Collected::default();
    let mut stop = shared.stop.clone();
    // Wait to be watched, still answering ICE and DTLS.
    while !*go.borrow() {
        if *stop.borrow() {
            return collected;
        }
        tokio::select! {
            _ = go.changed() => {}
            _ = stop.changed() => {}
            _ = peer.pump(Duration::from_millis(20)) => {}
        }
    }
    let clip = shared.clip.clone();
    let mut frame = rand::random::<u32>() as usize % clip.video_payloads.len();
    // Start on a keyframe, as an encoder does.
    while !clip.keyframes[frame] {
        frame = (frame + 1) % clip.video_payloads.len();
    }
    let mut frame_no = 0u32;
    let mut audio_no = 0usize;
    let (mut video_ts, mut audio_ts) = (rand::random::<u32>(), rand::random::<u32>());
    let start = Instant::now();
    let (mut next_video, mut next_audio) = (start, start);
    let mut plis = peer.received.plis;
    while !*stop.borrow() {
        let now = Instant::now();
        if peer.received.plis > plis {
            plis = peer.received.plis;
            // A keyframe request: the next frame is a keyframe.
            while !clip.keyframes[frame] {
                frame = (frame + 1) % clip.video_payloads.len();
            }
        }
        if video && now >= next_video {
            let mut payloads = Vec::with_capacity(clip.video_payloads[frame].len() + 1);
            payloads.push(Bytes::new());
            payloads.extend(clip.video_payloads[frame].iter().cloned());
            // Stamped last thing before it is sent: what follows is the server's doing.
            payloads[0] = stamp_payload(Stamp {
                camera: index,
                frame: frame_no,
                sent_ns: since(shared.epoch),
            });
            let bytes: usize = payloads.iter().map(Bytes::len).sum();
            shared.sent.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            shared
                .sent
                .packets
                .fetch_add(payloads.len() as u64, Ordering::Relaxed);
            peer.send_h264_payloads(payloads, video_ts);
            frame = (frame + 1) % clip.video_payloads.len();
            frame_no += 1;
            video_ts = video_ts.wrapping_add(3000);
            next_video += FRAME_INTERVAL;
        }
        if now >= next_audio {
            let payload = clip.opus[audio_no % clip.opus.len()].clone();
            shared
                .sent
                .bytes
                .fetch_add(payload.len() as u64, Ordering::Relaxed);
            shared.sent.packets.fetch_add(1, Ordering::Relaxed);
            peer.send_audio_payload(audio_ts, payload);
            audio_no += 1;
            audio_ts = audio_ts.wrapping_add(960);
            next_audio += AUDIO_INTERVAL;
        }
        let wake = if video {
            next_video.min(next_audio)
        } else {
            next_audio
        };
        tokio::select! {
            _ = peer.pump_until(wake.max(Instant::now() + Duration::from_micros(200))) => {}
            _ = stop.changed() => {}
        }
        drain(&mut peer, &shared, &mut collected, &mut Firsts::default());
    }
    peer.pump(DRAIN).await;
    drain(&mut peer, &shared, &mut collected, &mut Firsts::default());
    collected
}

/// First arrivals per SSRC, resolved into join times once the SSRC's camera is known.
#[derive(Default)]
pub struct Firsts {
    pub first_packet: HashMap<u32, Instant>,
    pub first_keyframe: HashMap<u32, Instant>,
    pub camera_of: HashMap<u32, u32>,
}

/// Takes what the peer received so far into `collected`.
fn drain(peer: &mut TestPeer, shared: &Shared, collected: &mut Collected, firsts: &mut Firsts) {
    for (at, kind, packet) in std::mem::take(&mut peer.received.rtp) {
        let arrival = at.duration_since(shared.epoch).as_secs_f64();
        let h = &packet.header;
        match kind {
            RtpCodecKind::Video => {
                collected.video.entry(h.ssrc).or_default().packet(
                    h.sequence_number,
                    h.timestamp,
                    packet.payload.len(),
                    arrival,
                    90_000.0,
                );
                firsts.first_packet.entry(h.ssrc).or_insert(at);
                if starts_keyframe(&packet.payload) {
                    firsts.first_keyframe.entry(h.ssrc).or_insert(at);
                }
                if let Some(stamp) = read_stamp(&packet.payload) {
                    firsts.camera_of.insert(h.ssrc, stamp.camera);
                    let received_ns = at.duration_since(shared.epoch).as_nanos() as u64;
                    let delay = received_ns.saturating_sub(stamp.sent_ns) as f64 / 1000.0;
                    collected.delays_us.push(delay);
                }
            }
            _ => collected.audio.entry(h.ssrc).or_default().packet(
                h.sequence_number,
                h.timestamp,
                packet.payload.len(),
                arrival,
                48_000.0,
            ),
        }
    }
}

/// Receives (and sends the microphone's Opus when `mic`) until stopped. `joined` says when each
/// camera was asked for (by camera index), for the join times.
pub async fn run_subscriber(
    mut peer: TestPeer,
    mic: bool,
    joined: Arc<std::sync::Mutex<HashMap<u32, Instant>>>,
    shared: Shared,
) -> Collected {
    let mut collected = Collected::default();
    let mut firsts = Firsts::default();
    let mut stop = shared.stop.clone();
    let mut audio_ts = rand::random::<u32>();
    let mut audio_no = 0usize;
    let mut next_audio = Instant::now();
    while !*stop.borrow() {
        let now = Instant::now();
        if mic && now >= next_audio {
            let payload = shared.clip.opus[audio_no % shared.clip.opus.len()].clone();
            peer.send_audio_payload(audio_ts, payload);
            audio_no += 1;
            audio_ts = audio_ts.wrapping_add(960);
            next_audio += AUDIO_INTERVAL;
        }
        let wake = if mic {
            next_audio
        } else {
            now + Duration::from_millis(20)
        };
        tokio::select! {
            _ = peer.pump_until(wake.max(Instant::now() + Duration::from_micros(200))) => {}
            _ = stop.changed() => {}
        }
        drain(&mut peer, &shared, &mut collected, &mut firsts);
    }
    peer.pump(DRAIN).await;
    drain(&mut peer, &shared, &mut collected, &mut firsts);
    let joined = joined.lock().expect("not poisoned").clone();
    for (ssrc, camera) in &firsts.camera_of {
        let Some(asked) = joined.get(camera) else {
            continue;
        };
        if let Some(first) = firsts.first_packet.get(ssrc) {
            collected
                .first_packet_ms
                .push(first.saturating_duration_since(*asked).as_secs_f64() * 1000.0);
        }
        if let Some(first) = firsts.first_keyframe.get(ssrc) {
            collected
                .first_keyframe_ms
                .push(first.saturating_duration_since(*asked).as_secs_f64() * 1000.0);
        }
    }
    collected
}

/// Pumps a peer until it is connected (ICE + DTLS), at most `limit`.
pub async fn connect(peer: &mut TestPeer, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !peer.connected {
        anyhow::ensure!(
            Instant::now() < deadline,
            "a peer did not connect in {limit:?}"
        );
        peer.pump(Duration::from_millis(10)).await;
    }
    Ok(())
}
