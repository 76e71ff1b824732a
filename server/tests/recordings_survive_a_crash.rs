//! A server killed in the middle of a recording loses at most the last unsealed chunk: on the
//! next start the recording is finished from what was stored (a half-written chunk is dropped),
//! listed for its participant, and plays up to its last stored fragment. With S3 the same holds:
//! the spool the dead process left is finished and uploaded by the next one.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use remote_assist::recording::{RecordingMeta, RecordingService, Settings};
use remote_assist::storage::objects::ObjectStore;
use remote_assist_sfu::record::{Recorder, Stream};
use remote_assist_sfu::test_client::{h264_clip, h264_rtp};
use remote_assist_sfu::{RecordingEvent, RecordingKey};

#[tokio::test]
async fn an_interrupted_recording_is_finished_on_the_next_start() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let service = RecordingService::start(
        Settings {
            db: app.db.clone(),
            clock: app.state.clock.clone(),
            keyring: app.state.keyring.clone(),
            store: app.state.store.clone(),
            retention_days: 30,
            journal_dir: app.state.config.journal_dir(),
        },
        rx,
    );
    let key = RecordingKey(1);
    let id = service
        .begin(
            key,
            RecordingMeta {
                group_id: world.group_a,
                device_id: remote_assist::ids::DeviceId::new_random(),
                device_name: "phone".into(),
                participants: vec![world.supporter_a.id],
                session_id: "crash-session".into(),
            },
        )
        .await
        .expect("recording created");
    // Six seconds of real H.264 go through the muxer and the writer...
    let start = Instant::now();
    let mut recorder = Recorder::new(start);
    let mut handed_over = Vec::new();
    for (i, packet) in h264_rtp(&h264_clip("640x480", 6, 15), 5, 100, 1000)
        .iter()
        .enumerate()
    {
        recorder.push(
            Stream::CameraVideo,
            packet,
            start + Duration::from_millis(i as u64 * 10),
        );
        while let Some(bytes) = recorder.poll_output() {
            handed_over.extend_from_slice(&bytes);
            tx.send(RecordingEvent::Data {
                recording: key,
                bytes,
            })
            .await
            .unwrap();
        }
    }
    // ...and the process dies: no `Finished`. The writer takes what was already queued (a
    // crash after those writes; nothing of it may still be appending when the crash's torn
    // chunk is added below), then is gone.
    drop(tx);
    service.stopped().await;
    drop(service);
    let row = app.db.recording(id).await.unwrap().unwrap();
    assert_eq!(row.state, "recording");
    assert!(row.stored_bytes > 0, "chunks were stored while recording");
    // The crash also left half a chunk at the end of the object.
    app.state
        .store
        .append(&row.object_key, &[0xAB; 1000])
        .await
        .unwrap();
    // The dead process's uploads stop with it; the next start opens the spool it left.
    let store = match &app.state.store {
        ObjectStore::S3(spool) => {
            spool.halt();
            ObjectStore::S3(remote_assist::storage::spool::SpooledS3::open(
                spool.dir(),
                spool.s3().clone(),
            ))
        }
        local => local.clone(),
    };

    // Next start.
    let recovered = remote_assist::recording::recover(
        &app.db,
        app.state.clock.as_ref(),
        &app.state.keyring,
        &store,
        &app.state.config.journal_dir(),
    )
    .await;
    store.resume_uploads();
    let row = app.db.recording(id).await.unwrap().unwrap();
    assert_eq!(recovered, 1);
    assert_eq!(row.state, "complete");
    assert!(row.sha256.is_some());

    assert!(
        row.ended_at.unwrap() < app.now() + 1,
        "ended when its last bytes were written"
    );
    if let ObjectStore::S3(spool) = &store {
        assert!(
            spool.drained(Duration::from_secs(60)).await,
            "the next start uploads what the spool held"
        );
        let in_s3 = spool.s3().size(&row.object_key).await.unwrap();
        assert_eq!(
            in_s3 as i64, row.stored_bytes,
            "the whole recording is in S3"
        );
    }

    let owner = app.login_as(&world.supporter_a).await;
    let (_, list) = app.get("/api/recordings", &owner).await;
    assert_eq!(list["recordings"][0]["state"], "complete", "{list}");
    let request = Request::builder()
        .uri(format!("/api/recordings/{id}/file"))
        .header(header::HOST, HOST)
        .header(header::COOKIE, &owner.cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mp4 = response.into_body().collect().await.unwrap().to_bytes();
    // Every byte the writer was handed survives, including the part not yet sealed into a
    // whole chunk (it was in the tail journal).
    assert_eq!(
        mp4.len(),
        handed_over.len(),
        "nothing handed to the writer is lost"
    );
    assert!(
        mp4 == handed_over,
        "the recovered content is exactly what was written"
    );
    assert!(
        !app.state
            .config
            .journal_dir()
            .join(format!("{}.tail", row.object_key))
            .exists(),
        "the journal is gone once used"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recovered.mp4");
    std::fs::write(&path, &mp4).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("h264,"), "{text}");
    let frames: u64 = text.trim().rsplit(',').next().unwrap().parse().unwrap();
    assert!(
        frames >= 15,
        "plays up to the last stored fragment: {frames} frames"
    );
}
