//! A peer whose browser never connects (the tab closed between offer and ICE, a firewall
//! blocking UDP) is given up after the connect timeout: removed from the worker, counted down,
//! and reported as failed so the server frees what it held. Connected peers stay.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use remote_assist_sfu::{PeerId, PeerRole, PeerState, SfuConfig, SfuEvent, SfuHandle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_connects_is_removed_and_reported() {
    let (sfu, mut events) = SfuHandle::start(SfuConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertised_ip: None,
        connect_timeout: Duration::from_millis(1500),
        realtime_priority: remote_assist_sfu::DEFAULT_REALTIME_PRIORITY,
    })
    .unwrap();
    // One that connects and one that only ever sent its offer.
    let mut alive = join(&sfu, PeerId(1), PeerRole::Publisher, None).await;
    alive.connect().await;
    let mut ghost = TestPeer::new(PeerRole::Subscriber { slots: 1 }).await;
    let offer = ghost.offer();
    sfu.create_peer(PeerId(2), PeerRole::Subscriber { slots: 1 }, offer)
        .await
        .unwrap();
    assert_eq!(sfu.counters().peers.load(Ordering::Relaxed), 2);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failed = false;
    while Instant::now() < deadline && !failed {
        alive.pump(Duration::from_millis(50)).await;
        while let Ok(event) = events.try_recv() {
            if let SfuEvent::PeerState {
                peer: PeerId(2),
                state: PeerState::Failed,
            } = event
            {
                failed = true;
            }
        }
    }
    assert!(failed, "the abandoned peer was reported failed");
    assert_eq!(
        sfu.counters().peers.load(Ordering::Relaxed),
        1,
        "only the connected peer is left"
    );
    assert_eq!(sfu.counters().subscribers.load(Ordering::Relaxed), 0);
    assert!(alive.connected, "the connected peer is untouched");
}
