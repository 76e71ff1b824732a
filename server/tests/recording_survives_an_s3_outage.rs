//! The S3 server goes away for 30 seconds in the middle of a recording: nothing is lost. The
//! spool keeps on disk what could not be uploaded and its uploader retries, so the object that
//! finally lands in S3 holds every frame. Uses its own s3s-fs instance (installed by tests/run)
//! so it can stop and start it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use remote_assist::recording::{RecordingMeta, RecordingService, Settings};
use remote_assist::storage::crypto::{WrappedKey, decrypt_object};
use remote_assist::storage::objects::ObjectStore;
use remote_assist::storage::s3::{S3Settings, S3Store};
use remote_assist::storage::spool::SpooledS3;
use remote_assist_sfu::record::{Recorder, Stream};
use remote_assist_sfu::test_client::{h264_clip_cbr, h264_rtp};
use remote_assist_sfu::{RecordingEvent, RecordingKey};

fn s3s_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var("REMOTE_ASSIST_TEST_S3S_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cargo/bin/s3s-fs")
        });
    path.is_file().then_some(path)
}

/// The S3 server process, stopped when dropped (also when the test fails half-way).
struct S3Server(Child);

impl S3Server {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_s3(bin: &std::path::Path, dir: &std::path::Path, port: u16) -> S3Server {
    S3Server(
        Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--access-key",
                "OUTAGEKEY",
                "--secret-key",
                "OUTAGESECRET123",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_port(port: u16, open: bool) {
    for _ in 0..100 {
        let up = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        if up == open {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "port {port} did not become {}",
        if open { "open" } else { "closed" }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thirty_second_outage_loses_nothing() {
    let Some(bin) = s3s_binary() else {
        eprintln!("s3s-fs not installed (tests/run installs it): outage test skipped");
        return;
    };
    let app = TestApp::new().await;
    let world = app.seed().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("outage")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = start_s3(&bin, dir.path(), port);
    wait_port(port, true).await;
    let spool_dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::S3(SpooledS3::open(
        spool_dir.path(),
        S3Store::connect(&S3Settings {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: "us-east-1".into(),
            bucket: "outage".into(),
            path_style: true,
            access_key: Some("OUTAGEKEY".into()),
            secret_key: Some(remote_assist::config::Secret::new("OUTAGESECRET123")),
            prefix: String::new(),
        })
        .await,
    ));
    let ObjectStore::S3(spool) = &store else {
        unreachable!()
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    let service = RecordingService::start(
        Settings {
            db: app.db.clone(),
            clock: app.state.clock.clone(),
            keyring: app.state.keyring.clone(),
            store: store.clone(),
            retention_days: 30,
            journal_dir: dir.path().join("journal"),
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
                session_id: "outage-session".into(),
            },
        )
        .await
        .unwrap();

    // About 22 MB of real H.264 (a 10 s clip at 6 Mbit/s, three times over), so that
    // multipart parts of 5 MiB are due before, during and after the outage.
    let clip = h264_clip_cbr("640x480", 10, 30, 6000);
    let start = Instant::now();
    let mut recorder = Recorder::new(start);
    let mut packets = Vec::new();
    for round in 0..3u32 {
        packets.extend(h264_rtp(
            &clip,
            5,
            (round as u16).wrapping_mul(20_000),
            round * 900_000,
        ));
    }
    let third = packets.len() / 3;
    let mut sent = 0usize;
    let feed = |recorder: &mut Recorder, packets: &[_], from: usize, to: usize| {
        let mut out = Vec::new();
        for (i, packet) in packets[from..to].iter().enumerate() {
            recorder.push(
                Stream::CameraVideo,
                packet,
                start + Duration::from_millis((from + i) as u64),
            );
            while let Some(bytes) = recorder.poll_output() {
                out.push(bytes);
            }
        }
        out
    };
    for bytes in feed(&mut recorder, &packets, 0, third) {
        tx.send(RecordingEvent::Data {
            recording: key,
            bytes,
        })
        .await
        .unwrap();
        sent += 1;
    }
    // The store goes away for 30 seconds while the recording goes on.
    server.stop();
    wait_port(port, false).await;
    for bytes in feed(&mut recorder, &packets, third, 2 * third) {
        tx.send(RecordingEvent::Data {
            recording: key,
            bytes,
        })
        .await
        .unwrap();
        sent += 1;
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Meanwhile everything written is on local disk, waiting.
    assert!(
        !spool.spooled_keys().is_empty(),
        "the spool holds the recording during the outage"
    );
    let mut server = start_s3(&bin, dir.path(), port);
    wait_port(port, true).await;
    for bytes in feed(&mut recorder, &packets, 2 * third, packets.len()) {
        tx.send(RecordingEvent::Data {
            recording: key,
            bytes,
        })
        .await
        .unwrap();
        sent += 1;
    }
    recorder.finish();
    while let Some(bytes) = recorder.poll_output() {
        tx.send(RecordingEvent::Data {
            recording: key,
            bytes,
        })
        .await
        .unwrap();
    }
    let stats = recorder.stats();
    tx.send(RecordingEvent::Finished {
        recording: key,
        stats,
    })
    .await
    .unwrap();
    assert!(sent > 10);

    let mut row = app.db.recording(id).await.unwrap().unwrap();
    for _ in 0..200 {
        if row.state != "recording" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        row = app.db.recording(id).await.unwrap().unwrap();
    }
    assert_eq!(row.state, "complete", "finished after the outage");
    // The uploader gets everything into S3 and only then empties the spool.
    assert!(
        spool.drained(Duration::from_secs(120)).await,
        "the spool was uploaded"
    );
    assert!(spool.spooled_keys().is_empty(), "nothing left in the spool");
    // Every byte made it to S3 itself: decrypt the whole object and count the frames.
    let size = spool.s3().size(&row.object_key).await.unwrap();
    assert_eq!(size as i64, row.stored_bytes);
    let object = spool
        .s3()
        .read_range(&row.object_key, 0..size)
        .await
        .unwrap();
    use base64::Engine;
    let data_key = app
        .state
        .keyring
        .unwrap(
            &WrappedKey {
                key_id: row.key_id.clone(),
                blob: base64::engine::general_purpose::STANDARD
                    .decode(&row.wrapped_key)
                    .unwrap(),
            },
            &id.to_string(),
        )
        .unwrap();
    let mp4 = decrypt_object(&data_key, &id.to_string(), &object).unwrap();
    assert_eq!(mp4.len() as i64, row.plaintext_bytes);
    let path = dir.path().join("after-outage.mp4");
    std::fs::write(&path, &mp4).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    let frames: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(frames, stats.video_frames, "no frame lost to the outage");
    assert!(
        mp4.len() > 15 * 1024 * 1024,
        "several multipart parts were exercised: {}",
        mp4.len()
    );
    server.stop();
}
