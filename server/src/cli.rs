//! Command line: `remote-assist [serve]` runs the server (the default); `remote-assist admin ...`
//! manages accounts directly in the database, without the server running.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::password;
use crate::clock::{Clock, SystemClock};
use crate::config::{CliOverrides, Config, LogFormat};
use crate::db::Db;
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::users::{NewUser, Role};

#[derive(Parser, Debug)]
#[command(
    name = "remote-assist",
    version,
    about = "Self-hostable WebRTC remote-assist server"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Configuration file (default: ./remote-assist.toml when present).
    #[arg(long, global = true, env = "RA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database, objects and certificate [RA_DATA_DIR].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// HTTPS listen address, e.g. 0.0.0.0:8443 [RA_LISTEN].
    #[arg(long, global = true)]
    pub listen: Option<SocketAddr>,
    /// Plain-HTTP address that only redirects to HTTPS [RA_HTTP_REDIRECT_LISTEN].
    #[arg(long, global = true)]
    pub http_redirect_listen: Option<SocketAddr>,
    /// sqlite://PATH or postgres://... [RA_DATABASE_URL].
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// pretty or json [RA_LOG_FORMAT].
    #[arg(long, global = true)]
    pub log_format: Option<LogFormat>,
    /// UDP port for all media; 0 picks a free one [RA_MEDIA_PORT].
    #[arg(long, global = true)]
    pub media_port: Option<u16>,
    /// IP advertised to browsers for media, e.g. the public IP behind NAT [RA_MEDIA_PUBLIC_IP].
    #[arg(long, global = true)]
    pub media_public_ip: Option<std::net::IpAddr>,
}

impl clap::ValueEnum for LogFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[LogFormat::Pretty, LogFormat::Json]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }))
    }
}

impl GlobalArgs {
    pub fn overrides(&self) -> CliOverrides {
        CliOverrides {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            http_redirect_listen: self.http_redirect_listen,
            database_url: self.database_url.clone(),
            log_format: self.log_format,
            media_port: self.media_port,
            media_public_ip: self.media_public_ip,
        }
    }

    pub fn load_config(&self) -> Result<Config, crate::config::ConfigError> {
        Config::load(self.config.as_deref(), &self.overrides())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (default).
    Serve,
    /// Manage accounts and the database without the server running.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Apply database migrations.
    Migrate,
    /// Create a group.
    CreateGroup { name: String },
    /// Create a user; the password is read from standard input (one line).
    CreateUser {
        #[arg(long)]
        login_id: String,
        #[arg(long)]
        display_name: String,
        /// system_admin, group_admin or supporter.
        #[arg(long)]
        role: String,
        /// Group name.
        #[arg(long)]
        group: String,
    },
    /// Create a camera device that is paired at once (for WHIP encoders, drones or provisioning
    /// scripts): prints its ID and its device credential, once — store the credential in the
    /// device; only its hash is kept.
    CreateDevice {
        /// Group name.
        #[arg(long)]
        group: String,
        #[arg(long)]
        name: String,
    },
    /// Set a new password (read from standard input); the user must change it at next login.
    ResetPassword { login_id: String },
    /// Lift a lockout.
    Unlock { login_id: String },
    /// Re-check a recording's integrity (decrypt it and compare its SHA-256); exit code 1 if
    /// it does not match.
    VerifyRecording { id: uuid::Uuid },
    /// After a master-key rotation: re-wrap every recording and snapshot key still wrapped by
    /// an earlier master key (listed in `previous_master_keys`) with the current one. The
    /// content is not touched. Afterwards the earlier keys can be removed from the configuration.
    RewrapKeys,
    /// Back the database up now (encrypted, to the object store; the oldest beyond
    /// `backup_generations` are deleted). Prints the backup's ID.
    Backup,
    /// List the backups, newest first.
    ListBackups,
    /// Replace the database's content with a backup (stop the server first). Everyone is
    /// logged out.
    Restore {
        /// The backup's ID (see list-backups); `latest` for the newest.
        id: String,
    },
    /// List users (tab-separated).
    ListUsers {
        /// Only this group (name).
        #[arg(long)]
        group: Option<String>,
    },
}

/// Reads one line (the password) from standard input, without the line ending.
fn read_password_from_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().take(4096).read_to_string(&mut input)?;
    let line = input.lines().next().unwrap_or("").to_owned();
    anyhow::ensure!(!line.is_empty(), "no password on standard input");
    Ok(line)
}

