//! Shared application state handed to every request handler.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::db::audit::NewAuditEvent;
use crate::metrics::Metrics;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub objects_dir: PathBuf,
}

impl AppState {
    pub fn new(config: Config, db: Db, clock: Arc<dyn Clock>) -> Self {
        let objects_dir = config.objects_dir();
        Self {
            config: Arc::new(config),
            db,
            clock,
            metrics: Arc::new(Metrics::default()),
            objects_dir,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Writes an audit event. A failure to write is logged loudly but does not fail the request
    /// that caused it: refusing a logout because the audit table is unavailable helps nobody.
    pub async fn audit(&self, event: NewAuditEvent) {
        tracing::info!(
            action = event.action,
            outcome = event.outcome.as_str(),
            actor = event.actor_id.as_deref().unwrap_or("-"),
            target = event.target.as_deref().unwrap_or("-"),
            "audit"
        );
        if let Err(error) = self.db.insert_audit_event(&event).await {
            tracing::error!(%error, action = event.action, "could not write audit event");
        }
    }
}
