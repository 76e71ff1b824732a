//! Recording is on by default and can be switched off per group, by a system administrator
//! only (a group administrator cannot stop their own group being recorded). With it off, a
//! session of that group creates no recording, while other groups are still recorded.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_admin_switches_recording_off_for_one_group() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let sysadmin = app.login_as(&world.sysadmin).await;
    let group_admin = app.login_as(&world.admin_a).await;
    let (_, groups) = app.get("/api/groups", &sysadmin).await;
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["recording_enabled"] == true),
        "on by default: {groups}"
    );
    let path = format!("/api/groups/{}", world.group_a);
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"recording_enabled": false})),
            Some(&group_admin),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "not the group admin's decision"
    );
    let (status, body) = app
        .call(Method::PATCH, &path, Some(json!({})), Some(&sysadmin))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"recording_enabled": "no"})),
            Some(&sysadmin),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"recording_enabled": false})),
            Some(&sysadmin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recording_enabled"], false);
    let (_, audit) = app.get("/api/audit?action=group.update", &sysadmin).await;
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["detail"] == "recording_enabled=false" && e["outcome"] == "success"),
        "{audit}"
    );

    // Group A: not recorded. Group B: recorded as before.
    for (group, account, recorded) in [
        (world.group_a, &world.supporter_a, false),
        (world.group_b, &world.supporter_b, true),
    ] {
        let (device, credential) = paired_device(&app, group, "cam").await;
        let _camera = camera(&app, addr, &credential).await;
        let mut ws = supporter(&app, addr, account).await;
        send(
            &mut ws,
            json!({"type": "connect_camera", "device_id": device}),
        )
        .await;
        let added = next_of(&mut ws, "camera_added").await;
        assert_eq!(added["recording"], recorded, "{added}");
        let session = app.login_as(account).await;
        let (_, list) = app.get("/api/recordings", &session).await;
        assert_eq!(
            list["recordings"].as_array().unwrap().len(),
            usize::from(recorded),
            "{list}"
        );
    }
}
