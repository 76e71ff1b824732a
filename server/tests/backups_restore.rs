//! Backups (R15, B14): a backup of the database is taken while it is in use, stored encrypted
//! in the object store, seven generations kept; after damage (rows deleted, changed, added) a
//! restore brings back exactly what was backed up, on SQLite and on PostgreSQL; a tampered
//! backup is refused, and so is one of the other database dialect or another schema version.
//! The admin CLI does the same from the command line.

mod common;

use std::process::Command;

use common::*;
use remote_assist::backup;

#[tokio::test]
async fn a_backup_restores_exactly_what_it_saved() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let recording = app
        .stored_recording(world.group_a, &world.supporter_a)
        .await;
    let _ = app.login_as(&world.supporter_a).await; // an audit event and a session
    app.seed_sso_settings(world.group_a).await; // flags are booleans in PostgreSQL
    let before = backup::dump(&app.db).await.unwrap();
    assert_eq!(before.tables["group_sso"].rows.len(), 1);
    assert!(before.tables["users"].rows.len() >= 5);
    assert!(!before.tables["audit_events"].rows.is_empty());

    let info = backup::create(&app.db, &app.state.keyring, &app.state.store, app.now(), 7)
        .await
        .unwrap();
    // Encrypted at rest: the dump's text is not in the stored object.
    let key = format!("backups/{}.enc", info.id);
    let size = app.state.store.size(&key).await.unwrap();
    let stored = app.state.store.read_range(&key, 0..size).await.unwrap();
    for plain in ["supporter-a", "argon2id", "recordings/"] {
        assert!(
            !stored.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain:?} readable in the backup"
        );
    }

    // Damage: a user deleted, a group renamed, a recording gone, SSO removed, rows added.
    assert!(app.db.delete_group_sso(world.group_a).await.unwrap());
    sqlx::query("DELETE FROM recording_participants")
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM recordings")
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE groups SET name = 'vandalised' WHERE id = $1")
        .bind(world.group_b.to_string())
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM login_sessions")
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(world.supporter_b.id.to_string())
        .execute(app.db.pool())
        .await
        .unwrap();
    app.add_user(
        "intruder",
        remote_assist::db::users::Role::SystemAdmin,
        world.group_a,
    )
    .await;
    assert_ne!(backup::dump(&app.db).await.unwrap(), before);

    backup::restore(&app.db, &app.state.keyring, &app.state.store, &info.id)
        .await
        .unwrap();
    let after = backup::dump(&app.db).await.unwrap();
    assert_eq!(after, before, "the restored database is the backed-up one");
    assert!(app.db.recording(recording).await.unwrap().is_some());
    // Everything works on the restored data: logins, and new audit events get fresh IDs.
    let session = app.login_as(&world.supporter_b).await;
    let (status, _) = app.get("/api/auth/me", &session).await;
    assert!(status.is_success());
    assert!(app.try_login("intruder", PASSWORD).await.0.is_none());
}

