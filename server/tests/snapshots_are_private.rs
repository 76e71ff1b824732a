//! Snapshots and thumbnails: a supporter files a JPEG of a camera in their live session; it is
//! stored encrypted, listed with the session, downloadable as the same JPEG, and reachable by
//! nobody else — not a colleague of the same group, not administrators, not other groups, not
//! devices, not guessed IDs, not an expired login. Uploads that are not a camera in the
//! caller's session, or not a JPEG, are refused with a clear error.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::live::*;
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// A real JPEG of `size` (e.g. "1280x720") made by ffmpeg.
fn jpeg(size: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.jpg");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=1"))
        .args(["-frames:v", "1", "-y"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (tests/run installs it)");
    assert!(status.success());
    std::fs::read(path).unwrap()
}

async fn upload(
    app: &TestApp,
    session: Option<&Session>,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    with_csrf: bool,
) -> (StatusCode, Value) {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(session) = session {
        builder = builder.header(header::COOKIE, &session.cookie);
        if with_csrf {
            builder = builder.header("x-csrf-token", &session.csrf);
        }
    }
    let response = app.send(builder.body(Body::from(body)).unwrap()).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get_raw(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Vec<u8>) {
    let mut builder = Request::builder().uri(path).header(header::HOST, HOST);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = app.send(builder.body(Body::empty()).unwrap()).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_reach_only_the_people_in_the_session() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (device, credential) = paired_device(&app, world.group_a, "crane-cam").await;
    let _camera = camera(&app, addr, &credential).await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    send(
        &mut ws,
        json!({"type": "connect_camera", "device_id": device}),
    )
    .await;
    let added = next_of(&mut ws, "camera_added").await;
    assert_eq!(added["recording"], true, "{added}");

    let owner = app.login_as(&world.supporter_a).await;
    let colleague = app
        .add_user(
            "colleague",
            remote_assist::db::users::Role::Supporter,
            world.group_a,
        )
        .await;
    let colleague_session = app.login_as(&colleague).await;
    let snapshot_path = format!("/api/live/cameras/{device}/snapshot");
    let picture = jpeg("1280x720");

    // Refusals first: no CSRF token, not a JPEG, wrong type, too big, not your session.
    let (status, body) = upload(
        &app,
        Some(&owner),
        &snapshot_path,
        "image/jpeg",
        picture.clone(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "csrf_rejected");
    let (status, body) = upload(
        &app,
        None,
        &snapshot_path,
        "image/jpeg",
        picture.clone(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for (content_type, bytes, expect) in [
        (
            "image/jpeg",
            b"\x89PNG\r\n\x1a\nnot a jpeg".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "image/jpeg",
            picture[..picture.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("image/png", picture.clone(), StatusCode::BAD_REQUEST),
        (
            "image/jpeg",
            vec![0xFF; 13 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "image/jpeg",
            // A huge claimed size in a tiny file.
            {
                let mut j = picture.clone();
                let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
                j[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
                j
            },
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, body) = upload(
            &app,
            Some(&owner),
            &snapshot_path,
            content_type,
            bytes,
            true,
        )
        .await;
        assert_eq!(status, expect, "{content_type}: {body}");
        assert!(body["error"]["message_ja"].is_string(), "{body}");
    }
    for (session, who) in [
        (&colleague_session, "a colleague not in the session"),
        (&app.login_as(&world.supporter_b).await, "another group"),
        (&app.login_as(&world.admin_a).await, "the group admin"),
    ] {
        let (status, body) = upload(
            &app,
            Some(session),
            &snapshot_path,
            "image/jpeg",
            picture.clone(),
            true,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{who}: {body}");
        assert_eq!(code(&body), "not_in_session", "{who}");
    }
    let (status, body) = upload(
        &app,
        Some(&owner),
        &format!("/api/live/cameras/{}/snapshot", uuid::Uuid::new_v4()),
        "image/jpeg",
        picture.clone(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "unknown camera: {body}");
    let denied = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some("snapshot.take".into()),
            outcome: Some("denied".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    assert!(denied >= 3, "refused snapshots are audited ({denied})");

    // The owner files one: full resolution kept.
    let (status, snapshot) = upload(
        &app,
        Some(&owner),
        &snapshot_path,
        "image/jpeg",
        picture.clone(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{snapshot}");
    assert_eq!(snapshot["width"], 1280);
    assert_eq!(snapshot["height"], 720);
    assert_eq!(snapshot["device_name"], "crane-cam");
    assert_eq!(snapshot["size"], picture.len());
    let id = snapshot["id"].as_str().unwrap().to_owned();

    // The thumbnail of the recording, once.
    let thumb = jpeg("320x180");
    let thumb_path = format!("{snapshot_path}?kind=thumbnail");
    let (status, thumbnail) = upload(
        &app,
        Some(&owner),
        &thumb_path,
        "image/jpeg",
        thumb.clone(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{thumbnail}");
    let (status, body) = upload(&app, Some(&owner), &thumb_path, "image/jpeg", thumb, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "already_exists");

    // At rest it is encrypted.
    let row = app.db.snapshot(id.parse().unwrap()).await.unwrap().unwrap();
    let size = app.state.store.size(&row.object_key).await.unwrap();
    let stored = app
        .state
        .store
        .read_range(&row.object_key, 0..size)
        .await
        .unwrap();
    assert!(stored.len() > picture.len());
    assert!(
        !stored
            .windows(picture.len().min(64))
            .any(|w| w == &picture[..w.len()]),
        "plaintext JPEG at rest"
    );

    // Listed for the owner, with the session the recording has too.
    let (_, list) = app.get("/api/snapshots", &owner).await;
    let listed = list["snapshots"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "thumbnails are not listed as snapshots: {list}"
    );
    let session_id = listed[0]["session_id"].as_str().unwrap().to_owned();

    // The download is the same JPEG.
    let file = format!("/api/snapshots/{id}/file");
    let (status, bytes) = get_raw(&app, &file, &[("cookie", &owner.cookie)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == picture, "downloaded bytes differ from the upload");
    let (status, _) = get_raw(
        &app,
        &format!("{file}?download=1"),
        &[("cookie", &owner.cookie)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Nobody else: same group, admins, other groups, devices, guessed and malformed IDs.
    for account in [
        &colleague,
        &world.admin_a,
        &world.sysadmin,
        &world.supporter_b,
    ] {
        let session = app.login_as(account).await;
        let (_, list) = app.get("/api/snapshots", &session).await;
        assert_eq!(
            list["snapshots"].as_array().unwrap().len(),
            0,
            "{}",
            account.login_id
        );
        for path in [
            file.clone(),
            format!("/api/snapshots/{}/file", thumbnail["id"].as_str().unwrap()),
        ] {
            let (status, _) = get_raw(&app, &path, &[("cookie", &session.cookie)]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{} {path}", account.login_id);
        }
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!("/api/snapshots/{id}"),
                None,
                Some(&session),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", account.login_id);
    }
    let bearer = format!("Bearer {credential}");
    let (status, _) = get_raw(&app, &file, &[("authorization", &bearer)]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a device credential is no login"
    );
    let (status, _) = get_raw(
        &app,
        &format!("/api/snapshots/{}/file", uuid::Uuid::new_v4()),
        &[("cookie", &owner.cookie)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "guessed ID");
    let (status, _) = get_raw(
        &app,
        "/api/snapshots/../../etc/passwd/file",
        &[("cookie", &owner.cookie)],
    )
    .await;
    assert!(status.is_client_error(), "traversal attempt: {status}");

    // While live, the recording lists its thumbnail and the same session.
    let (_, body) = app.get("/api/recordings", &owner).await;
    let recording = &body["recordings"][0];
    assert_eq!(recording["session_id"], session_id.as_str(), "{body}");
    assert_eq!(recording["thumbnail_id"], thumbnail["id"], "{body}");

    // The session ends. This camera never sent media, so its recording (and the thumbnail that
    // goes with it) is not kept; the snapshot is.
    send(
        &mut ws,
        json!({"type": "disconnect_camera", "device_id": device}),
    )
    .await;
    next_of(&mut ws, "camera_removed").await;
    let mut left = usize::MAX;
    for _ in 0..50 {
        let (_, body) = app.get("/api/recordings", &owner).await;
        left = body["recordings"].as_array().unwrap().len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, body) = app.get("/api/recordings", &owner).await;
    assert_eq!(left, 0, "an empty recording is not kept: {body}");
    let (status, _) = get_raw(
        &app,
        &format!("/api/snapshots/{}/file", thumbnail["id"].as_str().unwrap()),
        &[("cookie", &owner.cookie)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "its thumbnail went with it");
    let (_, list) = app.get("/api/snapshots", &owner).await;
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1);
    // Not in a session any more: no more snapshots of that camera.
    let (status, _) = upload(
        &app,
        Some(&owner),
        &snapshot_path,
        "image/jpeg",
        picture.clone(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // An expired login reaches nothing.
    app.clock.advance_secs(13 * 3600);
    let (status, _) = get_raw(&app, &file, &[("cookie", &owner.cookie)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired session");
    let owner = app.login_as(&world.supporter_a).await;

    // The owner deletes it: key, row and object gone; the evidence stays for the admin.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/snapshots/{id}"),
            None,
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        app.db
            .snapshot(id.parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        app.state.store.size(&row.object_key).await,
        Err(remote_assist::storage::objects::StoreError::NotFound)
    ));
    let (status, _) = get_raw(&app, &file, &[("cookie", &owner.cookie)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let admin = app.login_as(&world.admin_a).await;
    let (_, deletions) = app.get("/api/deletions", &admin).await;
    let record = deletions["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["recording_id"] == id.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(record["kind"], "snapshot", "{deletions}");
    assert_eq!(record["reason"], "user");
    assert_eq!(record["sha256"], snapshot["sha256"]);
}
