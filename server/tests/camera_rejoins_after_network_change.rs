//! A phone that changes networks (new address and port, as on a Wi-Fi → LTE move) or reloads
//! its page comes back by itself: it reconnects the signaling socket and sends a fresh offer, and
//! the supporter's slot resumes with the same stream (same SSRC, continuous sequence numbers)
//! without the supporter doing anything.

mod common;

use std::time::{Duration, Instant};

use common::live::*;
use common::*;
use remote_assist_sfu::PeerRole;
use remote_assist_sfu::test_client::{TestPeer, h264_access_units};
use serde_json::json;

/// A camera over the signaling socket: hello with its credential, then an offer.
async fn camera_with_media(
    app: &TestApp,
    addr: std::net::SocketAddr,
    credential: &str,
) -> (Ws, TestPeer) {
    let mut ws = camera(app, addr, credential).await;
    let mut peer = TestPeer::new(PeerRole::Publisher).await;
    send(&mut ws, json!({"type": "offer", "sdp": peer.offer()})).await;
    let answer = next_of(&mut ws, "answer").await;
    peer.answer(answer["sdp"].as_str().unwrap(), None);
    peer.connect().await;
    (ws, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slot_resumes_after_the_camera_reconnects_from_a_new_address() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (device, credential) = paired_device(&app, world.group_a, "phone").await;
    let (cam_ws, mut cam) = camera_with_media(&app, addr, &credential).await;

    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    let mut sup = TestPeer::new(PeerRole::Subscriber { slots: 4 }).await;
    send(&mut ws, json!({"type": "offer", "sdp": sup.offer()})).await;
    let answer = next_of(&mut ws, "answer").await;
    sup.answer(answer["sdp"].as_str().unwrap(), None);
    sup.connect().await;
    send(
        &mut ws,
        json!({"type": "connect_camera", "device_id": device}),
    )
    .await;
    assert_eq!(next_of(&mut ws, "camera_added").await["slot"], 0);

    let units = h264_access_units(4, 15);
    let mut ts = 0u32;
    let mut next = 0usize;
    let stream = |cam: &mut TestPeer, next: &mut usize, ts: &mut u32| {
        cam.send_video_frame(&units[*next % units.len()], *ts);
        *next += 1;
        *ts = ts.wrapping_add(6000);
    };
    for _ in 0..30 {
        stream(&mut cam, &mut next, &mut ts);
        cam.pump(Duration::from_millis(15)).await;
        sup.pump(Duration::from_millis(50)).await;
    }
    let before = sup.video_packets().len();
    assert!(
        before > 20,
        "media flowed before the move ({before} packets)"
    );
    let ssrc = sup.video_packets()[0].header.ssrc;
    let last_seq = sup.video_packets().last().unwrap().header.sequence_number;

    // The network changes: the old socket and connection are gone, the phone reconnects from a
    // new address with a new peer connection.
    drop(cam_ws);
    drop(cam);
    let moved = Instant::now();
    // Earlier state messages (connecting, live) may still be queued: skip to the change.
    let mut state = next_of(&mut ws, "camera_media").await;
    for _ in 0..5 {
        if state["state"] == "reconnecting" {
            break;
        }
        state = next_of(&mut ws, "camera_media").await;
    }
    assert_eq!(
        state["state"], "reconnecting",
        "the console shows the tile reconnecting"
    );
    let (_cam_ws, mut cam) = camera_with_media(&app, addr, &credential).await;
    ts = ts.wrapping_add(90_000);
    next = 0;
    let mut resumed = None;
    // The bound is for a stuck test, not a speed check: the time is printed below.
    while moved.elapsed() < Duration::from_secs(20) {
        stream(&mut cam, &mut next, &mut ts);
        cam.pump(Duration::from_millis(15)).await;
        sup.pump(Duration::from_millis(50)).await;
        if sup.video_packets().len() > before + 5 {
            resumed = Some(moved.elapsed());
            break;
        }
    }
    let resumed = resumed.expect("media resumed");
    eprintln!("slot resumed {resumed:?} after the camera's connection was lost");
    let after = &sup.video_packets()[before..];
    assert!(
        after.iter().all(|p| p.header.ssrc == ssrc),
        "same SSRC in the slot"
    );
    assert_eq!(
        after[0].header.sequence_number,
        last_seq.wrapping_add(1),
        "sequence numbers continue"
    );
    // The supporter is told it is live again.
    let live = next_of(&mut ws, "camera_media").await;
    assert!(
        live["state"] == "connecting" || live["state"] == "live",
        "{live}"
    );
}
