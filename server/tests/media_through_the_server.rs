//! Media end to end through the real server: a WHIP publisher (an independent WebRTC client)
//! becomes a camera, a supporter negotiates its slots over the signaling WebSocket, connects the
//! camera, and decodes its H.264; the supporter's voice reaches the camera.

mod common;

use std::time::{Duration, Instant};

use common::live::*;
use common::*;
use remote_assist_sfu::PeerRole;
use remote_assist_sfu::test_client::{TestPeer, decodable_frames, h264_access_units};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whip_camera_is_watched_by_a_supporter_through_the_server() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (device, credential) = paired_device(&app, world.group_a, "drone").await;

    // The camera publishes with WHIP.
    let mut cam = TestPeer::new(PeerRole::Publisher).await;
    let offer = cam.offer();
    let url = format!("https://127.0.0.1:{}/whip/{device}", addr.port());
    let answer = tokio::task::spawn_blocking(move || whip_post(&url, &credential, &offer))
        .await
        .unwrap();
    cam.answer(&answer, None);
    cam.connect().await;

    // The supporter negotiates four slots and a microphone over the WebSocket.
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    let mut sup = TestPeer::new(PeerRole::Subscriber { slots: 4 }).await;
    send(&mut ws, json!({"type": "offer", "sdp": sup.offer()})).await;
    let answer = next_of(&mut ws, "answer").await;
    assert_eq!(answer["type"], "answer", "{answer}");
    sup.answer(answer["sdp"].as_str().unwrap(), None);
    sup.connect().await;
    send(
        &mut ws,
        json!({"type": "connect_camera", "device_id": device}),
    )
    .await;
    let added = next_of(&mut ws, "camera_added").await;
    assert_eq!(added["slot"], 0, "{added}");

    let units = h264_access_units(4, 150);
    let mut ts = 0u32;
    let mut next = 0usize;
    let mut plis_seen = 0;
    let mut audio_ts = 0u32;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cam.received.plis > plis_seen {
            plis_seen = cam.received.plis;
            next = 0; // answer a keyframe request with the IDR, like an encoder
        }
        cam.send_video_frame(&units[next % units.len()], ts);
        next += 1;
        ts = ts.wrapping_add(6000);
        sup.send_audio_packet(audio_ts);
        audio_ts = audio_ts.wrapping_add(960);
        sup.pump(Duration::from_millis(35)).await;
        cam.pump(Duration::from_millis(20)).await;
    }
    assert!(
        plis_seen > 0,
        "the server asked the camera for a keyframe on connect"
    );
    let frames = decodable_frames(&sup.video_packets());
    assert!(frames >= 30, "the supporter decoded {frames} frames");
    assert!(
        cam.audio_packet_count() > 20,
        "the supporter's voice reached the camera"
    );
    // While live, /metrics shows the session, its camera, the tracks and forwarding.
    let metrics = metric_values(&app).await;
    assert_eq!(metrics["ra_live_sessions"], 1, "{metrics:?}");
    assert_eq!(metrics["ra_live_cameras_in_sessions"], 1);
    assert_eq!(metrics["ra_live_cameras_online"], 1);
    assert_eq!(metrics["ra_media_routes"], 1);
    assert_eq!(
        metrics["ra_media_tracks"], 2,
        "the camera's video and the supporter's microphone: {metrics:?}"
    );
    assert!(metrics["ra_media_rtp_forwarded_total"] > 30);
    assert!(metrics["ra_media_plis_sent_total"] >= 1);
    // Every datagram's wait between the kernel and the worker is observed.
    assert!(
        metrics["ra_media_receive_wait_seconds_count"] > metrics["ra_media_rtp_forwarded_total"],
        "{metrics:?}"
    );
    // ... and its whole stay in the server, up to what it caused being sent.
    assert!(
        metrics["ra_media_datagram_handling_seconds_count"]
            > metrics["ra_media_rtp_forwarded_total"],
        "{metrics:?}"
    );
    // The supporter mutes their voice for this camera: it stops.
    send(
        &mut ws,
        json!({"type": "set_camera_muted", "device_id": device, "muted": true}),
    )
    .await;
    // The hub takes one connection's messages in order and applies the mute before the next:
    // the refusal of a second, invalid request says the mute is in place.
    send(
        &mut ws,
        json!({"type": "set_camera_muted", "device_id": "00000000-0000-4000-8000-000000000000", "muted": true}),
    )
    .await;
    let barrier = next_of(&mut ws, "error").await;
    assert_eq!(barrier["code"], "camera_not_in_session", "{barrier}");
    cam.pump(Duration::from_millis(100)).await;
    let before = cam.audio_packet_count();
    for _ in 0..20 {
        sup.send_audio_packet(audio_ts);
        audio_ts = audio_ts.wrapping_add(960);
        sup.pump(Duration::from_millis(20)).await;
        cam.pump(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cam.audio_packet_count(),
        before,
        "muted: no voice to this camera"
    );
    // Everyone leaves: no peer, route or recording is left behind in the media worker.
    drop(ws);
    app.state
        .live
        .send(remote_assist::live::HubInput::DeviceRevoked { device })
        .await;
    let counters = app.state.live.sfu.counters();
    let peers = || counters.peers.load(std::sync::atomic::Ordering::Relaxed);
    let routes = || counters.routes.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(5);
    while (peers() > 0 || routes() > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (peers(), routes()),
        (0, 0),
        "peers and routes are cleaned up"
    );
    // The hub's gauges follow the media worker's cleanup: poll them too.
    let mut metrics = metric_values(&app).await;
    while (metrics["ra_media_tracks"] > 0
        || metrics["ra_live_sessions"] > 0
        || metrics["ra_live_cameras_online"] > 0)
        && Instant::now() < deadline + Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        metrics = metric_values(&app).await;
    }
    assert_eq!(metrics["ra_media_tracks"], 0, "{metrics:?}");
    assert_eq!(metrics["ra_live_sessions"], 0);
    assert_eq!(metrics["ra_live_cameras_online"], 0);
}

/// `/metrics` as name → value (labelled series are left out).
async fn metric_values(app: &TestApp) -> std::collections::HashMap<String, i64> {
    let request = axum::http::Request::builder()
        .uri("/metrics")
        .header(axum::http::header::HOST, HOST)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.send(request).await;
    use http_body_util::BodyExt;
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.contains('{'))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}
