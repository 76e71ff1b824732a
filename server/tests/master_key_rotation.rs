//! Rotating the master key: the new key wraps new data keys, the old one (listed in
//! `previous_master_keys`) still unwraps old ones, and `remote-assist admin rewrap-keys` moves
//! every stored data key to the new master key without touching the content, after which the
//! old master key is no longer needed. Without the old key, rewrapping refuses with a fix.

mod common;

use std::process::Command;

use common::*;
use remote_assist::storage::crypto::{Keyring, MasterKey};

fn rewrap(app: &TestApp, envs: &[(&str, String)]) -> (bool, String) {
    let config = &app.state.config;
    let mut command = Command::new(env!("CARGO_BIN_EXE_remote-assist"));
    command
        .arg("--data-dir")
        .arg(&config.data_dir)
        .args(["--database-url", app.db_url.expose()])
        .env_remove("RA_OBJECT_STORE")
        .args(["admin", "rewrap-keys"]);
    for (key, value) in envs {
        command.env(key, value);
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
async fn rewrapping_moves_every_key_to_the_new_master_key() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let id = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    // A user's TOTP secret is wrapped by the master key too, and moves with the rest.
    let totp_secret = app.enrol_totp(world.supporter_b.id).await;
    // So is a group's SSO client secret.
    app.seed_sso_settings(world.group_a).await;
    let old_file = app.state.config.master_key_file();
    let dir = tempfile::tempdir().unwrap();
    let new_key = MasterKey::generate("k2");
    let new_file = dir.path().join("k2.hex");
    std::fs::write(&new_file, new_key.to_hex().as_bytes()).unwrap();
    let rotated = [
        ("RA_MASTER_KEY_FILE", new_file.display().to_string()),
        ("RA_MASTER_KEY_ID", "k2".to_owned()),
    ];

    // Without the old master key, nothing can be re-wrapped: refused with the fix.
    let (ok, out) = rewrap(&app, &rotated);
    assert!(!ok, "{out}");
    assert!(out.contains("previous_master_keys"), "{out}");
    assert_eq!(app.db.recording(id).await.unwrap().unwrap().key_id, "k1");

    // A malformed entry stops at the configuration, naming it.
    let mut bad = rotated.to_vec();
    bad.push(("RA_PREVIOUS_MASTER_KEYS", r#"["k1"]"#.to_owned()));
    let (ok, out) = rewrap(&app, &bad);
    assert!(!ok && out.contains("ID:PATH"), "{out}");

    let mut with_old = rotated.to_vec();
    with_old.push((
        "RA_PREVIOUS_MASTER_KEYS",
        format!(r#"["k1:{}"]"#, old_file.display()),
    ));
    let (ok, out) = rewrap(&app, &with_old);
    assert!(ok, "{out}");
    assert!(
        out.contains("re-wrapped 3 keys with master key k2"),
        "{out}"
    );
    let row = app.db.recording(id).await.unwrap().unwrap();
    assert_eq!(row.key_id, "k2");
    // The new master key alone now opens the recording; the content is what it was.
    let only_new = Keyring::new(new_key, Vec::new());
    let content = remote_assist::storage::read_sealed(
        &only_new,
        &app.state.store,
        &row.object_key,
        &row.key_id,
        &row.wrapped_key,
        &id.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(content, vec![7u8; 150_000]);
    let stored = app
        .db
        .totp_secret(world.supporter_b.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.key_id, "k2");
    let unwrapped = remote_assist::storage::unwrap_key(
        &only_new,
        &stored.key_id,
        &stored.wrapped,
        &world.supporter_b.id.to_string(),
    )
    .unwrap();
    assert_eq!(unwrapped.expose(), &totp_secret);
    let sso = app.db.group_sso(world.group_a).await.unwrap().unwrap();
    assert_eq!(sso.secret_key_id, "k2");
    let client_secret = remote_assist::storage::open_secret(
        &only_new,
        &sso.secret_key_id,
        &sso.secret_wrapped_key,
        &world.group_a.to_string(),
        &sso.client_secret,
    )
    .unwrap();
    assert_eq!(client_secret, b"secret");
    // Nothing left to do on a second run; the rewrap is in the audit log.
    let (ok, out) = rewrap(&app, &with_old);
    assert!(ok && out.contains("re-wrapped 0 keys"), "{out}");
    let events = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some("keys.rewrap".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3);

    // The master key can also come from the environment (a secrets manager), not a file.
    let env_key = MasterKey::generate("k3");
    let (ok, out) = rewrap(
        &app,
        &[
            ("RA_MASTER_KEY", env_key.to_hex().to_string()),
            ("RA_MASTER_KEY_ID", "k3".to_owned()),
            (
                "RA_PREVIOUS_MASTER_KEYS",
                format!(r#"["k2:{}"]"#, new_file.display()),
            ),
        ],
    );
    assert!(
        ok && out.contains("re-wrapped 3 keys with master key k3"),
        "{out}"
    );
    assert!(
        !out.contains(env_key.to_hex().as_str()),
        "the key is never printed"
    );
    let row = app.db.recording(id).await.unwrap().unwrap();
    let content = remote_assist::storage::read_sealed(
        &Keyring::new(env_key, Vec::new()),
        &app.state.store,
        &row.object_key,
        &row.key_id,
        &row.wrapped_key,
        &id.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(content.len(), 150_000);
}
