//! The SHA-256 stored with every recording can be re-checked at any time, by a participant
//! through the API and by an operator with `remote-assist admin verify-recording ID`; damage to
//! the stored object is reported, never silently accepted.

mod common;

use std::process::Command;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

fn cli_verify(app: &TestApp, id: uuid::Uuid) -> (bool, String) {
    let config = &app.state.config;
    let mut command = Command::new(env!("CARGO_BIN_EXE_remote-assist"));
    command
        .arg("--data-dir")
        .arg(&config.data_dir)
        .args(["--database-url", app.db_url.expose()])
        .env("RA_OBJECTS_DIR", config.objects_dir())
        .args(["admin", "verify-recording", &id.to_string()]);
    if config.object_store == remote_assist::config::ObjectStoreKind::S3 {
        command
            .env("RA_OBJECT_STORE", "s3")
            .env(
                "RA_S3_ENDPOINT",
                config.s3_endpoint.clone().unwrap_or_default(),
            )
            .env("RA_S3_REGION", &config.s3_region)
            .env("RA_S3_BUCKET", config.s3_bucket.clone().unwrap_or_default())
            .env("RA_S3_PATH_STYLE", "true")
            .env(
                "RA_S3_ACCESS_KEY",
                config.s3_access_key.clone().unwrap_or_default(),
            )
            .env(
                "RA_S3_SECRET_KEY",
                config
                    .s3_secret_key
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
            )
            .env("RA_S3_PREFIX", &config.s3_prefix);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn intact_recordings_verify_and_damaged_ones_do_not() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let id = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    let owner = app.login_as(&world.supporter_a).await;
    let path = format!("/api/recordings/{id}/verify");
    let (status, body) = app.post(&path, json!({}), &owner).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["sha256_actual"], body["sha256_expected"]);
    assert_eq!(body["size"], 150_000);
    let (ok, output) = cli_verify(&app, id);
    assert!(ok, "{output}");
    assert!(output.contains("\"ok\": true"), "{output}");

    // Only participants may ask.
    let colleague = app.login_as(&world.admin_a).await;
    let (status, _) = app
        .call(Method::POST, &path, Some(json!({})), Some(&colleague))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Damage the stored object (local store: the test can reach its bytes).
    if let remote_assist::storage::objects::ObjectStore::Local(local) = &app.state.store {
        let rec = app.db.recording(id).await.unwrap().unwrap();
        let file = local.root().join(&rec.object_key);
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[1000] ^= 0x01;
        std::fs::write(&file, &bytes).unwrap();
        let (status, body) = app.post(&path, json!({}), &owner).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["ok"], false);
        assert!(
            body["problem"].as_str().unwrap().contains("authentication"),
            "{body}"
        );
        let (ok, output) = cli_verify(&app, id);
        assert!(!ok, "the CLI exits non-zero: {output}");
        assert!(output.contains("failed verification"), "{output}");
    }
    // Every check is in the audit log.
    let admin = app.login_as(&world.admin_a).await;
    let (_, audit) = app.get("/api/audit?action=recording.verify", &admin).await;
    assert!(audit["events"].as_array().unwrap().len() >= 2, "{audit}");
}
