//! SDP offers, the one piece of a peer's signaling the media plane parses: through the SFU's
//! public API (a real worker on a loopback port), any text as a camera's or a supporter's offer
//! is answered or refused with a reason, and the worker stays alive for the next one.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use remote_assist_sfu::{PeerId, PeerRole, SfuConfig, SfuError, SfuHandle};

struct Harness {
    runtime: tokio::runtime::Runtime,
    sfu: SfuHandle,
    /// Kept open so the worker's events have somewhere to go.
    _events: tokio::sync::mpsc::Receiver<remote_assist_sfu::SfuEvent>,
    next_peer: std::sync::atomic::AtomicU64,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (sfu, events) = runtime.block_on(async {
            SfuHandle::start(SfuConfig {
                bind: "127.0.0.1:0".parse().expect("an address"),
                advertised_ip: None,
                connect_timeout: std::time::Duration::from_secs(30),
                // Normal scheduling: the fuzzer measures coverage, not latency, and a
                // real-time worker would only take turns from the fuzzing thread.
                realtime_priority: 0,
            })
            .expect("the SFU starts")
        });
        Harness {
            runtime,
            sfu,
            _events: events,
            next_peer: std::sync::atomic::AtomicU64::new(1),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(offer) = std::str::from_utf8(rest) else {
        return;
    };
    let h = harness();
    let role = match selector % 3 {
        0 => PeerRole::Publisher,
        n => PeerRole::Subscriber {
            slots: u32::from(n) * 2,
        },
    };
    let peer = PeerId(
        h.next_peer
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    );
    h.runtime.block_on(async {
        match h.sfu.create_peer(peer, role, offer.to_owned()).await {
            Ok(answer) => {
                assert!(answer.starts_with("v=0"), "an answer is SDP");
                h.sfu.remove_peer(peer).await.expect("the peer is removed");
            }
            Err(SfuError::BadOffer(reason) | SfuError::NoSupportedCodec(reason)) => {
                assert!(!reason.is_empty(), "a refusal says why");
            }
            Err(other) => panic!("an offer ended in {other:?}, not a refusal"),
        }
    });
});
