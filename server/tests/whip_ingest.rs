//! WHIP (RFC 9725) ingest: a device credential publishes an SDP offer shaped like OBS's and the
//! device becomes an online camera of its group; wrong credentials, other devices' paths and
//! garbage SDP are refused with clear errors; DELETE ends it.

mod common;

use std::process::Command;

use common::*;
use remote_assist::ids::{DeviceId, GroupId};

const OFFER: &str = include_str!("fixtures/whip-offer.sdp");

async fn paired(app: &TestApp, group: GroupId, name: &str) -> (DeviceId, String) {
    let credential = remote_assist::auth::tokens::new_device_credential();
    let code = remote_assist::auth::tokens::sha256_hex(name);
    let id = app
        .db
        .create_device(group, name, &code, i64::MAX / 4, START)
        .await
        .unwrap();
    app.db
        .redeem_pairing_code(
            &code,
            &remote_assist::auth::tokens::sha256_hex(&credential),
            START,
        )
        .await
        .unwrap();
    (id, credential)
}

/// `curl -i` with the body from stdin; returns (status, headers+body text). It blocks, so the
/// runtime is told: the server under test keeps both its worker threads' worth of work moving.
fn curl(args: &[&str], body: &str) -> (u16, String) {
    tokio::task::block_in_place(|| blocking_curl(args, body))
}

fn blocking_curl(args: &[&str], body: &str) -> (u16, String) {
    use std::io::Write;
    let mut child = Command::new("curl")
        .args(["-sk", "-i", "--max-time", "15"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whip_publisher_becomes_a_camera_of_its_group() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (id, credential) = paired(&app, world.group_a, "drone").await;
    let (other, _) = paired(&app, world.group_a, "other").await;
    let url = |device: DeviceId| format!("https://127.0.0.1:{}/whip/{device}", addr.port());
    let auth = format!("Authorization: Bearer {credential}");
    let sdp = "Content-Type: application/sdp";

    let (status, text) = curl(
        &["-X", "POST", "-H", sdp, "--data-binary", "@-", &url(id)],
        OFFER,
    );
    assert_eq!(status, 401, "no credential: {text}");
    let (status, _) = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Authorization: Bearer radev_forged",
            "-H",
            sdp,
            "--data-binary",
            "@-",
            &url(id),
        ],
        OFFER,
    );
    assert_eq!(status, 401, "forged credential");
    let (status, _) = curl(
        &[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            sdp,
            "--data-binary",
            "@-",
            &url(other),
        ],
        OFFER,
    );
    assert_eq!(status, 403, "a credential publishes only as its own device");
    let (status, text) = curl(
        &[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            sdp,
            "--data-binary",
            "@-",
            &url(id),
        ],
        "garbage",
    );
    assert_eq!(status, 400, "{text}");
    let (status, _) = curl(
        &[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "@-",
            &url(id),
        ],
        OFFER,
    );
    assert_eq!(status, 415);

    let (status, text) = curl(
        &[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            sdp,
            "--data-binary",
            "@-",
            &url(id),
        ],
        OFFER,
    );
    assert_eq!(status, 201, "{text}");
    assert!(
        text.to_lowercase()
            .contains("content-type: application/sdp")
    );
    assert!(
        text.contains("a=rtpmap:102 H264/90000"),
        "H.264 accepted: {text}"
    );
    assert!(text.contains("a=ice-lite"), "{text}");
    assert!(
        text.contains("127.0.0.1"),
        "host candidate on loopback: {text}"
    );
    let location = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .expect("a Location header")
        .trim()
        .to_owned();
    assert!(location.starts_with(&format!("/whip/{id}/")));

    // The supporter sees it online, like any camera of the group.
    let presence = wait_presence(&app, world.group_a, id, true).await;
    assert!(presence, "WHIP camera listed online");

    let delete = format!("https://127.0.0.1:{}{location}", addr.port());
    let (status, _) = curl(&["-X", "DELETE", "-H", &auth, &delete], "");
    assert_eq!(status, 200);
    assert!(
        wait_presence(&app, world.group_a, id, false).await,
        "offline after DELETE"
    );
    // ...and its media peer is gone from the media worker.
    let peers = &app.state.live.sfu.counters().peers;
    let mut left = u64::MAX;
    for _ in 0..50 {
        left = peers.load(std::sync::atomic::Ordering::Relaxed);
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "no media peer left after DELETE");
}

/// Polls the hub (through a supporter-less path: the live device map) for a camera's state.
async fn wait_presence(app: &TestApp, _group: GroupId, device: DeviceId, online: bool) -> bool {
    for _ in 0..50 {
        if app.state.live.is_online(device).await == online {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
