//! `remote-assist admin ...` manages accounts without the server running, on the configured
//! database (SQLite by default, PostgreSQL when `REMOTE_ASSIST_TEST_DB=postgres`).

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_remote-assist");

struct Cli {
    dir: tempfile::TempDir,
    database_url: String,
}

impl Cli {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = if common::backend() == "postgres" {
            let (db, _, url) = common::fresh_db().await;
            db.close().await;
            url.expose().to_owned()
        } else {
            format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display())
        };
        Self { dir, database_url }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(["--database-url", &self.database_url])
            .arg("admin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }
}

#[tokio::test]
async fn admin_commands_manage_accounts_offline() {
    let cli = Cli::new().await;
    cli.ok(&["migrate"], "");
    cli.ok(&["create-group", "保守チーム"], "");
    assert!(
        cli.fails(&["create-group", "保守チーム"], "")
            .contains("exists")
    );
    let create = [
        "create-user",
        "--login-id",
        "yamada",
        "--display-name",
        "山田 太郎",
        "--role",
        "group_admin",
        "--group",
        "保守チーム",
    ];
    let err = cli.fails(&create, "short\n");
    assert!(err.contains("password_too_short"), "{err}");
    cli.ok(&create, "Strong-pass-2026\n");
    assert!(cli.fails(&create, "Strong-pass-2026\n").contains("taken"));
    assert!(
        cli.fails(
            &[
                "create-user",
                "--login-id",
                "x1y",
                "--display-name",
                "x",
                "--role",
                "boss",
                "--group",
                "保守チーム"
            ],
            "Strong-pass-2026\n"
        )
        .contains("role")
    );
    assert!(
        cli.fails(
            &[
                "create-user",
                "--login-id",
                "x1y",
                "--display-name",
                "x",
                "--role",
                "supporter",
                "--group",
                "nope"
            ],
            "Strong-pass-2026\n"
        )
        .contains("no group")
    );

    let list = cli.ok(&["list-users"], "");
    let row = list.lines().find(|l| l.starts_with("yamada\t")).unwrap();
    assert_eq!(
        row,
        "yamada\t山田 太郎\tgroup_admin\t保守チーム\tfalse\tfalse"
    );

    // Lock the account directly, then unlock it with the CLI.
    let db = remote_assist::db::Db::open(&remote_assist::config::Secret::new(
        cli.database_url.clone(),
    ))
    .await
    .unwrap();
    let user = db.user_by_login_id("yamada").await.unwrap().unwrap();
    db.lock_user(user.id, i64::MAX / 2).await.unwrap();
    assert!(
        cli.ok(&["list-users", "--group", "保守チーム"], "")
            .contains("\ttrue\tfalse")
    );
    cli.ok(&["unlock", "yamada"], "");
    assert!(
        db.user(user.id)
            .await
            .unwrap()
            .unwrap()
            .locked_until
            .is_none()
    );

    cli.ok(&["reset-password", "yamada"], "Reset-pass-4455\n");
    let user = db.user(user.id).await.unwrap().unwrap();
    assert!(user.must_change_password);
    assert!(remote_assist::auth::password::verify_password(
        "Reset-pass-4455",
        &user.password_hash
    ));
    assert!(
        cli.fails(&["reset-password", "nobody"], "Reset-pass-4455\n")
            .contains("no user")
    );

    let events = db
        .list_audit_events(&remote_assist::db::audit::AuditFilter {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    for action in [
        "group.create",
        "user.create",
        "user.unlock",
        "auth.password_reset",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.action == action && e.actor_label.as_deref() == Some("admin-cli")),
            "{action} audited"
        );
    }
    db.close().await;
}
