//! The SFU's recording tap: a camera in a session is recorded while it is live, with the
//! supporter's voice as a second audio track; the output is a playable fragmented MP4.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use remote_assist_sfu::{PeerId, PeerRole, RecordingEvent, RecordingKey, SfuConfig, SfuHandle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_camera_is_recorded_with_the_supporters_voice() {
    let (sfu, _events, mut recordings) = SfuHandle::start_with_recordings(SfuConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertised_ip: None,
        connect_timeout: remote_assist_sfu::DEFAULT_CONNECT_TIMEOUT,
        realtime_priority: remote_assist_sfu::DEFAULT_REALTIME_PRIORITY,
    })
    .unwrap();
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    let mut supporter = join(&sfu, PeerId(2), PeerRole::Subscriber { slots: 4 }, None).await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 0).await.unwrap();
    sfu.set_return_audio(PeerId(2), PeerId(1), true)
        .await
        .unwrap();
    let key = RecordingKey(7);
    sfu.start_recording(PeerId(1), key).await.unwrap();

    let units = h264_access_units(4, 150);
    let (mut ts, mut audio_ts, mut next, mut plis) = (0u32, 0u32, 0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if camera.received.plis > plis {
            plis = camera.received.plis;
            next = 0; // the recording asked for a keyframe
        }
        camera.send_video_frame(&units[next % units.len()], ts);
        next += 1;
        ts = ts.wrapping_add(6000);
        for _ in 0..3 {
            camera.send_audio_packet(audio_ts);
            supporter.send_audio_packet(audio_ts);
            audio_ts = audio_ts.wrapping_add(960);
        }
        camera.pump(Duration::from_millis(30)).await;
        supporter.pump(Duration::from_millis(30)).await;
    }
    sfu.stop_recording(key).await.unwrap();
    let mut file = Vec::new();
    let stats = loop {
        match tokio::time::timeout(Duration::from_secs(10), recordings.recv()).await {
            Ok(Some(RecordingEvent::Data { recording, bytes })) => {
                assert_eq!(recording, key);
                file.extend_from_slice(&bytes);
            }
            Ok(Some(RecordingEvent::Finished { recording, stats })) => {
                assert_eq!(recording, key);
                break stats;
            }
            other => panic!("recording stream ended early: {other:?}"),
        }
    };
    assert!(stats.video_frames > 20, "{stats:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tap.mp4");
    std::fs::write(&path, &file).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "video, camera audio, supporter voice: {text}"
    );
    assert!(lines[0].starts_with("h264,"), "{text}");
    let frames: u64 = lines[0].rsplit(',').next().unwrap().parse().unwrap();
    assert_eq!(frames, stats.video_frames, "every recorded frame decodes");
    assert!(
        lines[1].starts_with("opus") && lines[2].starts_with("opus"),
        "{text}"
    );
}

/// A camera that sends keyframes only when asked (as browsers do) still gets a fragment about
/// every two seconds while it is recorded: the recording asks for keyframes on that rhythm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_camera_is_asked_for_a_keyframe_every_fragment() {
    let (sfu, _events, mut recordings) = SfuHandle::start_with_recordings(SfuConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertised_ip: None,
        connect_timeout: remote_assist_sfu::DEFAULT_CONNECT_TIMEOUT,
        realtime_priority: remote_assist_sfu::DEFAULT_REALTIME_PRIORITY,
    })
    .unwrap();
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    let mut supporter = join(&sfu, PeerId(2), PeerRole::Subscriber { slots: 1 }, None).await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 0).await.unwrap();
    let key = RecordingKey(9);
    sfu.start_recording(PeerId(1), key).await.unwrap();

    // One keyframe at the start of a 10 s group of pictures: without requests, no other.
    let units = h264_access_units(10, 150);
    let (mut ts, mut next, mut plis) = (0u32, 0usize, 0usize);
    // Requests come about every 2 s (start, 2, 4, 6 s) once each keyframe arrives; the bound
    // leaves room for a slow machine's round trips, the count is what is checked.
    let started = Instant::now();
    while plis < 4 && started.elapsed() < Duration::from_secs(20) {
        if camera.received.plis > plis {
            plis = camera.received.plis;
            next = 0;
        }
        camera.send_video_frame(&units[next % units.len()], ts);
        next += 1;
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(33)).await;
        supporter.pump(Duration::from_millis(33)).await;
    }
    sfu.stop_recording(key).await.unwrap();
    let mut file = Vec::new();
    let stats = loop {
        match tokio::time::timeout(Duration::from_secs(10), recordings.recv()).await {
            Ok(Some(RecordingEvent::Data { bytes, .. })) => file.extend_from_slice(&bytes),
            Ok(Some(RecordingEvent::Finished { stats, .. })) => break stats,
            other => panic!("recording stream ended early: {other:?}"),
        }
    };
    // Start, then every fragment: at least three more requests.
    assert!(
        plis >= 4,
        "only {plis} keyframe requests in {:?} of recording",
        started.elapsed()
    );
    assert!(stats.fragments >= 3, "{stats:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rhythm.mp4");
    std::fs::write(&path, &file).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-skip_frame", "nokey", "-count_frames"])
        .args([
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    let keyframes: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(keyframes >= 3, "{keyframes} keyframes in the file");
}
