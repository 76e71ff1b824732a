//! Recordings are deleted automatically when their retention has passed (30 days by default),
//! with an injected clock rather than waiting: the key (crypto-shredding) and the object go, and
//! a deletion record remains as evidence; user deletions leave one too. Admins list and export
//! the records for their own group only.

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn expired_recordings_are_shredded_with_evidence() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let old = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    app.clock.advance_secs(10 * 86_400);
    let newer = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    let old_key = app.db.recording(old).await.unwrap().unwrap().object_key;

    // Day 29 after the first: nothing is due.
    app.clock.advance_secs(19 * 86_400);
    assert_eq!(remote_assist::retention::run_once(&app.state).await, 0);
    // Day 30 and a minute: the first goes, the second stays.
    app.clock.advance_secs(86_400 + 60);
    assert_eq!(remote_assist::retention::run_once(&app.state).await, 1);
    assert!(
        app.db.recording(old).await.unwrap().is_none(),
        "row and wrapped key gone"
    );
    assert!(app.state.store.size(&old_key).await.is_err(), "object gone");
    assert!(app.db.recording(newer).await.unwrap().is_some());
    let owner = app.login_as(&world.supporter_a).await;
    let (_, list) = app.get("/api/recordings", &owner).await;
    assert_eq!(list["recordings"].as_array().unwrap().len(), 1);

    // The owner deletes the other one themselves.
    let (status, _) = app
        .call(
            axum::http::Method::DELETE,
            &format!("/api/recordings/{newer}"),
            None,
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Evidence: both deletions, with hash, size, reason, time and actor.
    let admin = app.login_as(&world.admin_a).await;
    let (status, body) = app.get("/api/deletions", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let records = body["deletions"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{body}");
    let user = records.iter().find(|r| r["reason"] == "user").unwrap();
    assert_eq!(user["recording_id"], newer.to_string());
    assert_eq!(user["actor_label"], "supporter-a");
    let expired = records.iter().find(|r| r["reason"] == "retention").unwrap();
    assert_eq!(expired["recording_id"], old.to_string());
    assert_eq!(expired["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(expired["size"], 150_000);
    assert_eq!(expired["actor_kind"], "system");
    // Group B's admin sees none of group A's; a supporter sees nothing.
    let admin_b = app.login_as(&world.admin_b).await;
    let (_, other) = app.get("/api/deletions", &admin_b).await;
    assert_eq!(other["deletions"].as_array().unwrap().len(), 0);
    let (status, _) = app
        .get(
            &format!("/api/deletions?group_id={}", world.group_a),
            &admin_b,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/deletions", &owner).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The audit log shows the expiry.
    let (_, audit) = app.get("/api/audit?action=recording.expire", &admin).await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
}

/// A snapshot of `owner`, stored like the snapshot endpoint stores them.
async fn stored_snapshot(
    app: &TestApp,
    group: remote_assist::ids::GroupId,
    owner: &Account,
) -> uuid::Uuid {
    use base64::Engine;
    let id = uuid::Uuid::new_v4();
    let object_key = format!("snapshots/{id}.enc");
    let jpeg = b"\xFF\xD8 pretend picture \xFF\xD9".to_vec();
    let sealed = remote_assist::storage::seal_and_store(
        &app.state.keyring,
        &app.state.store,
        &object_key,
        &id.to_string(),
        &jpeg,
    )
    .await
    .unwrap();
    let now = app.now();
    app.db
        .create_snapshot(&remote_assist::db::snapshots::NewSnapshot {
            id,
            kind: remote_assist::db::snapshots::SnapshotKind::Snapshot,
            group_id: group,
            session_id: "s1",
            recording_id: None,
            device_id: remote_assist::ids::DeviceId::new_random(),
            device_name: "cam",
            taken_at: now,
            expires_at: now + 30 * 86_400_000,
            taken_by: owner.id,
            width: 640,
            height: 480,
            object_key: &object_key,
            key_id: &sealed.wrapped.key_id,
            wrapped_key: &base64::engine::general_purpose::STANDARD.encode(&sealed.wrapped.blob),
            plaintext_bytes: jpeg.len() as i64,
            stored_bytes: sealed.stored_bytes as i64,
            sha256: "00",
            participants: &[owner.id],
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn snapshots_expire_too_and_unconfirmed_deletions_are_retried() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let snapshot = stored_snapshot(&app, world.group_a, &world.supporter_a).await;
    let recording = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    let snapshot_key = app.db.snapshot(snapshot).await.unwrap().unwrap().object_key;
    let recording_key = app
        .db
        .recording(recording)
        .await
        .unwrap()
        .unwrap()
        .object_key;
    // The store cannot remove the recording's object for now (on the local store: something
    // that is not a file sits where it is).
    let blocked = match &app.state.store {
        remote_assist::storage::objects::ObjectStore::Local(local) => {
            let path = local.root().join(&recording_key);
            std::fs::remove_file(&path).unwrap();
            std::fs::create_dir_all(path.join("busy")).unwrap();
            Some(path)
        }
        _ => None,
    };

    app.clock.advance_secs(30 * 86_400 + 60);
    assert_eq!(remote_assist::retention::run_once(&app.state).await, 2);
    assert!(
        app.db.snapshot(snapshot).await.unwrap().is_none(),
        "snapshot row and key gone"
    );
    assert!(
        app.state.store.size(&snapshot_key).await.is_err(),
        "snapshot object gone"
    );
    assert!(
        app.db.recording(recording).await.unwrap().is_none(),
        "recording key gone"
    );

    if let Some(path) = blocked {
        // The bytes could not go yet: remembered, not forgotten.
        assert_eq!(
            app.db.pending_object_deletions(10).await.unwrap(),
            vec![recording_key.clone()]
        );
        assert_eq!(
            remote_assist::retention::retry_pending_deletions(&app.state).await,
            0
        );
        std::fs::remove_dir_all(&path).unwrap();
        std::fs::write(&path, b"ciphertext").unwrap();
        assert_eq!(
            remote_assist::retention::retry_pending_deletions(&app.state).await,
            1
        );
        assert!(!path.exists(), "removed on the retry");
    }
    assert!(
        app.db
            .pending_object_deletions(10)
            .await
            .unwrap()
            .is_empty()
    );

    // Evidence for both kinds, in the list and the CSV export.
    let admin = app.login_as(&world.admin_a).await;
    let (_, body) = app.get("/api/deletions", &admin).await;
    let kinds: Vec<&str> = body["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"snapshot") && kinds.contains(&"recording"),
        "{body}"
    );
    let request = axum::http::Request::builder()
        .uri("/api/deletions.csv")
        .header(axum::http::header::HOST, HOST)
        .header(axum::http::header::COOKIE, &admin.cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    use http_body_util::BodyExt;
    let csv = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(csv.contains("kind,recording_id,"), "{csv}");
    assert!(csv.contains(&format!("snapshot,{snapshot},")), "{csv}");
    assert!(csv.contains(&format!("recording,{recording},")), "{csv}");
    let (_, audit) = app.get("/api/audit?action=snapshot.expire", &admin).await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
}
