//! The signaling WebSocket against a real TLS server: authentication, presence limited to the
//! own group, the camera limit, busy cameras, forged cross-group connects (refused and audited),
//! revocation, bad messages and the origin check.

mod common;

use std::time::Duration;

use common::live::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use remote_assist::db::users::Role;
use remote_assist::ids::DeviceId;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn presence_ids(presence: &Value) -> Vec<String> {
    presence["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["device_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn presence_shows_only_the_own_group_and_updates_live() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (cam_a, cred_a) = paired_device(&app, world.group_a, "cam-a").await;
    let (cam_b, cred_b) = paired_device(&app, world.group_b, "cam-b").await;
    let _b_online = camera(&app, addr, &cred_b).await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    let presence = next_of(&mut ws, "presence").await;
    let ids = presence_ids(&presence);
    assert_eq!(
        ids,
        vec![cam_a.to_string()],
        "only group A's camera is listed"
    );
    assert!(!presence.to_string().contains(&cam_b.to_string()));
    assert_eq!(presence["cameras"][0]["state"], "offline");
    let mut cam = camera(&app, addr, &cred_a).await;
    let presence = next_of(&mut ws, "presence").await;
    assert_eq!(presence["cameras"][0]["state"], "online");
    // A call for help rings on the supporter's console.
    send(&mut cam, json!({"type": "call_for_help"})).await;
    let presence = next_of(&mut ws, "presence").await;
    assert_eq!(presence["cameras"][0]["calling"], true);
    drop(cam);
    let presence = next_of(&mut ws, "presence").await;
    assert_eq!(presence["cameras"][0]["state"], "offline");
}

#[tokio::test]
async fn at_most_four_cameras_and_one_supporter_per_camera() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let mut cams = Vec::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (id, cred) = paired_device(&app, world.group_a, &format!("cam{i}")).await;
        cams.push(camera(&app, addr, &cred).await);
        ids.push(id);
    }
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    for (slot, id) in ids.iter().take(4).enumerate() {
        send(&mut ws, json!({"type": "connect_camera", "device_id": id})).await;
        let added = next_of(&mut ws, "camera_added").await;
        assert_eq!(added["type"], "camera_added", "{added}");
        assert_eq!(added["slot"], slot);
        // The camera learns who is watching.
        let watch = next_of(&mut cams[slot], "watch").await;
        let watch = if watch["watched_by"].is_null() {
            next_of(&mut cams[slot], "watch").await
        } else {
            watch
        };
        assert_eq!(watch["watched_by"]["display_name"], "supporter-a");
    }
    send(
        &mut ws,
        json!({"type": "connect_camera", "device_id": ids[4]}),
    )
    .await;
    let refused = next_of(&mut ws, "camera_added").await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "too_many_cameras");
    assert!(refused["message"].as_str().unwrap().contains('4'));
    assert!(refused["message_ja"].as_str().unwrap().contains('4'));

    // Another supporter of the same group gets "busy" for a camera in a session.
    let other = app
        .add_user("supporter-a2", Role::Supporter, world.group_a)
        .await;
    let mut ws2 = supporter(&app, addr, &other).await;
    send(
        &mut ws2,
        json!({"type": "connect_camera", "device_id": ids[0]}),
    )
    .await;
    let busy = next_of(&mut ws2, "camera_added").await;
    assert_eq!(busy["code"], "camera_busy");

    // Disconnecting frees a slot; the fifth now fits, and the camera is told.
    send(
        &mut ws,
        json!({"type": "disconnect_camera", "device_id": ids[1]}),
    )
    .await;
    let removed = next_of(&mut ws, "camera_removed").await;
    assert_eq!(removed["slot"], 1);
    assert_eq!(removed["reason"], "disconnected");
    send(
        &mut ws,
        json!({"type": "connect_camera", "device_id": ids[4]}),
    )
    .await;
    let added = next_of(&mut ws, "camera_added").await;
    assert_eq!(added["slot"], 1);
}

