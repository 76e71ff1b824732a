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
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub rate_limits: Arc<crate::auth::ratelimit::RateLimiter>,
    /// Talks to the groups' OpenID providers (single sign-on).
    pub oidc: Arc<crate::auth::oidc::OidcClient>,
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
                connect_timeout: remote_assist_sfu::DEFAULT_CONNECT_TIMEOUT,
                realtime_priority: config.media_realtime_priority,
            })?;
        let (keyring, store) = crate::storage::open(&config)
            .await
            .map_err(std::io::Error::other)?;
        let recordings = crate::recording::RecordingService::start(
            crate::recording::Settings {
                db: db.clone(),
                clock: clock.clone(),
                keyring: keyring.clone(),
                store: store.clone(),
                retention_days: config.recording_retention_days,
                journal_dir: config.journal_dir(),
            },
            recording_events,
        );
        let trusted_proxies = Arc::new(
            crate::auth::network::parse_networks(&config.trusted_proxies)
                .map_err(std::io::Error::other)?,
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
            trusted_proxies,
            rate_limits: Default::default(),
            oidc: Default::default(),
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
