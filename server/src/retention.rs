//! Retention: recordings and snapshots are deleted automatically when their time is up (30 days
//! by default, R7). A job checks every minute; deleting the row deletes the wrapped data key, so
//! every copy of the object (backups included) becomes unreadable at once (crypto-shredding);
//! the object itself is then removed, and a deletion record is kept as evidence (B9).
//!
//! Removing the bytes is tracked: the row's deletion queues its object in the same transaction,
//! and the queue entry goes only when the store confirms. An unreachable store therefore delays
//! the removal of (already unreadable) bytes; it never forgets it.

use std::time::Duration;

use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::recordings::DeletionReason;
use crate::state::AppState;

/// Removes an object whose row (and key) is already gone; on success its deletion is no longer
/// pending. Returns whether the store confirmed.
pub async fn delete_object(state: &AppState, object_key: &str) -> bool {
    match state.store.delete(object_key).await {
        Ok(()) => {
            if let Err(error) = state.db.object_deleted(object_key).await {
                tracing::warn!(%error, "retention: cannot clear a pending deletion");
            }
            true
        }
        Err(error) => {
            // The key is already gone, so the bytes are unreadable; the next pass retries.
            tracing::warn!(%error, object_key, "object not removed yet; will retry");
            false
        }
    }
}

/// Retries the removal of objects the store did not confirm earlier; returns how many went.
pub async fn retry_pending_deletions(state: &AppState) -> usize {
    let pending = match state.db.pending_object_deletions(BATCH).await {
        Ok(list) => list,
        Err(error) => {
            tracing::error!(%error, "retention: cannot list pending deletions");
            return 0;
        }
    };
    let mut done = 0;
    for key in pending {
        if delete_object(state, &key).await {
            done += 1;
        }
    }
    done
}

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
        delete_object(state, &recording.object_key).await;
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
    deleted + expire_snapshots(state, now).await
}

async fn expire_snapshots(state: &AppState, now: i64) -> usize {
    let expired = match state.db.expired_snapshots(now, BATCH).await {
        Ok(list) => list,
        Err(error) => {
            tracing::error!(%error, "retention: cannot list expired snapshots");
            return 0;
        }
    };
    let mut deleted = 0;
    for snapshot in expired {
        match state
            .db
            .delete_snapshot_with_record(
                &snapshot,
                DeletionReason::Retention,
                now,
                ("system", None, Some("retention")),
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::error!(%error, snapshot = %snapshot.id, "retention: cannot delete");
                continue;
            }
        }
        delete_object(state, &snapshot.object_key).await;
        state
            .audit(NewAuditEvent {
                at: now,
                actor_kind: ActorKind::System,
                actor_id: None,
                actor_label: Some("retention".into()),
                group_id: Some(snapshot.group_id.to_string()),
                action: "snapshot.expire",
                target: Some(snapshot.id.to_string()),
                client_ip: None,
                user_agent: None,
                outcome: Outcome::Success,
                detail: Some(format!(
                    "sha256={} bytes={}",
                    snapshot.sha256, snapshot.plaintext_bytes
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
            tracing::info!(
                deleted = n,
                "retention: expired recordings and snapshots deleted"
            );
        }
        let removed = retry_pending_deletions(&state).await;
        if removed > 0 {
            tracing::info!(removed, "retention: objects of earlier deletions removed");
        }
    }
}