#[tokio::test]
async fn forged_cross_group_connects_are_refused_and_audited() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (cam_b, cred_b) = paired_device(&app, world.group_b, "cam-b").await;
    let _online = camera(&app, addr, &cred_b).await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    for forged in [cam_b.to_string(), DeviceId::new_random().to_string()] {
        send(
            &mut ws,
            json!({"type": "connect_camera", "device_id": forged}),
        )
        .await;
        let refused = next_of(&mut ws, "camera_added").await;
        assert_eq!(refused["code"], "camera_not_found", "{refused}");
    }
    // A camera cannot act as a supporter.
    let (_cam_a, cred_a) = paired_device(&app, world.group_a, "cam-a").await;
    let mut cam = camera(&app, addr, &cred_a).await;
    send(
        &mut cam,
        json!({"type": "connect_camera", "device_id": cam_b}),
    )
    .await;
    let refused = next_of(&mut cam, "camera_added").await;
    assert_eq!(refused["code"], "not_allowed");
    // The audit trail is written off the signaling path: wait for both denials to land.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let denied = loop {
        let denied = app
            .db
            .list_audit_events(&remote_assist::db::audit::AuditFilter {
                action: Some("live.connect_camera".into()),
                outcome: Some("denied".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        if denied.len() >= 2 || std::time::Instant::now() > deadline {
            break denied;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(denied.len(), 2);
    assert!(
        denied
            .iter()
            .any(|e| e.target.as_deref() == Some(cam_b.to_string().as_str()))
    );
    assert!(
        denied
            .iter()
            .all(|e| e.actor_label.as_deref() == Some("supporter-a"))
    );
}

#[tokio::test]
async fn revoked_devices_are_disconnected_at_once() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (id, cred) = paired_device(&app, world.group_a, "cam").await;
    let mut cam = camera(&app, addr, &cred).await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    send(&mut ws, json!({"type": "connect_camera", "device_id": id})).await;
    assert_eq!(
        next_of(&mut ws, "camera_added").await["type"],
        "camera_added"
    );
    // Revoke through the admin API, as an administrator would.
    let admin = app.login_as(&world.admin_a).await;
    let (status, _) = app
        .post(&format!("/api/devices/{id}/revoke"), json!({}), &admin)
        .await;
    assert!(status.is_success());
    let removed = next_of(&mut ws, "camera_removed").await;
    assert_eq!(removed["reason"], "revoked");
    // The camera's connection is closed.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match cam.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return true,
                _ => continue,
            }
        }
    })
    .await
    .unwrap();
    assert!(closed);
    // And the credential no longer opens a connection.
    let mut again = open(&app, addr, None, &origin(addr)).await.unwrap();
    send(
        &mut again,
        json!({"type": "hello", "protocol": 1, "credential": cred}),
    )
    .await;
    assert_eq!(next(&mut again).await["code"], "not_authenticated");
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_survives() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    next_of(&mut ws, "presence").await;
    for bad in [
        "not json",
        "{}",
        r#"{"type":"launch"}"#,
        r#"{"type":"connect_camera","device_id":"'; DROP TABLE devices;--"}"#,
        r#"{"type":"ping","extra":1}"#,
    ] {
        ws.send(Message::Text(bad.into())).await.unwrap();
        let error = next(&mut ws).await;
        assert_eq!(error["code"], "bad_message", "{bad}: {error}");
    }
    let huge = format!(r#"{{"type":"offer","sdp":"{}"}}"#, "v".repeat(70_000));
    let _ = ws.send(Message::Text(huge.into())).await;
    // Oversized frames close this connection (the limit is enforced by the protocol layer)...
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(
        closed,
        Ok(true),
        "an oversized message closes the connection"
    );
    // ...and a fresh connection works.
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    send(&mut ws, json!({"type": "offer", "sdp": "this is not SDP"})).await;
    let error = next_of(&mut ws, "answer").await;
    assert_eq!(error["code"], "bad_offer", "{error}");
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_of(&mut ws, "pong").await["type"], "pong");
}

#[tokio::test]
async fn unauthenticated_and_cross_site_connections_are_refused() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    // No cookie, no credential.
    let mut ws = open(&app, addr, None, &origin(addr)).await.unwrap();
    send(&mut ws, json!({"type": "hello", "protocol": 1})).await;
    assert_eq!(next(&mut ws).await["code"], "not_authenticated");
    // Something other than hello first.
    let cookie = app.session_cookie(&world.supporter_a).await;
    let mut ws = open(&app, addr, Some(&cookie), &origin(addr))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await["code"], "hello_required");
    // Wrong protocol version.
    let mut ws = open(&app, addr, Some(&cookie), &origin(addr))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "hello", "protocol": 99})).await;
    assert_eq!(next(&mut ws).await["code"], "unsupported_protocol");
    // Another site's page cannot open a socket with the user's cookie.
    let refused = open(&app, addr, Some(&cookie), "https://evil.example").await;
    assert!(refused.is_err(), "cross-site WebSocket must be refused");
}

#[tokio::test]
async fn silent_connections_are_dropped_by_the_heartbeat() {
    let config = remote_assist::config::Config {
        signaling_dead_after_secs: 3,
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (_, cred) = paired_device(&app, world.group_a, "cam").await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    next_of(&mut ws, "presence").await;
    // The camera connects, then its network dies: it never reads or answers pings again.
    let silent = camera(&app, addr, &cred).await;
    assert_eq!(
        next_of(&mut ws, "presence").await["cameras"][0]["state"],
        "online"
    );
    let started = std::time::Instant::now();
    let mut supporter_pings = 0;
    let offline = loop {
        // The supporter keeps answering (tungstenite answers pings while we read).
        let presence = next_of(&mut ws, "presence").await;
        supporter_pings += 1;
        if presence["cameras"][0]["state"] == "offline" {
            break started.elapsed();
        }
        assert!(supporter_pings < 20);
    };
    assert!(
        offline < Duration::from_secs(8),
        "dead connection noticed after {offline:?}"
    );
    drop(silent);
}

#[tokio::test]
async fn an_open_console_keeps_its_session_alive_but_not_past_the_absolute_limit() {
    let config = remote_assist::config::Config {
        signaling_dead_after_secs: 2,
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    next_of(&mut ws, "presence").await;
    // An hour of watching with no page loads: the socket keeps the session alive.
    for _ in 0..3 {
        app.clock.advance_secs(20 * 60);
        // Stay active (answering the server's pings) while a recheck runs.
        for _ in 0..8 {
            send(&mut ws, json!({"type": "ping"})).await;
            assert_eq!(next_of(&mut ws, "pong").await["type"], "pong");
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }
    // The absolute 12-hour limit still ends it.
    app.clock.advance_secs(12 * 3600);
    let closing = next_of(&mut ws, "never").await;
    assert_eq!(closing["code"], "not_authenticated", "{closing}");
}

#[tokio::test]
async fn moving_a_supporter_to_another_group_ends_their_live_connection() {
    let config = remote_assist::config::Config {
        signaling_dead_after_secs: 2,
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    next_of(&mut ws, "presence").await;
    let sys = app.login_as(&world.sysadmin).await;
    let (status, _) = app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/users/{}", world.supporter_a.id),
            Some(json!({"group_id": world.group_b})),
            Some(&sys),
        )
        .await;
    assert!(status.is_success());
    let closing = next_of(&mut ws, "never").await;
    assert_eq!(closing["code"], "not_authenticated", "{closing}");
}
