//! Retention: recordings are deleted automatically when their time is up (30 days by default,
//! R7). A job checks every minute; deleting the row deletes the wrapped data key, so every copy
//! of the object (backups included) becomes unreadable at once (crypto-shredding); the object
//! itself is then removed, and a deletion record is kept as evidence (B9).

use std::time::Duration;

use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::recordings::DeletionReason;
use crate::state::AppState;

/// How often the job looks for expired recordings.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);
/// Recordings handled per pass (the next pass takes the rest).
const BATCH: i64 = 500;

/// Deletes every recording whose retention has passed at the state's clock; returns how many.
pub async fn run_once(state: &AppState) -> usize {
    let now = state.now();
    let expired = match state.db.expired_recordings(now, BATCH).await {
        Ok(list) => list,
        Err(error) => {
            tracing::error!(%error, "retention: cannot list expired recordings");
            return 0;
        }
    };
    let mut deleted = 0;
    for recording in expired {
        let shredded = state
            .db
            .delete_recording_with_record(
                &recording,
                DeletionReason::Retention,
                now,
                ("system", None, Some("retention")),
            )
            .await;
        match shredded {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::error!(%error, recording = %recording.id, "retention: cannot delete");
                continue;
            }
        }
        if let Err(error) = state.store.delete(&recording.object_key).await {
            // The key is already gone, so the object is unreadable; the bucket's lifecycle rule
            // (or the next attempt by an operator) removes the bytes.
            tracing::warn!(%error, recording = %recording.id, "retention: object not removed");
        }
        state
            .audit(NewAuditEvent {
                at: now,
                actor_kind: ActorKind::System,
                actor_id: None,
                actor_label: Some("retention".into()),
                group_id: Some(recording.group_id.to_string()),
                action: "recording.expire",
                target: Some(recording.id.to_string()),
                client_ip: None,
                user_agent: None,
                outcome: Outcome::Success,
                detail: Some(format!(
                    "sha256={} bytes={}",
                    recording.sha256.as_deref().unwrap_or("-"),
                    recording.plaintext_bytes
                )),
            })
            .await;
        deleted += 1;
    }
    deleted
}

/// Runs [`run_once`] every [`CHECK_EVERY`].
pub async fn run_periodically(state: AppState) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tick.tick().await;
        let n = run_once(&state).await;
        if n > 0 {
            tracing::info!(deleted = n, "retention: expired recordings deleted");
        }
    }
}
