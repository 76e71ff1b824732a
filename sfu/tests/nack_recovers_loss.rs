//! With 2 % of the SFU's packets to a subscriber lost on the way, NACK retransmission from the
//! SFU's send buffer fills the gaps: the subscriber ends up with every packet and decodes every
//! frame.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use remote_assist_sfu::{PeerId, PeerRole};
use tokio::net::UdpSocket;

/// A UDP relay between a client and the SFU that drops a fraction of the SFU's RTP (media
/// datagrams only, never STUN/DTLS, which would just delay the start).
async fn lossy_relay(sfu: SocketAddr, drop_every: u64) -> (SocketAddr, Arc<AtomicU64>) {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = front.local_addr().unwrap();
    let dropped = Arc::new(AtomicU64::new(0));
    let client: Arc<tokio::sync::Mutex<Option<SocketAddr>>> = Default::default();
    {
        let (front, back, client) = (front.clone(), back.clone(), client.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = front.recv_from(&mut buf).await {
                *client.lock().await = Some(from);
                let _ = back.send_to(&buf[..n], sfu).await;
            }
        });
    }
    {
        let dropped = dropped.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let mut media = 0u64;
            while let Ok((n, _)) = back.recv_from(&mut buf).await {
                // RTP (not RTCP): first byte 128..191, payload type outside 64..95.
                let is_rtp =
                    n > 12 && (128..192).contains(&buf[0]) && !(64..96).contains(&(buf[1] & 0x7F));
                if is_rtp {
                    media += 1;
                    if media % drop_every == 0 {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                if let Some(to) = *client.lock().await {
                    let _ = front.send_to(&buf[..n], to).await;
                }
            }
        });
    }
    (addr, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_percent_loss_is_repaired_by_nack() {
    let (sfu, _events) = start_sfu().await;
    let (relay, dropped) = lossy_relay(sfu.local_addr(), 50).await;
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    let mut supporter = join(
        &sfu,
        PeerId(2),
        PeerRole::Subscriber { slots: 1 },
        Some(relay),
    )
    .await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 0).await.unwrap();

    let units = h264_clip("640x480", 6, 15);
    let mut ts = 0u32;
    for unit in &units {
        camera.send_video_frame(unit, ts);
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(15)).await;
        supporter.pump(Duration::from_millis(50)).await;
    }
    // Let the last retransmissions arrive.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        camera.pump(Duration::from_millis(20)).await;
        supporter.pump(Duration::from_millis(20)).await;
    }
    let lost = dropped.load(Ordering::Relaxed);
    assert!(
        lost >= 3,
        "the relay dropped only {lost} packets; loss was not exercised"
    );
    let video = supporter.video_packets();
    // The SFU's outgoing sequence numbers start at a random value and may wrap past 65535 during
    // the clip, so compare them as signed distances from the first one received rather than as
    // raw u16 values.
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
        "{missing} of {span} packets never arrived despite NACK"
    );
    assert!(
        sfu.counters().nacks_received.load(Ordering::Relaxed) > 0,
        "no NACK reached the SFU"
    );
    let frames = decodable_frames(&video);
    assert!(
        frames as usize >= units.len() - 2,
        "decoded {frames} of {} frames",
        units.len()
    );
}
