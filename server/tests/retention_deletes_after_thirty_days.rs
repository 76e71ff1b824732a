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
