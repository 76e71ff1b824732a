//! remote-assist: a self-hostable WebRTC remote-assist server.
//!
//! The library holds all wiring so that tests run the real thing: [`api::app`] is the complete
//! HTTP router, [`run`] starts the server on listeners the caller bound, and [`cli`] is the
//! command line. `main.rs` only parses arguments and calls in here.

pub mod api;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod ids;
pub mod live;
pub mod metrics;
pub mod recording;
pub mod retention;
pub mod server;
pub mod state;
pub mod storage;
pub mod tls;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, LogFormat};
use crate::db::Db;
use crate::server::Listeners;
use crate::state::AppState;

/// Sets up logging to standard error (standard output is kept for messages to the operator).
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Opens storage and prepares everything `serve` needs; prints the first-admin banner once.
pub async fn prepare(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data_dir {}: {e}; set --data-dir or RA_DATA_DIR to a writable directory",
            config.data_dir.display()
        )
    })?;
    let objects = config.objects_dir();
    std::fs::create_dir_all(&objects)
        .map_err(|e| anyhow::anyhow!("cannot create objects_dir {}: {e}", objects.display()))?;
    let db = Db::open(&config.database_url())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    if let Some(password) = bootstrap::ensure_first_admin(&db, clock.now_millis()).await? {
        // Printed, not logged: it must not end up in log files or log shipping.
        println!("{}", bootstrap::first_admin_banner(&password));
    }
    let state = AppState::start(config, db, clock).await.map_err(|e| {
        anyhow::anyhow!("cannot start: {e} (media port in use? choose another --media-port)")
    })?;
    // Recordings a killed or crashed previous process left unfinished become playable now.
    let recovered = recording::recover(
        &state.db,
        state.clock.as_ref(),
        &state.keyring,
        &state.store,
        &state.config.journal_dir(),
    )
    .await;
    if recovered > 0 {
        tracing::info!(recovered, "finished recordings left by the previous run");
    }
    // Objects a previous run spooled but did not get into S3 go on uploading now.
    let resumed = state.store.resume_uploads();
    if resumed > 0 {
        tracing::info!(resumed, "resuming uploads left in the spool");
    }
    // Recordings must be storable before anyone records: check now, with a clear message.
    state.store.check_writable().await.map_err(|e| {
        anyhow::anyhow!(
            "the object store ({}) is not writable: {e}; check the bucket, endpoint and credentials",
            state.store.describe()
        )
    })?;
    if let storage::objects::ObjectStore::S3(spool) = &state.store {
        if state.config.s3_lifecycle_rule {
            let days = state.config.recording_retention_days as i32 + 1;
            spool
                .s3()
                .install_lifecycle_rules(&["recordings/", "snapshots/"], days)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "s3_lifecycle_rule is on but the bucket's lifecycle rule cannot be set: {e}; \
                         allow s3:PutLifecycleConfiguration or set s3_lifecycle_rule = false"
                    )
                })?;
            tracing::info!(days, "bucket lifecycle rule installed (backstop expiry)");
        }
        // Multipart uploads no spool continues (their spool was lost) only hold parts.
        let spool = spool.clone();
        tokio::spawn(async move {
            match spool.abort_orphaned_uploads("recordings/").await {
                Ok(0) => {}
                Ok(aborted) => tracing::info!(aborted, "aborted orphaned multipart uploads"),
                Err(error) => tracing::warn!(%error, "cannot list orphaned multipart uploads"),
            }
        });
    }
    Ok(state)
}

/// Runs the server until `shutdown` completes.
pub async fn run(
    state: AppState,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = tls::server_config(&state.config)?;
    let addr = listeners.https.local_addr()?;
    println!("listening on https://{addr}");
    println!(
        "media on udp://{} (advertised as {})",
        state.live.sfu.local_addr(),
        state.config.media_advertised_ip()
    );
    if let Some(redirect) = &listeners.http_redirect {
        println!("redirecting http://{} to HTTPS", redirect.local_addr()?);
    }
    let purge = tokio::spawn(purge_sessions_periodically(state.clone()));
    let retention = tokio::spawn(retention::run_periodically(state.clone()));
    let backups = tokio::spawn(backup_periodically(state.clone()));
    server::serve(state.clone(), tls, listeners, shutdown).await?;
    purge.abort();
    retention.abort();
    backups.abort();
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Deletes expired login sessions every few minutes so the table does not grow.
async fn purge_sessions_periodically(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tick.tick().await;
        if let Err(error) = state.db.purge_expired_sessions(state.now()).await {
            tracing::warn!(%error, "could not purge expired sessions");
        }
    }
}

/// Backs the database up every `backup_interval_hours` (the first one an hour after start),
/// keeping `backup_generations`; each backup is audited.
async fn backup_periodically(state: AppState) {
    if !state.config.backup_enabled {
        return;
    }
    let every =
        std::time::Duration::from_secs(u64::from(state.config.backup_interval_hours) * 3600);
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + std::time::Duration::from_secs(3600).min(every),
        every,
    );
    loop {
        tick.tick().await;
        let result = backup::create(
            &state.db,
            &state.keyring,
            &state.store,
            state.now(),
            state.config.backup_generations as usize,
        )
        .await;
        let (outcome, detail) = match &result {
            Ok(info) => (
                db::audit::Outcome::Success,
                format!("{} ({} bytes)", info.id, info.bytes),
            ),
            Err(error) => {
                tracing::error!(%error, "backup failed");
                (db::audit::Outcome::Failure, error.to_string())
            }
        };
        state
            .audit(db::audit::NewAuditEvent {
                at: state.now(),
                actor_kind: db::audit::ActorKind::System,
                actor_id: None,
                actor_label: Some("backup".into()),
                group_id: None,
                action: "backup.create",
                target: result.as_ref().ok().map(|i| i.id.clone()),
                client_ip: None,
                user_agent: None,
                outcome,
                detail: Some(detail),
            })
            .await;
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown signal received");
}

/// `remote-assist serve`: load config, prepare, bind, run.
pub async fn serve_main(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let redirect = config.http_redirect_listen;
    let state = prepare(config, Arc::new(SystemClock)).await?;
    let listeners = Listeners::bind(listen, redirect).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e}; choose another --listen address")
    })?;
    run(state, listeners, shutdown_signal()).await
}
