//! A camera that only sends VP8 (some Android browsers, a WHIP encoder) is recorded too: to
//! WebM, listed as such, downloaded as `video/webm`, and finalized when the session ends so a
//! player knows its duration and can seek (a seek index), with its integrity hash matching.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::live::*;
use common::*;
use http_body_util::BodyExt;
use remote_assist_sfu::PeerRole;
use remote_assist_sfu::test_client::{TestPeer, VideoCodec, vp8_frames};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vp8_camera_gets_a_seekable_webm_recording() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (device, credential) = paired_device(&app, world.group_a, "vp8-cam").await;
    let mut cam = TestPeer::with_video(PeerRole::Publisher, VideoCodec::Vp8).await;
    let offer = cam.offer();
    let url = format!("https://127.0.0.1:{}/whip/{device}", addr.port());
    let answer = tokio::task::spawn_blocking(move || whip_post(&url, &credential, &offer))
        .await
        .unwrap();
    cam.answer(&answer, None);
    cam.connect().await;
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
    next_of(&mut ws, "camera_added").await;

    let frames = vp8_frames(5);
    let (mut ts, mut audio_ts, mut next) = (0u32, 0u32, 0usize);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        cam.send_vp8_frame(&frames[next % frames.len()], ts);
        next += 1;
        ts = ts.wrapping_add(6000);
        for _ in 0..3 {
            cam.send_audio_packet(audio_ts);
            audio_ts = audio_ts.wrapping_add(960);
        }
        sup.pump(Duration::from_millis(35)).await;
        cam.pump(Duration::from_millis(30)).await;
    }
    send(
        &mut ws,
        json!({"type": "disconnect_camera", "device_id": device}),
    )
    .await;
    next_of(&mut ws, "camera_removed").await;

    let owner = app.login_as(&world.supporter_a).await;
    let mut recording = serde_json::Value::Null;
    for _ in 0..300 {
        let (_, body) = app.get("/api/recordings", &owner).await;
        if body["recordings"][0]["state"] != "recording" {
            recording = body["recordings"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first time it is listed complete it is already the finalized file: no one can play
    // or download the streamed one that is about to be deleted.
    assert_eq!(recording["state"], "complete", "{recording}");
    let row = app
        .db
        .recording(recording["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(row.object_key.ends_with(".final.enc"), "{}", row.object_key);
    assert_eq!(row.plaintext_bytes, recording["size"].as_i64().unwrap());
    assert_eq!(recording["container"], "webm", "{recording}");
    let id = recording["id"].as_str().unwrap().to_owned();
    let request = Request::builder()
        .uri(format!("/api/recordings/{id}/file"))
        .header(header::HOST, HOST)
        .header(header::COOKIE, &owner.cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "video/webm");
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .ends_with(".webm\"")
    );
    let webm = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(webm.len() as i64, recording["size"].as_i64().unwrap());
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&webm)),
        recording["sha256"].as_str().unwrap(),
        "the listed hash is the finalized file's"
    );
    let (status, verified) = app
        .post(&format!("/api/recordings/{id}/verify"), json!({}), &owner)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verified["ok"], true, "{verified}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("download.webm");
    std::fs::write(&path, &webm).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .args([
            "stream=codec_name,nb_read_frames:format=duration",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(info["streams"][0]["codec_name"], "vp8", "{info}");
    let decoded: u64 = info["streams"][0]["nb_read_frames"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(decoded >= 30, "{decoded} frames decode");
    let duration: f64 = info["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        duration > 3.0 && duration < 7.0,
        "a known duration: {duration}"
    );
    assert!(
        webm.windows(4).any(|w| w == [0x1C, 0x53, 0xBB, 0x6B]),
        "a seek index"
    );
    // The streamed version is gone from the store once the finalized one took its place.
    let row = app
        .db
        .recording(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let streamed_key = row.object_key.replace(".final.enc", ".enc");
    let mut gone = false;
    for _ in 0..50 {
        if app.state.store.size(&streamed_key).await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the streamed object was removed");
}
