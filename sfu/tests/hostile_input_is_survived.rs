//! Garbage on the media port, STUN with unknown usernames, RTP for unknown SSRCs and mangled SDP
//! offers are dropped or refused with a clear error; the SFU keeps forwarding for everyone else.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use remote_assist_sfu::{PeerId, PeerRole, SfuError};
use tokio::net::UdpSocket;

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_do_not_disturb_a_running_session() {
    let (sfu, _events) = start_sfu().await;
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    let mut supporter = join(&sfu, PeerId(2), PeerRole::Subscriber { slots: 1 }, None).await;
    camera.connect().await;
    supporter.connect().await;
    sfu.attach(PeerId(1), PeerId(2), 0).await.unwrap();
    let units = h264_access_units(3, 15);

    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = sfu.local_addr();
    let mut rng = Rng(0x5eed);
    let dropped_before = sfu.counters().dropped_datagrams.load(Ordering::Relaxed);
    let mut ts = 0u32;
    for (i, unit) in units.iter().enumerate() {
        // Between frames: random bytes, a STUN binding request with an unknown username, an
        // RTP header with a random SSRC, an empty datagram and an oversized one.
        let len = 1 + (rng.next() % 1400) as usize;
        let random = rng.bytes(len);
        attacker.send_to(&random, target).await.unwrap();
        let mut stun = vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xA4, 0x42];
        stun.extend_from_slice(&rng.bytes(12));
        stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
        stun.extend_from_slice(b"nope:nope\0\0\0");
        attacker.send_to(&stun, target).await.unwrap();
        let mut rtp = vec![0x80, 102];
        rtp.extend_from_slice(&rng.bytes(10 + i % 200));
        attacker.send_to(&rtp, target).await.unwrap();
        attacker.send_to(&[], target).await.unwrap();
        attacker.send_to(&rng.bytes(4000), target).await.unwrap();
        camera.send_video_frame(unit, ts);
        ts = ts.wrapping_add(6000);
        camera.pump(Duration::from_millis(10)).await;
        supporter.pump(Duration::from_millis(40)).await;
    }
    supporter.pump(Duration::from_millis(500)).await;
    let dropped = sfu.counters().dropped_datagrams.load(Ordering::Relaxed) - dropped_before;
    assert!(
        dropped >= units.len() as u64 * 3,
        "garbage was counted as dropped: {dropped}"
    );
    let frames = decodable_frames(&supporter.video_packets());
    assert!(
        frames as usize >= units.len() - 3,
        "the session kept flowing: {frames} frames"
    );
}

#[tokio::test]
async fn mangled_offers_are_refused_with_a_reason() {
    let (sfu, _events) = start_sfu().await;
    let mut peer = TestPeer::new(PeerRole::Publisher).await;
    let offer = peer.offer();
    let mut rng = Rng(42);
    let lines: Vec<&str> = offer.lines().collect();
    let mut refused = 0;
    for round in 0..300u64 {
        // Drop, duplicate, truncate or corrupt random lines of a real offer.
        let mut mangled: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % mangled.len();
            match rng.next() % 4 {
                0 => {
                    mangled.remove(at);
                }
                1 => {
                    let copy = mangled[at].clone();
                    mangled.insert(at, copy);
                }
                2 => {
                    let cut = mangled[at].len() / 2;
                    mangled[at].truncate(cut);
                }
                _ => {
                    let garbage = String::from_utf8_lossy(&rng.bytes(12)).into_owned();
                    mangled[at].push_str(&garbage);
                }
            }
        }
        let sdp = mangled.join("\r\n") + "\r\n";
        match sfu
            .create_peer(PeerId(1000 + round), PeerRole::Publisher, sdp)
            .await
        {
            Ok(_) => {
                let _ = sfu.remove_peer(PeerId(1000 + round)).await;
            }
            Err(SfuError::BadOffer(reason) | SfuError::NoSupportedCodec(reason)) => {
                assert!(!reason.is_empty());
                refused += 1;
            }
            Err(other) => panic!("unexpected error for a mangled offer: {other}"),
        }
    }
    assert!(refused > 50, "most mangled offers are refused ({refused})");
    // An offer with no supported codec.
    let audio_only = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:45 AV1/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 3B:2A:8C:16:5D:3A:11:73:9E:44:C2:1F:0B:AE:5F:67:99:20:D4:8E:71:0C:62:AB:CC:19:E1:37:58:4D:02:F6\r\na=setup:actpass\r\na=rtcp-mux\r\n";
    let result = sfu
        .create_peer(PeerId(5000), PeerRole::Publisher, audio_only.into())
        .await;
    assert!(
        matches!(
            result,
            Err(SfuError::NoSupportedCodec(_) | SfuError::BadOffer(_))
        ),
        "{result:?}"
    );
    // The SFU still works after all that.
    let mut camera = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    camera.connect().await;
}