fn check_password(password: &str, login_id: &str) -> anyhow::Result<()> {
    let violations = password::check_policy(password, login_id);
    anyhow::ensure!(
        violations.is_empty(),
        "the password breaks the policy (8-128 characters, a letter and a digit, not the login ID, not a common password): {}",
        violations
            .iter()
            .map(|v| v.code())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn cli_event(action: &'static str, target: Option<String>, detail: String) -> NewAuditEvent {
    NewAuditEvent {
        at: SystemClock.now_millis(),
        actor_kind: ActorKind::System,
        actor_id: None,
        actor_label: Some("admin-cli".into()),
        group_id: None,
        action,
        target,
        client_ip: None,
        user_agent: None,
        outcome: Outcome::Success,
        detail: Some(detail),
    }
}

/// Runs one admin command against the configured database.
pub async fn run_admin(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let db = Db::open(&config.database_url()).await?;
    let now = SystemClock.now_millis();
    match command {
        AdminCommand::Migrate => println!("database is up to date"),
        AdminCommand::CreateGroup { name } => {
            let name = crate::api::views::valid_name("name", &name)
                .map_err(|e| anyhow::anyhow!("{}", e.detail.unwrap_or_default()))?;
            let group = db.create_group(&name, now).await.map_err(|e| match e {
                crate::db::DbError::Conflict => anyhow::anyhow!("a group named {name:?} exists"),
                other => other.into(),
            })?;
            let mut event = cli_event("group.create", Some(group.id.to_string()), name);
            event.group_id = Some(group.id.to_string());
            db.insert_audit_event(&event).await?;
            println!("{}", group.id);
        }
        AdminCommand::CreateDevice { group, name } => {
            use crate::auth::tokens;
            let name = crate::api::views::valid_name("name", &name)
                .map_err(|e| anyhow::anyhow!("{}", e.detail.unwrap_or_default()))?;
            let group = db
                .group_by_name(&group)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no group named {group:?}"))?;
            // A pairing code redeemed on the spot: the same records the pairing page leaves.
            let code_hash = tokens::sha256_hex(&tokens::new_pairing_code());
            let id = db
                .create_device(group.id, &name, &code_hash, now + 60_000, now)
                .await?;
            let credential = tokens::new_device_credential();
            let paired = db
                .redeem_pairing_code(&code_hash, &tokens::sha256_hex(&credential), now)
                .await?;
            anyhow::ensure!(paired == Some(id), "could not pair the new device");
            let mut event = cli_event("device.create", Some(id.to_string()), name);
            event.group_id = Some(group.id.to_string());
            db.insert_audit_event(&event).await?;
            println!("{id} {credential}");
        }
        AdminCommand::CreateUser {
            login_id,
            display_name,
            role,
            group,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("role must be system_admin, group_admin or supporter")
            })?;
            let login_id = crate::api::views::valid_login_id(&login_id)
                .map_err(|e| anyhow::anyhow!("{}", e.detail.unwrap_or_default()))?;
            let display_name = crate::api::views::valid_name("display_name", &display_name)
                .map_err(|e| anyhow::anyhow!("{}", e.detail.unwrap_or_default()))?;
            let group = db
                .group_by_name(&group)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no group named {group:?}"))?;
            let secret = read_password_from_stdin()?;
            check_password(&secret, &login_id)?;
            let hash = password::hash_password_async(secret).await;
            let id = db
                .create_user(
                    &NewUser {
                        login_id: &login_id,
                        display_name: &display_name,
                        role,
                        group_id: group.id,
                        password_hash: &hash,
                        must_change_password: false,
                    },
                    now,
                )
                .await
                .map_err(|e| match e {
                    crate::db::DbError::Conflict => {
                        anyhow::anyhow!("login ID {login_id:?} is taken")
                    }
                    other => other.into(),
                })?;
            let mut event = cli_event("user.create", Some(id.to_string()), login_id);
            event.group_id = Some(group.id.to_string());
            db.insert_audit_event(&event).await?;
            println!("{id}");
        }
        AdminCommand::ResetPassword { login_id } => {
            let user = db
                .user_by_login_id(&login_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {login_id:?}"))?;
            let secret = read_password_from_stdin()?;
            check_password(&secret, &login_id)?;
            let hash = password::hash_password_async(secret).await;
            db.set_password(user.id, &hash, true, now).await?;
            db.delete_user_sessions(user.id, None).await?;
            let mut event = cli_event("auth.password_reset", Some(user.id.to_string()), login_id);
            event.group_id = Some(user.group_id.to_string());
            db.insert_audit_event(&event).await?;
            println!("password reset; the user must change it at next login");
        }
        AdminCommand::Unlock { login_id } => {
            let user = db
                .user_by_login_id(&login_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {login_id:?}"))?;
            db.clear_login_failures(user.id).await?;
            let mut event = cli_event("user.unlock", Some(user.id.to_string()), login_id);
            event.group_id = Some(user.group_id.to_string());
            db.insert_audit_event(&event).await?;
            println!("unlocked");
        }
        AdminCommand::Backup => {
            let (keyring, store) = crate::storage::open(config)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let info = crate::backup::create(
                &db,
                &keyring,
                &store,
                now,
                config.backup_generations as usize,
            )
            .await?;
            db.insert_audit_event(&cli_event(
                "backup.create",
                Some(info.id.clone()),
                format!("{} bytes", info.bytes),
            ))
            .await?;
            println!("{}", info.id);
        }
        AdminCommand::ListBackups => {
            let (_, store) = crate::storage::open(config)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for info in crate::backup::list(&store).await? {
                let rows: usize = info.rows.values().sum();
                println!(
                    "{}\t{}\t{} rows\t{} bytes",
                    info.id, info.dialect, rows, info.bytes
                );
            }
        }
        AdminCommand::Restore { id } => {
            let (keyring, store) = crate::storage::open(config)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = if id == "latest" {
                crate::backup::list(&store)
                    .await?
                    .first()
                    .map(|b| b.id.clone())
                    .ok_or_else(|| anyhow::anyhow!("there is no backup"))?
            } else {
                id
            };
            let info = crate::backup::restore(&db, &keyring, &store, &id).await?;
            db.insert_audit_event(&cli_event(
                "backup.restore",
                Some(info.id.clone()),
                format!("restored {} rows", info.rows.values().sum::<usize>()),
            ))
            .await?;
            println!("restored {}", info.id);
        }
        AdminCommand::RewrapKeys => {
            use base64::Engine;
            let (keyring, _) = crate::storage::open(config)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let current = keyring.current_id().to_owned();
            let pending = db.keys_not_wrapped_by(&current).await?;
            let (mut done, mut failed) = (0usize, 0usize);
            for (holder, id, key_id, wrapped) in pending {
                match crate::storage::unwrap_key(&keyring, &key_id, &wrapped, &id) {
                    Ok(key) => {
                        let again = keyring.wrap(&key, &id);
                        let encoded = base64::engine::general_purpose::STANDARD.encode(&again.blob);
                        if db
                            .rewrap_key(holder, &id, &key_id, &again.key_id, &encoded)
                            .await?
                        {
                            done += 1;
                        }
                    }
                    Err(error) => {
                        eprintln!("cannot unwrap the key of {id} (master key {key_id:?}): {error}");
                        failed += 1;
                    }
                }
            }
            db.insert_audit_event(&cli_event(
                "keys.rewrap",
                None,
                format!("{done} keys re-wrapped with {current}; {failed} could not be"),
            ))
            .await?;
            println!("re-wrapped {done} keys with master key {current}");
            anyhow::ensure!(
                failed == 0,
                "{failed} keys could not be unwrapped: add their master keys to previous_master_keys"
            );
        }
        AdminCommand::VerifyRecording { id } => {
            let recording = db
                .recording(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no recording {id}"))?;
            let (keyring, store) = crate::storage::open(config)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let result = crate::recording::verify(&recording, &keyring, &store).await;
            let mut event = cli_event(
                "recording.verify",
                Some(id.to_string()),
                result.problem.clone().unwrap_or_else(|| "ok".into()),
            );
            event.group_id = Some(recording.group_id.to_string());
            if !result.ok {
                event.outcome = Outcome::Failure;
            }
            db.insert_audit_event(&event).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            db.close().await;
            anyhow::ensure!(result.ok, "recording {id} failed verification");
            return Ok(());
        }
        AdminCommand::ListUsers { group } => {
            let group_id = match group {
                Some(name) => Some(
                    db.group_by_name(&name)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no group named {name:?}"))?
                        .id,
                ),
                None => None,
            };
            println!("login_id\tdisplay_name\trole\tgroup\tlocked\tmust_change_password");
            for user in db.list_users(group_id).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    user.login_id,
                    user.display_name,
                    user.role.as_str(),
                    user.group_name,
                    user.is_locked(now),
                    user.must_change_password
                );
            }
        }
    }
    db.close().await;
    Ok(())
}
