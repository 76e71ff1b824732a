//! RTCP through the SFU, each direction: the camera gets transport-wide congestion-control
//! feedback (its bandwidth estimate adapts to a weak uplink); a supporter's keyframe request
//! reaches the camera, rate-limited so a burst of requests costs one keyframe; and packets the
//! camera's uplink loses are asked for again (NACK) and retransmitted, so the supporter gets
//! them all.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use remote_assist_sfu::{PeerId, PeerRole};
use tokio::net::UdpSocket;

async fn camera_and_supporter(
    sfu: &remote_assist_sfu::SfuHandle,
    camera_via: Option<SocketAddr>,
) -> (TestPeer, TestPeer) {
    let mut camera = join(sfu, PeerId(1), PeerRole::Publisher, camera_via).await;
    let mut supporter = join(sfu, PeerId(2), PeerRole::Subscriber { slots: 1 }, None).await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 0).await.unwrap();
    (camera, supporter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_camera_gets_transport_wide_feedback() {
    let (sfu, _events) = start_sfu().await;
    let (mut camera, mut supporter) = camera_and_supporter(&sfu, None).await;
    let before = TRANSPORT_CC_RECEIVED.load(Ordering::Relaxed);
    let units = h264_access_units(3, 30);
    let mut ts = 0u32;
    for unit in &units {
        camera.send_video_frame(unit, ts);
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(20)).await;
        supporter.pump(Duration::from_millis(20)).await;
    }
    let feedback = TRANSPORT_CC_RECEIVED.load(Ordering::Relaxed) - before;
    assert!(
        feedback >= 5,
        "{feedback} transport-cc feedback packets in 2 s of video"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_requests_reach_the_camera_rate_limited() {
    let (sfu, _events) = start_sfu().await;
    let (mut camera, mut supporter) = camera_and_supporter(&sfu, None).await;
    let units = h264_access_units(4, 150);
    let mut ts = 0u32;
    // Streaming, until the supporter has video (and so knows the slot's SSRC).
    let deadline = Instant::now() + WAIT;
    while supporter.video_packets().is_empty() {
        assert!(Instant::now() < deadline, "no video reached the supporter");
        camera.send_video_frame(&units[0], ts);
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(30)).await;
        supporter.pump(Duration::from_millis(30)).await;
    }
    let slot_ssrc = supporter.video_packets()[0].header.ssrc;
    // Let the keyframe request of the attach pass the rate limit.
    camera.pump(Duration::from_millis(400)).await;
    supporter.pump(Duration::from_millis(50)).await;
    let before = camera.received.plis;
    // One request: relayed.
    supporter.send_pli(slot_ssrc);
    pump_until_the_camera_is_asked(&mut camera, &mut supporter, before).await;
    assert_eq!(
        camera.received.plis,
        before + 1,
        "the supporter's PLI reached the camera"
    );
    camera.pump(Duration::from_millis(400)).await;
    // A burst of twenty at once: the camera is asked once.
    let before = camera.received.plis;
    for _ in 0..20 {
        supporter.send_pli(slot_ssrc);
    }
    pump_until_the_camera_is_asked(&mut camera, &mut supporter, before).await;
    let burst = camera.received.plis - before;
    assert_eq!(
        burst, 1,
        "20 requests at once cost {burst} keyframe requests"
    );
    assert!(
        sfu.counters().plis_received.load(Ordering::Relaxed) >= 21,
        "every request was seen"
    );
}

/// Pumps both peers until the camera has had more than `before` keyframe requests (bounded by
/// [`WAIT`]), then 150 ms more, well within the SFU's 300 ms rate-limit window, so that a
/// second request let through would be counted too.
async fn pump_until_the_camera_is_asked(
    camera: &mut TestPeer,
    supporter: &mut TestPeer,
    before: usize,
) {
    let deadline = Instant::now() + WAIT;
    while camera.received.plis == before && Instant::now() < deadline {
        supporter.pump(Duration::from_millis(10)).await;
        camera.pump(Duration::from_millis(10)).await;
    }
    for _ in 0..5 {
        supporter.pump(Duration::from_millis(15)).await;
        camera.pump(Duration::from_millis(15)).await;
    }
}

/// A relay in front of the SFU for the camera that drops every `drop_every`-th RTP packet the
/// camera sends (its uplink), and counts the drops.
async fn lossy_uplink(sfu: SocketAddr, drop_every: u64) -> (SocketAddr, Arc<AtomicU64>) {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = front.local_addr().unwrap();
    let dropped = Arc::new(AtomicU64::new(0));
    let client: Arc<tokio::sync::Mutex<Option<SocketAddr>>> = Default::default();
    {
        let (front, back, client, dropped) =
            (front.clone(), back.clone(), client.clone(), dropped.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let mut media = 0u64;
            while let Ok((n, from)) = front.recv_from(&mut buf).await {
                *client.lock().await = Some(from);
                let is_rtp =
                    n > 12 && (128..192).contains(&buf[0]) && !(64..96).contains(&(buf[1] & 0x7F));
                if is_rtp {
                    media += 1;
                    if media % drop_every == 0 {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                let _ = back.send_to(&buf[..n], sfu).await;
            }
        });
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, _)) = back.recv_from(&mut buf).await {
            if let Some(to) = *client.lock().await {
                let _ = front.send_to(&buf[..n], to).await;
            }
        }
    });
    (addr, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uplink_loss_is_repaired_by_nack_to_the_camera() {
    let (sfu, _events) = start_sfu().await;
    let (relay, dropped) = lossy_uplink(sfu.local_addr(), 50).await;
    let (mut camera, mut supporter) = camera_and_supporter(&sfu, Some(relay)).await;
    let units = h264_clip("640x480", 6, 15);
    let mut ts = 0u32;
    for unit in &units {
        camera.send_video_frame(unit, ts);
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(15)).await;
        supporter.pump(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        camera.pump(Duration::from_millis(20)).await;
        supporter.pump(Duration::from_millis(20)).await;
    }
    let lost = dropped.load(Ordering::Relaxed);
    assert!(lost >= 3, "the uplink dropped only {lost} packets");
    let video = supporter.video_packets();
    let first = video[0].header.sequence_number;
    let mut offsets: Vec<i32> = video
        .iter()
        .map(|p| i32::from(p.header.sequence_number.wrapping_sub(first) as i16))
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    let span = (offsets.last().unwrap() - offsets[0] + 1) as u32;
    let missing = span - offsets.len() as u32;
    assert_eq!(
        missing, 0,
        "{missing} of {span} packets lost on the uplink never reached the supporter"
    );
    let frames = decodable_frames(&video);
    assert!(
        frames as usize >= units.len() - 2,
        "decoded {frames} of {}",
        units.len()
    );
}
