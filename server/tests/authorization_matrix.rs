//! Every administrative endpoint x every role x (own group, other group), plus anonymous
//! callers. Each cell states the expected outcome; a denied mutation is also checked to have
//! changed nothing. Removing any authorization check in the handlers flips at least one cell.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use remote_assist::db::users::Role;
use remote_assist::ids::GroupId;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ListGroups,
    CreateGroup,
    RenameGroup,
    DeleteGroup,
    ListUsers,
    CreateUser,
    UpdateUser,
    DeleteUser,
    ResetPassword,
    UnlockUser,
    ResetMfa,
    ListDevices,
    CreateDevice,
    RenameDevice,
    NewPairingCode,
    RevokeDevice,
    DeleteDevice,
    ListAudit,
    ExportAudit,
    ListDeletions,
    ExportDeletions,
    GetSso,
    DeleteSso,
}

const ALL: &[Endpoint] = &[
    Endpoint::ListGroups,
    Endpoint::CreateGroup,
    Endpoint::RenameGroup,
    Endpoint::DeleteGroup,
    Endpoint::ListUsers,
    Endpoint::CreateUser,
    Endpoint::UpdateUser,
    Endpoint::DeleteUser,
    Endpoint::ResetPassword,
    Endpoint::UnlockUser,
    Endpoint::ResetMfa,
    Endpoint::ListDevices,
    Endpoint::CreateDevice,
    Endpoint::RenameDevice,
    Endpoint::NewPairingCode,
    Endpoint::RevokeDevice,
    Endpoint::DeleteDevice,
    Endpoint::ListAudit,
    Endpoint::ExportAudit,
    Endpoint::ListDeletions,
    Endpoint::ExportDeletions,
    Endpoint::GetSso,
    Endpoint::DeleteSso,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    SystemAdmin,
    GroupAdmin,
    Supporter,
}

/// Whether `caller` (all callers belong to group A) may use `endpoint` on group `own`/other.
fn allowed(endpoint: Endpoint, caller: Caller, own_group: bool) -> bool {
    use Endpoint::*;
    match caller {
        Caller::Anonymous => false,
        Caller::SystemAdmin => true,
        Caller::GroupAdmin => match endpoint {
            ListGroups => own_group,
            CreateGroup | RenameGroup | DeleteGroup | GetSso | DeleteSso => false,
            _ => own_group,
        },
        Caller::Supporter => endpoint == ListGroups && own_group,
    }
}

/// What a denied call must answer: 401 without a session, 403 for a role that may never do
/// it, 404 when an admin reaches into another group (its objects do not exist for them).
fn denied_statuses(endpoint: Endpoint, caller: Caller) -> &'static [StatusCode] {
    use Endpoint::*;
    match (caller, endpoint) {
        (Caller::Anonymous, _) => &[StatusCode::UNAUTHORIZED],
        (Caller::Supporter, _) => &[StatusCode::FORBIDDEN, StatusCode::NOT_FOUND],
        (Caller::GroupAdmin, CreateGroup | RenameGroup | DeleteGroup | GetSso | DeleteSso) => {
            &[StatusCode::FORBIDDEN]
        }
        _ => &[StatusCode::NOT_FOUND],
    }
}

struct Outcome {
    status: StatusCode,
    body: Value,
    /// For denied mutations: did the target stay as it was?
    unchanged: bool,
}

