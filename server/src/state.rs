//! Shared application state handed to every request handler.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::db::audit::NewAuditEvent;
use crate::live::LiveHandle;
use crate::metrics::Metrics;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub objects_dir: PathBuf,
    /// Live sessions (signaling hub and media worker).
    pub live: LiveHandle,
    /// Master keys that wrap recording keys.
    pub keyring: crate::storage::crypto::Keyring,
    /// Where encrypted recordings are stored.
    pub store: crate::storage::objects::ObjectStore,
}

impl AppState {
    /// Builds the state and starts the live hub and the media worker (binds the media UDP
    /// port). Must run inside a Tokio runtime.
    pub async fn start(config: Config, db: Db, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        let objects_dir = config.objects_dir();
        let (sfu, sfu_events, recording_events) =
            remote_assist_sfu::SfuHandle::start_with_recordings(remote_assist_sfu::SfuConfig {
                bind: config.media_bind(),
                advertised_ip: Some(config.media_advertised_ip()),
            })?;
        let master = crate::storage::crypto::load_or_create_master_key(
            &config.master_key_file(),
            &config.master_key_id,
        )
        .map_err(std::io::Error::other)?;
        let keyring = crate::storage::crypto::Keyring::new(master, Vec::new());
        let store = match config.object_store {
            crate::config::ObjectStoreKind::Local => crate::storage::objects::ObjectStore::Local(
                crate::storage::objects::LocalStore::new(objects_dir.clone()),
            ),
            crate::config::ObjectStoreKind::S3 => crate::storage::objects::ObjectStore::S3(
                crate::storage::s3::S3Store::connect(&crate::storage::s3::S3Settings {
                    endpoint: config.s3_endpoint.clone(),
                    region: config.s3_region.clone(),
                    bucket: config.s3_bucket.clone().unwrap_or_default(),
                    path_style: config.s3_path_style,
                    access_key: config.s3_access_key.clone(),
                    secret_key: config.s3_secret_key.clone(),
                    prefix: config.s3_prefix.clone(),
                })
                .await,
            ),
        };
        let recordings = crate::recording::RecordingService::start(
            crate::recording::Settings {
                db: db.clone(),
                clock: clock.clone(),
                keyring: keyring.clone(),
                store: store.clone(),
                retention_days: config.recording_retention_days,
            },
            recording_events,
        );
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let live = crate::live::hub::start_with(
            config.clone(),
            db.clone(),
            clock.clone(),
            metrics.clone(),
            sfu,
            sfu_events,
            recordings,
        );
        Ok(Self {
            config,
            db,
            clock,
            metrics,
            objects_dir,
            live,
            keyring,
            store,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Writes an audit event. A failure to write is logged loudly but does not fail the request
    /// that caused it: refusing a logout because the audit table is unavailable helps nobody.
    pub async fn audit(&self, event: NewAuditEvent) {
        write_audit(&self.db, event).await;
    }
}

/// Writes an audit event and mirrors it to the log (without addresses or user agents).
pub async fn write_audit(db: &Db, event: NewAuditEvent) {
    {
        tracing::info!(
            action = event.action,
            outcome = event.outcome.as_str(),
            actor = event.actor_id.as_deref().unwrap_or("-"),
            target = event.target.as_deref().unwrap_or("-"),
            "audit"
        );
        if let Err(error) = db.insert_audit_event(&event).await {
            tracing::error!(%error, action = event.action, "could not write audit event");
        }
    }
}
