//! The whole per-packet path of the SFU worker, for counting instructions under callgrind: one
//! camera sends a real H.264 clip (and Opus) to one supporter through the worker (receive, SRTP
//! decrypt, the `rtc` pipeline, forwarding, SRTP encrypt, send), and the supporter checks that
//! every packet arrived.
//!
//! ```sh
//! cargo build --release -p remote-assist-sfu --example worker_path
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*Worker::serve_queued*' target/release/examples/worker_path 3000
//! ```
//!
//! Instructions collected divided by the datagrams the worker handled (printed at the end) is
//! the worker's own cost per datagram in user space; the kernel's (socket calls) is not counted.

use std::time::{Duration, Instant};

use remote_assist_sfu::test_client::{h264_clip, join, start_sfu};
use remote_assist_sfu::{PeerId, PeerRole};
use rtc::rtp::packetizer::Payloader;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let packets_wanted: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let (sfu, _events) = start_sfu().await;
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    let mut supporter = join(&sfu, PeerId(2), PeerRole::Subscriber { slots: 4 }, None).await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 0)
        .await
        .expect("the camera attaches");
    let mut payloader = rtc::rtp::codec::h264::H264Payloader::default();
    let frames: Vec<Vec<bytes::Bytes>> = h264_clip("640x480", 4, 60)
        .iter()
        .map(|unit| payloader.payload(1100, unit).expect("packetizes"))
        .collect();
    let counters = sfu.counters();
    let in_before = counters
        .packets_in
        .load(std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let (mut sent, mut frame, mut ts) = (0usize, 0usize, 0u32);
    while sent < packets_wanted {
        let payloads = frames[frame % frames.len()].clone();
        sent += payloads.len() + 1;
        camera.send_h264_payloads(payloads, ts);
        camera.send_audio_packet(ts);
        frame += 1;
        ts = ts.wrapping_add(3000);
        // Paced a little, so that the worker's socket never overflows.
        supporter.pump(Duration::from_millis(2)).await;
        camera.pump(Duration::from_millis(1)).await;
    }
    supporter.pump(Duration::from_millis(300)).await;
    let received = supporter.received.rtp.len();
    let handled = counters
        .packets_in
        .load(std::sync::atomic::Ordering::Relaxed)
        - in_before;
    println!(
        "sent {sent} RTP packets, the supporter received {received}; the worker handled {handled} \
         datagrams in {:?}",
        started.elapsed()
    );
    assert!(
        received * 100 >= sent * 99,
        "only {received} of {sent} packets arrived"
    );
}
