//! Recordings and their participants. A recording is reachable only by the users listed as its
//! participants: every query here takes the caller's user ID.

use super::{Db, DbResult, parse_id};
use crate::clock::UnixMillis;
use crate::ids::{DeviceId, GroupId, UserId};

/// A recording's identifier (random, so not guessable).
pub type RecordingId = uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Recording {
    pub id: RecordingId,
    pub group_id: GroupId,
    pub device_id: DeviceId,
    pub device_name: String,
    pub started_at: UnixMillis,
    pub ended_at: Option<UnixMillis>,
    pub expires_at: UnixMillis,
    pub state: String,
    pub container: String,
    pub object_key: String,
    pub key_id: String,
    pub wrapped_key: String,
    pub plaintext_bytes: i64,
    pub stored_bytes: i64,
    pub sha256: Option<String>,
    pub video_frames: i64,
    /// The live session it belongs to (recordings made before sessions had IDs have none).
    pub session_id: Option<String>,
    /// When its last bytes were stored.
    pub last_written_at: Option<UnixMillis>,
}

#[derive(sqlx::FromRow)]
struct RecordingRow {
    id: String,
    group_id: String,
    device_id: String,
    device_name: String,
    started_at: i64,
    ended_at: Option<i64>,
    expires_at: i64,
    state: String,
    container: String,
    object_key: String,
    key_id: String,
    wrapped_key: String,
    plaintext_bytes: i64,
    stored_bytes: i64,
    sha256: Option<String>,
    video_frames: i64,
    session_id: Option<String>,
    last_written_at: Option<i64>,
}

impl TryFrom<RecordingRow> for Recording {
    type Error = super::DbError;
    fn try_from(r: RecordingRow) -> DbResult<Self> {
        Ok(Recording {
            id: parse_id(&r.id)?,
            group_id: parse_id(&r.group_id)?,
            device_id: parse_id(&r.device_id)?,
            device_name: r.device_name,
            started_at: r.started_at,
            ended_at: r.ended_at,
            expires_at: r.expires_at,
            state: r.state,
            container: r.container,
            object_key: r.object_key,
            key_id: r.key_id,
            wrapped_key: r.wrapped_key,
            plaintext_bytes: r.plaintext_bytes,
            stored_bytes: r.stored_bytes,
            sha256: r.sha256,
            video_frames: r.video_frames,
            session_id: r.session_id,
            last_written_at: r.last_written_at,
        })
    }
}

const SELECT: &str = "SELECT r.id, r.group_id, r.device_id, r.device_name, r.started_at, \
     r.ended_at, r.expires_at, r.state, r.container, r.object_key, r.key_id, r.wrapped_key, \
     r.plaintext_bytes, r.stored_bytes, r.sha256, r.video_frames, r.session_id, \
     r.last_written_at FROM recordings r";

pub struct NewRecording<'a> {
    pub id: RecordingId,
    pub group_id: GroupId,
    pub device_id: DeviceId,
    pub device_name: &'a str,
    pub started_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub object_key: &'a str,
    pub key_id: &'a str,
    pub wrapped_key: &'a str,
    pub participants: &'a [UserId],
    pub session_id: &'a str,
    /// `mp4` (H.264) or `webm` (VP8).
    pub container: &'a str,
}

