//! A camera that can only send VP8 is accepted: the supporter's slot carries VP8 with the
//! payload type negotiated on the supporter's connection, and the frames decode.

mod common;

use std::time::Duration;

use common::*;
use remote_assist_sfu::{PeerId, PeerRole};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp8_reaches_the_slot_decodable() {
    let (sfu, _events) = start_sfu().await;
    let mut camera = TestPeer::with_video(PeerRole::Publisher, VideoCodec::Vp8).await;
    let answer = sfu
        .create_peer(PeerId(1), PeerRole::Publisher, camera.offer())
        .await
        .unwrap();
    assert!(
        answer.contains("VP8/90000") && !answer.contains("H264/90000"),
        "{answer}"
    );
    camera.answer(&answer, None);
    let mut supporter = join(&sfu, PeerId(2), PeerRole::Subscriber { slots: 2 }, None).await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 1).await.unwrap();
    let frames = vp8_frames(3);
    assert!(frames.len() >= 40);
    let mut ts = 0u32;
    for frame in &frames {
        camera.send_vp8_frame(frame, ts);
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(10)).await;
        supporter.pump(Duration::from_millis(50)).await;
    }
    supporter.pump(Duration::from_millis(300)).await;
    let video = supporter.video_packets();
    assert!(!video.is_empty(), "VP8 was forwarded");
    let decoded = decodable_vp8_frames(&video);
    assert!(
        decoded as usize >= frames.len() - 2,
        "decoded {decoded} of {} VP8 frames",
        frames.len()
    );
}
