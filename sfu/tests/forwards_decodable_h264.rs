//! A camera publishes a real H.264 stream; a supporter's slot receives decodable frames, with a
//! keyframe on join (the SFU asks the camera for one), and the supporter's voice reaches the
//! camera.

mod common;

use std::time::{Duration, Instant};

use common::*;
use remote_assist_sfu::{PeerId, PeerRole};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_receives_decodable_frames_and_a_keyframe_on_join() {
    let (sfu, _events) = start_sfu().await;
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    let mut supporter = join(&sfu, PeerId(2), PeerRole::Subscriber { slots: 4 }, None).await;
    camera.connect().await;
    supporter.connect().await;

    // 15 fps, keyframe only every 10 s: without the SFU's keyframe request the viewer would
    // wait up to 10 s.
    let units = h264_access_units(6, 150);
    assert!(is_keyframe(&units[0]));
    // The camera streams for a while before anyone watches.
    let mut ts = 0u32;
    let mut next = 0usize;
    for _ in 0..10 {
        camera.send_video_frame(&units[next % units.len()], ts);
        next += 1;
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(10)).await;
    }
    let plis_before = camera.received.plis;
    sfu.attach(PeerId(1), PeerId(2), 2).await.unwrap();
    sfu.set_return_audio(PeerId(2), PeerId(1), true)
        .await
        .unwrap();
    let attached = Instant::now();
    // The camera answers keyframe requests with its next frame as an IDR, like an encoder.
    let mut keyframe_sent_at = None;
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut audio_ts = 0u32;
    while Instant::now() < deadline {
        camera.pump(Duration::from_millis(5)).await;
        if camera.received.plis > plis_before && keyframe_sent_at.is_none() {
            next = 0; // restart at the IDR
            keyframe_sent_at = Some(Instant::now());
        }
        camera.send_video_frame(&units[next % units.len()], ts);
        next += 1;
        ts = ts.wrapping_add(6000);
        supporter.send_audio_packet(audio_ts);
        audio_ts = audio_ts.wrapping_add(960);
        supporter.pump(Duration::from_millis(30)).await;
        camera.pump(Duration::from_millis(20)).await;
    }
    // Asked within the 4 s above, long before the camera's own next keyframe at 10 s. How fast
    // is the load generator's to measure (join to first keyframe), not this test's.
    let pli_delay = keyframe_sent_at.expect("the SFU asked the camera for a keyframe") - attached;
    eprintln!("keyframe requested {pli_delay:?} after the attach");

    let video = supporter.video_packets();
    assert!(
        video.len() > 30,
        "only {} video packets arrived",
        video.len()
    );
    let first = video[0];
    // The first thing the viewer gets is the start of a keyframe (SPS/STAP-A with SPS, or IDR).
    let nal = first.payload[0] & 0x1F;
    assert!(
        nal == 7 || nal == 5 || nal == 24 || nal == 9,
        "first packet NAL type {nal}"
    );
    let frames = decodable_frames(&video);
    assert!(frames >= 20, "only {frames} frames decoded");
    // Every forwarded packet carries the slot's own SSRC, never the camera's.
    let ssrcs: std::collections::HashSet<u32> = video.iter().map(|p| p.header.ssrc).collect();
    assert_eq!(ssrcs.len(), 1);
    // The supporter's voice reached the camera.
    assert!(
        camera.audio_packet_count() > 20,
        "return audio: {}",
        camera.audio_packet_count()
    );
    assert!(
        sfu.counters()
            .rtp_forwarded
            .load(std::sync::atomic::Ordering::Relaxed)
            > 50
    );
}