impl Db {
    pub async fn create_recording(&self, new: &NewRecording<'_>) -> DbResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO recordings (id, group_id, device_id, device_name, started_at, \
             expires_at, state, container, object_key, key_id, wrapped_key, session_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 'recording', $7, $8, $9, $10, $11)",
        )
        .bind(new.id.to_string())
        .bind(new.group_id.to_string())
        .bind(new.device_id.to_string())
        .bind(new.device_name)
        .bind(new.started_at)
        .bind(new.expires_at)
        .bind(new.container)
        .bind(new.object_key)
        .bind(new.key_id)
        .bind(new.wrapped_key)
        .bind(new.session_id)
        .execute(&mut *tx)
        .await?;
        for user in new.participants {
            sqlx::query(
                "INSERT INTO recording_participants (recording_id, user_id) VALUES ($1, $2)",
            )
            .bind(new.id.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Progress while recording (so a crash leaves accurate sizes behind).
    pub async fn update_recording_progress(
        &self,
        id: RecordingId,
        plaintext_bytes: i64,
        stored_bytes: i64,
        at: UnixMillis,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE recordings SET plaintext_bytes = $1, stored_bytes = $2, last_written_at = $3 \
             WHERE id = $4",
        )
        .bind(plaintext_bytes)
        .bind(stored_bytes)
        .bind(at)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn finish_recording(
        &self,
        id: RecordingId,
        ended_at: UnixMillis,
        plaintext_bytes: i64,
        stored_bytes: i64,
        sha256: &str,
        video_frames: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE recordings SET state = 'complete', ended_at = $1, plaintext_bytes = $2, \
             stored_bytes = $3, sha256 = $4, video_frames = $5 WHERE id = $6",
        )
        .bind(ended_at)
        .bind(plaintext_bytes)
        .bind(stored_bytes)
        .bind(sha256)
        .bind(video_frames)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a recording that never received any media (no row, no key, nothing listed);
    /// a thumbnail it got goes with it and its objects are queued for deletion.
    pub async fn discard_empty_recording(&self, id: RecordingId, at: UnixMillis) -> DbResult<()> {
        let mut tx = self.begin_write().await?;
        let object: Option<(String,)> = sqlx::query_as(
            "SELECT object_key FROM recordings WHERE id = $1 AND plaintext_bytes = 0",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((object_key,)) = object else {
            return Ok(());
        };
        let thumbnails: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, object_key FROM snapshots WHERE recording_id = $1 AND kind = 'thumbnail'",
        )
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for (snapshot, key) in &thumbnails {
            sqlx::query("DELETE FROM snapshot_participants WHERE snapshot_id = $1")
                .bind(snapshot)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM snapshots WHERE id = $1")
                .bind(snapshot)
                .execute(&mut *tx)
                .await?;
            queue_object_deletion(&mut tx, key, at).await?;
        }
        sqlx::query("DELETE FROM recording_participants WHERE recording_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        queue_object_deletion(&mut tx, &object_key, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Recordings still marked as being recorded (after a restart: left by the old process).
    pub async fn recordings_in_progress(&self) -> DbResult<Vec<Recording>> {
        let rows: Vec<RecordingRow> =
            sqlx::query_as(&format!("{SELECT} WHERE r.state = 'recording'"))
                .fetch_all(self.pool())
                .await?;
        rows.into_iter().map(Recording::try_from).collect()
    }

    pub async fn fail_recording(&self, id: RecordingId, ended_at: UnixMillis) -> DbResult<()> {
        sqlx::query("UPDATE recordings SET state = 'failed', ended_at = $1 WHERE id = $2")
            .bind(ended_at)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A recording the user took part in (`None` for everyone else, whatever their role).
    pub async fn recording_for_participant(
        &self,
        id: RecordingId,
        user: UserId,
    ) -> DbResult<Option<Recording>> {
        let row: Option<RecordingRow> = sqlx::query_as(&format!(
            "{SELECT} JOIN recording_participants p ON p.recording_id = r.id \
             WHERE r.id = $1 AND p.user_id = $2"
        ))
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(Recording::try_from).transpose()
    }

    /// The user's recordings, newest first.
    pub async fn recordings_of_participant(&self, user: UserId) -> DbResult<Vec<Recording>> {
        let rows: Vec<RecordingRow> = sqlx::query_as(&format!(
            "{SELECT} JOIN recording_participants p ON p.recording_id = r.id \
             WHERE p.user_id = $1 ORDER BY r.started_at DESC"
        ))
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Recording::try_from).collect()
    }

    pub async fn recording(&self, id: RecordingId) -> DbResult<Option<Recording>> {
        let row: Option<RecordingRow> = sqlx::query_as(&format!("{SELECT} WHERE r.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(Recording::try_from).transpose()
    }
}

/// Why a recording was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionReason {
    User,
    Retention,
}

impl DeletionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::User => "user",
            DeletionReason::Retention => "retention",
        }
    }
}

/// One stored deletion record.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeletionRecord {
    pub id: i64,
    pub recording_id: String,
    pub group_id: String,
    pub device_name: String,
    pub started_at: i64,
    pub sha256: Option<String>,
    pub plaintext_bytes: i64,
    pub reason: String,
    pub deleted_at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    /// `recording` or `snapshot`.
    pub object_kind: String,
}

impl Db {
    /// Recordings whose retention has passed (finished ones at `expires_at`; ones still marked
    /// as recording a day later, i.e. left behind by a crash).
    pub async fn expired_recordings(
        &self,
        now: UnixMillis,
        limit: i64,
    ) -> DbResult<Vec<Recording>> {
        let rows: Vec<RecordingRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE (r.state <> 'recording' AND r.expires_at <= $1) \
             OR (r.state = 'recording' AND r.expires_at <= $2) \
             ORDER BY r.expires_at LIMIT $3"
        ))
        .bind(now)
        .bind(now - 86_400_000)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Recording::try_from).collect()
    }

    /// Deletes a recording's row (and with it the wrapped key) and writes its deletion record,
    /// in one transaction. `false` when it was already gone.
    pub async fn delete_recording_with_record(
        &self,
        recording: &Recording,
        reason: DeletionReason,
        at: UnixMillis,
        actor: (&str, Option<&str>, Option<&str>),
    ) -> DbResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(recording.id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recording_participants WHERE recording_id = $1")
            .bind(recording.id.to_string())
            .execute(&mut *tx)
            .await?;
        // Its thumbnail goes with it (key and row now, bytes with the object).
        let thumbnails: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, object_key FROM snapshots WHERE recording_id = $1 AND kind = 'thumbnail'",
        )
        .bind(recording.id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for (id, object_key) in &thumbnails {
            sqlx::query("DELETE FROM snapshot_participants WHERE snapshot_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM snapshots WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            queue_object_deletion(&mut tx, object_key, at).await?;
        }
        queue_object_deletion(&mut tx, &recording.object_key, at).await?;
        sqlx::query(
            "INSERT INTO deletion_records (recording_id, group_id, device_name, started_at, \
             sha256, plaintext_bytes, reason, deleted_at, actor_kind, actor_id, actor_label) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(recording.id.to_string())
        .bind(recording.group_id.to_string())
        .bind(&recording.device_name)
        .bind(recording.started_at)
        .bind(recording.sha256.as_deref())
        .bind(recording.plaintext_bytes)
        .bind(reason.as_str())
        .bind(at)
        .bind(actor.0)
        .bind(actor.1)
        .bind(actor.2)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletion records, newest first; of one group when given.
    pub async fn deletion_records(
        &self,
        group: Option<GroupId>,
        limit: i64,
    ) -> DbResult<Vec<DeletionRecord>> {
        let base = "SELECT id, recording_id, group_id, device_name, started_at, sha256, \
             plaintext_bytes, reason, deleted_at, actor_kind, actor_id, actor_label, \
             object_kind FROM deletion_records";
        let rows = match group {
            Some(group) => {
                sqlx::query_as(&format!(
                    "{base} WHERE group_id = $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(group.to_string())
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query_as(&format!("{base} ORDER BY id DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        Ok(rows)
    }
}

/// A recording's new object (a finalized rewrite), replacing its current one.
pub struct ReplacedObject<'a> {
    pub object_key: &'a str,
    pub key_id: &'a str,
    pub wrapped_key: &'a str,
    pub plaintext_bytes: i64,
    pub stored_bytes: i64,
    pub sha256: &'a str,
}

impl Db {
    pub async fn set_recording_container(&self, id: RecordingId, container: &str) -> DbResult<()> {
        sqlx::query("UPDATE recordings SET container = $1 WHERE id = $2")
            .bind(container)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Queues an object for deletion on its own (see [`Db::finish_recording_with_object`]).
    pub async fn queue_object_deletion_now(
        &self,
        object_key: &str,
        at: UnixMillis,
    ) -> DbResult<()> {
        let mut tx = self.begin_write().await?;
        queue_object_deletion(&mut tx, object_key, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Completes a recording that is still being written, pointing it at a new object, in one
    /// transaction: the new object's pending deletion is cancelled and the old one's is queued
    /// (due at `ended_at`). `false` when the recording (or its old object) is gone or already
    /// finished.
    pub async fn finish_recording_with_object(
        &self,
        id: RecordingId,
        old_key: &str,
        new: &ReplacedObject<'_>,
        ended_at: UnixMillis,
        video_frames: i64,
    ) -> DbResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE recordings SET state = 'complete', ended_at = $1, video_frames = $2, \
             object_key = $3, key_id = $4, wrapped_key = $5, \
             plaintext_bytes = $6, stored_bytes = $7, sha256 = $8 \
             WHERE id = $9 AND object_key = $10 AND state = 'recording'",
        )
        .bind(ended_at)
        .bind(video_frames)
        .bind(new.object_key)
        .bind(new.key_id)
        .bind(new.wrapped_key)
        .bind(new.plaintext_bytes)
        .bind(new.stored_bytes)
        .bind(new.sha256)
        .bind(id.to_string())
        .bind(old_key)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM pending_object_deletions WHERE object_key = $1")
            .bind(new.object_key)
            .execute(&mut *tx)
            .await?;
        queue_object_deletion(&mut tx, old_key, ended_at).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Remembers that an object's bytes must go (its key is already gone in the same transaction).
pub(crate) async fn queue_object_deletion(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    object_key: &str,
    at: UnixMillis,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO pending_object_deletions (object_key, since) VALUES ($1, $2) \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(object_key)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Objects whose deletion the store has not confirmed yet, oldest first.
    pub async fn pending_object_deletions(&self, limit: i64) -> DbResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT object_key FROM pending_object_deletions ORDER BY since LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    /// The store confirmed that the object is gone.
    pub async fn object_deleted(&self, object_key: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM pending_object_deletions WHERE object_key = $1")
            .bind(object_key)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Where a wrapped data key is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHolder {
    Recording,
    Snapshot,
    /// A user's TOTP secret (wrapped for the user's ID).
    TotpSecret,
    /// The key of a group's SSO client secret (wrapped for the group's ID).
    SsoClientSecret,
}

impl KeyHolder {
    /// Table, key ID column, wrapped key column.
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            KeyHolder::Recording => ("recordings", "key_id", "wrapped_key"),
            KeyHolder::Snapshot => ("snapshots", "key_id", "wrapped_key"),
            KeyHolder::TotpSecret => ("users", "totp_key_id", "totp_secret"),
            KeyHolder::SsoClientSecret => ("group_sso", "secret_key_id", "secret_wrapped_key"),
        }
    }
}

impl Db {
    /// Every wrapped data key not wrapped by master key `current`: (holder, row ID, key ID,
    /// wrapped key).
    pub async fn keys_not_wrapped_by(
        &self,
        current: &str,
    ) -> DbResult<Vec<(KeyHolder, String, String, String)>> {
        let mut out = Vec::new();
        for holder in [
            KeyHolder::Recording,
            KeyHolder::Snapshot,
            KeyHolder::TotpSecret,
            KeyHolder::SsoClientSecret,
        ] {
            let (table, key_id, wrapped) = holder.columns();
            let rows: Vec<(String, String, String)> = sqlx::query_as(&format!(
                "SELECT id, {key_id}, {wrapped} FROM {table} WHERE {key_id} <> $1 AND {wrapped} IS NOT NULL"
            ))
            .bind(current)
            .fetch_all(self.pool())
            .await?;
            out.extend(rows.into_iter().map(|(id, k, w)| (holder, id, k, w)));
        }
        Ok(out)
    }

    /// Replaces a row's wrapped key, if it is still the one read (`old_key_id`).
    pub async fn rewrap_key(
        &self,
        holder: KeyHolder,
        id: &str,
        old_key_id: &str,
        key_id: &str,
        wrapped_key: &str,
    ) -> DbResult<bool> {
        let (table, key_column, wrapped_column) = holder.columns();
        let done = sqlx::query(&format!(
            "UPDATE {table} SET {key_column} = $1, {wrapped_column} = $2 WHERE id = $3 AND {key_column} = $4"
        ))
        .bind(key_id)
        .bind(wrapped_key)
        .bind(id)
        .bind(old_key_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