#[tokio::test]
async fn seven_generations_are_kept_and_tampering_is_refused() {
    let app = TestApp::new().await;
    let _world = app.seed().await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let info = backup::create(
            &app.db,
            &app.state.keyring,
            &app.state.store,
            app.now() + i * 86_400_000,
            backup::DEFAULT_GENERATIONS,
        )
        .await
        .unwrap();
        ids.push(info.id);
    }
    let kept: Vec<String> = backup::list(&app.state.store)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(kept.len(), 7, "{kept:?}");
    assert_eq!(kept[0], ids[8], "newest first");
    assert!(
        !kept.contains(&ids[0]) && !kept.contains(&ids[1]),
        "the two oldest went"
    );

    // A damaged backup (one byte flipped) is refused, never half-restored.
    if let remote_assist::storage::objects::ObjectStore::Local(local) = &app.state.store {
        let path = local.root().join(format!("backups/{}.enc", ids[8]));
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let before = backup::dump(&app.db).await.unwrap();
        let error = backup::restore(&app.db, &app.state.keyring, &app.state.store, &ids[8])
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cannot be read"), "{error}");
        assert_eq!(
            backup::dump(&app.db).await.unwrap(),
            before,
            "nothing changed"
        );
    }
    assert!(matches!(
        backup::restore(
            &app.db,
            &app.state.keyring,
            &app.state.store,
            "no-such-backup"
        )
        .await,
        Err(backup::BackupError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_backup_of_another_dialect_or_schema_version_is_refused() {
    let app = TestApp::new().await;
    let _world = app.seed().await;
    let genuine = backup::dump(&app.db).await.unwrap();
    let other_dialect = if genuine.dialect == "sqlite" {
        "postgres"
    } else {
        "sqlite"
    };
    let mut foreign = genuine.clone();
    foreign.dialect = other_dialect.to_owned();
    let mut newer = genuine.clone();
    newer.schema += 1;
    let mut older = genuine.clone();
    older.schema -= 1;
    // Each would otherwise restore: its tables are this database's own, emptied of one user
    // so that a restore that went ahead would show.
    for dump in [&mut foreign, &mut newer, &mut older] {
        dump.tables.get_mut("users").unwrap().rows.pop();
    }
    for (dump, expected) in [
        (&foreign, format!("of a {other_dialect} database")),
        (&newer, format!("schema version {}", newer.schema)),
        (&older, format!("schema version {}", older.schema)),
    ] {
        let info = backup::store_dump(&app.state.keyring, &app.state.store, dump, app.now(), 7)
            .await
            .unwrap();
        let error = backup::restore(&app.db, &app.state.keyring, &app.state.store, &info.id)
            .await
            .unwrap_err();
        assert!(
            matches!(error, backup::BackupError::Incompatible(_)),
            "{error}"
        );
        assert!(error.to_string().contains(&expected), "{error}");
        assert_eq!(
            backup::dump(&app.db).await.unwrap(),
            genuine,
            "nothing changed"
        );
    }
    // The same dump with its own dialect and version goes back in: the refusals above were
    // for the dialect and the version, not for the way the dumps were stored.
    let mut fitting = genuine.clone();
    fitting.tables.get_mut("users").unwrap().rows.pop();
    let info = backup::store_dump(&app.state.keyring, &app.state.store, &fitting, app.now(), 7)
        .await
        .unwrap();
    backup::restore(&app.db, &app.state.keyring, &app.state.store, &info.id)
        .await
        .unwrap();
    assert_eq!(
        backup::dump(&app.db).await.unwrap().tables["users"]
            .rows
            .len(),
        genuine.tables["users"].rows.len() - 1
    );
}

#[tokio::test]
async fn the_admin_cli_backs_up_lists_and_restores() {
    let app = TestApp::new().await;
    let world = app.seed().await;
    let config = &app.state.config;
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remote-assist"))
            .arg("--data-dir")
            .arg(&config.data_dir)
            .args(["--database-url", app.db_url.expose()])
            .env("RA_OBJECTS_DIR", config.objects_dir())
            .env_remove("RA_OBJECT_STORE")
            .arg("admin")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, id, err) = cli(&["backup"]);
    assert!(ok, "{err}");
    let id = id.trim().to_owned();
    let (ok, listed, _) = cli(&["list-backups"]);
    assert!(ok && listed.contains(&id), "{listed}");
    sqlx::query("DELETE FROM devices")
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(world.admin_b.id.to_string())
        .execute(app.db.pool())
        .await
        .unwrap();
    let (ok, out, err) = cli(&["restore", "latest"]);
    assert!(ok && out.contains(&id), "{out}{err}");
    assert!(
        app.db.user_by_login_id("admin-b").await.unwrap().is_some(),
        "the deleted user is back"
    );
    let events = app
        .db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            action: Some("backup.restore".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let (ok, _, err) = cli(&["restore", "20990101T000000000Z-deadbeef"]);
    assert!(!ok && err.contains("no backup"), "{err}");
}