async fn exercise(
    app: &TestApp,
    world: &World,
    endpoint: Endpoint,
    session: Option<&Session>,
    group: GroupId,
    n: usize,
) -> Outcome {
    use Endpoint::*;
    let call = |method: Method, path: String, body: Option<Value>| async move {
        app.call(method, &path, body, session).await
    };
    match endpoint {
        ListGroups => {
            let (status, body) = call(Method::GET, "/api/groups".into(), None).await;
            // "Allowed" for a group means: it is in the caller's list.
            let listed = body["groups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["id"] == group.to_string()));
            let status = if status == StatusCode::OK && !listed {
                StatusCode::NOT_FOUND
            } else {
                status
            };
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        CreateGroup => {
            let name = format!("new group {n}");
            let (status, body) = call(
                Method::POST,
                "/api/groups".into(),
                Some(json!({"name": name})),
            )
            .await;
            let unchanged = app.db.group_by_name(&name).await.unwrap().is_none();
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        RenameGroup => {
            let name = format!("renamed {n}");
            let (status, body) = call(
                Method::PATCH,
                format!("/api/groups/{group}"),
                Some(json!({"name": name})),
            )
            .await;
            let unchanged = app.db.group_by_name(&name).await.unwrap().is_none();
            if status.is_success() {
                // Restore the name for later cells.
                let original = if group == world.group_a {
                    "Group A"
                } else {
                    "Group B"
                };
                app.db.rename_group(group, original).await.unwrap();
            }
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        DeleteGroup => {
            // An empty group per cell, "owned" by the matching side only by name: group
            // deletion is for system admins only, whatever the group.
            let empty = app
                .db
                .create_group(&format!("empty {n}"), START)
                .await
                .unwrap();
            let (status, body) =
                call(Method::DELETE, format!("/api/groups/{}", empty.id), None).await;
            let unchanged = app.db.group(empty.id).await.unwrap().is_some();
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        ListUsers => {
            let (status, body) =
                call(Method::GET, format!("/api/users?group_id={group}"), None).await;
            let leaked = body["users"]
                .as_array()
                .is_some_and(|u| u.iter().any(|u| u["group_id"] != group.to_string()));
            assert!(
                !leaked,
                "list filtered by group returned other groups: {body}"
            );
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        CreateUser => {
            let login_id = format!("created-{n}");
            let (status, body) = call(
                Method::POST,
                "/api/users".into(),
                Some(
                    json!({"login_id": login_id, "display_name": "New", "role": "supporter",
                    "group_id": group, "password": "Initial-pass-77"}),
                ),
            )
            .await;
            let unchanged = app.db.user_by_login_id(&login_id).await.unwrap().is_none();
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        UpdateUser => {
            let target = app
                .add_user(&format!("upd-{n}"), Role::Supporter, group)
                .await;
            let (status, body) = call(
                Method::PATCH,
                format!("/api/users/{}", target.id),
                Some(json!({"display_name": "Changed"})),
            )
            .await;
            let unchanged =
                app.db.user(target.id).await.unwrap().unwrap().display_name != "Changed";
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        DeleteUser => {
            let target = app
                .add_user(&format!("del-{n}"), Role::Supporter, group)
                .await;
            let (status, body) =
                call(Method::DELETE, format!("/api/users/{}", target.id), None).await;
            let unchanged = app.db.user(target.id).await.unwrap().is_some();
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        ResetPassword => {
            let target = app
                .add_user(&format!("rst-{n}"), Role::Supporter, group)
                .await;
            let (status, body) = call(
                Method::POST,
                format!("/api/users/{}/reset-password", target.id),
                Some(json!({"new_password": "Reset-pass-123"})),
            )
            .await;
            let unchanged = !app
                .db
                .user(target.id)
                .await
                .unwrap()
                .unwrap()
                .must_change_password;
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        GetSso => {
            app.seed_sso_settings(group).await;
            let (status, body) = call(Method::GET, format!("/api/groups/{group}/sso"), None).await;
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        DeleteSso => {
            app.seed_sso_settings(group).await;
            let (status, body) =
                call(Method::DELETE, format!("/api/groups/{group}/sso"), None).await;
            let unchanged = app.db.group_sso(group).await.unwrap().is_some();
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        ResetMfa => {
            let target = app
                .add_user(&format!("mfa-{n}"), Role::Supporter, group)
                .await;
            app.enrol_totp(target.id).await;
            let (status, body) = call(
                Method::POST,
                format!("/api/users/{}/reset-mfa", target.id),
                Some(json!({})),
            )
            .await;
            let unchanged = app.db.user(target.id).await.unwrap().unwrap().totp_enabled;
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        UnlockUser => {
            let target = app
                .add_user(&format!("unl-{n}"), Role::Supporter, group)
                .await;
            app.db
                .lock_user(target.id, START + 3_600_000)
                .await
                .unwrap();
            let (status, body) = call(
                Method::POST,
                format!("/api/users/{}/unlock", target.id),
                Some(json!({})),
            )
            .await;
            let unchanged = app
                .db
                .user(target.id)
                .await
                .unwrap()
                .unwrap()
                .locked_until
                .is_some();
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        ListDevices => {
            let (status, body) =
                call(Method::GET, format!("/api/devices?group_id={group}"), None).await;
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        CreateDevice => {
            let name = format!("cam-{n}");
            let (status, body) = call(
                Method::POST,
                "/api/devices".into(),
                Some(json!({"group_id": group, "name": name})),
            )
            .await;
            let unchanged = !app
                .db
                .list_devices(None)
                .await
                .unwrap()
                .iter()
                .any(|d| d.name == name);
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        RenameDevice | NewPairingCode | RevokeDevice | DeleteDevice => {
            let id = app
                .db
                .create_device(
                    group,
                    &format!("dev-{n}"),
                    &format!("hash-{n}"),
                    START + 600_000,
                    START,
                )
                .await
                .unwrap();
            let (method, path, body) = match endpoint {
                RenameDevice => (
                    Method::PATCH,
                    format!("/api/devices/{id}"),
                    Some(json!({"name": "Renamed"})),
                ),
                NewPairingCode => (
                    Method::POST,
                    format!("/api/devices/{id}/pairing"),
                    Some(json!({})),
                ),
                RevokeDevice => (
                    Method::POST,
                    format!("/api/devices/{id}/revoke"),
                    Some(json!({})),
                ),
                _ => (Method::DELETE, format!("/api/devices/{id}"), None),
            };
            let (status, body) = call(method, path, body).await;
            let device = app.db.device(id).await.unwrap();
            let unchanged = match (endpoint, &device) {
                (_, None) => false,
                (RenameDevice, Some(d)) => d.name != "Renamed",
                (RevokeDevice, Some(d)) => d.revoked_at.is_none(),
                (NewPairingCode, Some(_)) => {
                    // The stored code hash changes when a new code is issued.
                    let (hash,): (Option<String>,) =
                        sqlx::query_as("SELECT pairing_code_hash FROM devices WHERE id = $1")
                            .bind(id.to_string())
                            .fetch_one(app.db.pool())
                            .await
                            .unwrap();
                    hash.as_deref() == Some(format!("hash-{n}").as_str())
                }
                (_, Some(_)) => true,
            };
            Outcome {
                status,
                body,
                unchanged,
            }
        }
        ListAudit => {
            let (status, body) =
                call(Method::GET, format!("/api/audit?group_id={group}"), None).await;
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        ExportAudit => {
            let (status, body) = call(
                Method::GET,
                format!("/api/audit.csv?group_id={group}"),
                None,
            )
            .await;
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        ListDeletions => {
            let (status, body) = call(
                Method::GET,
                format!("/api/deletions?group_id={group}"),
                None,
            )
            .await;
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
        ExportDeletions => {
            let (status, body) = call(
                Method::GET,
                format!("/api/deletions.csv?group_id={group}"),
                None,
            )
            .await;
            Outcome {
                status,
                body,
                unchanged: true,
            }
        }
    }
}

#[tokio::test]
async fn every_endpoint_role_and_group_is_checked() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let callers = [
        (Caller::Anonymous, None),
        (
            Caller::SystemAdmin,
            Some(app.login_as(&world.sysadmin).await),
        ),
        (Caller::GroupAdmin, Some(app.login_as(&world.admin_a).await)),
        (
            Caller::Supporter,
            Some(app.login_as(&world.supporter_a).await),
        ),
    ];
    let mut n = 0;
    let mut failures = Vec::new();
    for &endpoint in ALL {
        for (caller, session) in &callers {
            for own_group in [true, false] {
                n += 1;
                let group = if own_group {
                    world.group_a
                } else {
                    world.group_b
                };
                let outcome = exercise(&app, &world, endpoint, session.as_ref(), group, n).await;
                let expect_ok = allowed(endpoint, *caller, own_group);
                let cell = format!(
                    "{endpoint:?} as {caller:?} on {} group: {} {}",
                    if own_group { "own" } else { "other" },
                    outcome.status,
                    outcome.body
                );
                if expect_ok {
                    if !outcome.status.is_success() {
                        failures.push(format!("expected success: {cell}"));
                    }
                } else {
                    if !denied_statuses(endpoint, *caller).contains(&outcome.status) {
                        failures.push(format!("expected denial: {cell}"));
                    }
                    if !outcome.unchanged {
                        failures.push(format!("denied call changed state: {cell}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn group_admins_cannot_touch_or_create_system_admins() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    // The system admin is in group A, the group admin's own group.
    let sysadmin = world.sysadmin.id;
    let (status, _) = app
        .post(
            &format!("/api/users/{sysadmin}/reset-password"),
            json!({"new_password": "Takeover-pass-1"}),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{sysadmin}"),
            Some(json!({"display_name": "x"})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{sysadmin}"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            "/api/users",
            json!({"login_id": "escalate", "display_name": "x", "role": "system_admin",
                "group_id": world.group_a, "password": "Initial-pass-77"}),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{}", world.supporter_a.id),
            Some(json!({"role": "system_admin"})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{}", world.supporter_a.id),
            Some(json!({"group_id": world.group_b})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "group admins cannot move users out"
    );
    let (status, users) = app.get("/api/users", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !users["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["role"] == "system_admin")
    );
    assert!(app.db.user(sysadmin).await.unwrap().unwrap().display_name == "sysadmin");
}

#[tokio::test]
async fn denied_cross_group_attempts_are_audited() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let admin = app.login_as(&world.admin_a).await;
    let (status, _) = app
        .post(
            "/api/devices",
            json!({"group_id": world.group_b, "name": "sneaky"}),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let events = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            outcome: Some("denied".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "device.create");
    assert_eq!(events[0].actor_label.as_deref(), Some("admin-a"));
    assert_eq!(
        events[0].group_id.as_deref(),
        Some(world.group_b.to_string().as_str())
    );
}
