//! The camera limit is configurable (`max_cameras_per_session`), and it is the server that
//! enforces it; other supporters of the group see who has a camera in a session.

mod common;

use common::live::*;
use common::*;
use remote_assist::db::users::Role;
use serde_json::{Value, json};

/// The next `presence` message in which `device` has `state`.
async fn presence_with(ws: &mut Ws, device: &str, state: &str) -> Value {
    for _ in 0..20 {
        let message = next_of(ws, "presence").await;
        let camera = message["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["device_id"] == device)
            .cloned()
            .unwrap_or(Value::Null);
        if camera["state"] == state {
            return camera;
        }
    }
    panic!("{device} never became {state}");
}

#[tokio::test]
async fn a_configured_limit_of_two_cameras_is_enforced() {
    let config = remote_assist::config::Config {
        max_cameras_per_session: 2,
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let mut ids = Vec::new();
    let mut cams = Vec::new();
    for i in 0..3 {
        let (id, credential) = paired_device(&app, world.group_a, &format!("cam{i}")).await;
        cams.push(camera(&app, addr, &credential).await);
        ids.push(id);
    }
    let cookie = app.session_cookie(&world.supporter_a).await;
    let mut ws = open(&app, addr, Some(&cookie), &origin(addr))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "hello", "protocol": 1})).await;
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["max_cameras"], 2, "{welcome}");
    for (slot, id) in ids.iter().take(2).enumerate() {
        send(&mut ws, json!({"type": "connect_camera", "device_id": id})).await;
        assert_eq!(next_of(&mut ws, "camera_added").await["slot"], slot);
    }
    send(
        &mut ws,
        json!({"type": "connect_camera", "device_id": ids[2]}),
    )
    .await;
    let refused = next_of(&mut ws, "camera_added").await;
    assert_eq!(refused["code"], "too_many_cameras", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains('2'),
        "{refused}"
    );
    assert!(
        refused["message_ja"].as_str().unwrap().contains('2'),
        "{refused}"
    );
}

#[tokio::test]
async fn colleagues_see_who_has_a_camera() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let addr = app.serve().await;
    let (id, credential) = paired_device(&app, world.group_a, "crane").await;
    let _cam = camera(&app, addr, &credential).await;
    let colleague = app
        .add_user("supporter-a2", Role::Supporter, world.group_a)
        .await;
    let mut watcher = supporter(&app, addr, &colleague).await;
    let device = id.to_string();
    let online = presence_with(&mut watcher, &device, "online").await;
    assert!(online["supporter"].is_null(), "{online}");
    let mut ws = supporter(&app, addr, &world.supporter_a).await;
    send(&mut ws, json!({"type": "connect_camera", "device_id": id})).await;
    next_of(&mut ws, "camera_added").await;
    let taken = presence_with(&mut watcher, &device, "in_session").await;
    assert_eq!(taken["supporter"]["display_name"], "supporter-a", "{taken}");
    send(
        &mut ws,
        json!({"type": "disconnect_camera", "device_id": id}),
    )
    .await;
    let free = presence_with(&mut watcher, &device, "online").await;
    assert!(free["supporter"].is_null(), "{free}");
}
