//! Still images: snapshots a supporter takes of a live feed, and the thumbnail of each
//! recording. Like recordings, a snapshot is reachable only by the users listed as its
//! participants, and every query here takes the caller's user ID.

use super::recordings::{DeletionReason, queue_object_deletion};
use super::{Db, DbResult, parse_id};
use crate::clock::UnixMillis;
use crate::ids::{DeviceId, GroupId, UserId};

pub type SnapshotId = uuid::Uuid;

/// What an image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Taken by a supporter, listed with its session, downloadable.
    Snapshot,
    /// The picture shown for a recording in the list; goes with the recording.
    Thumbnail,
}

impl SnapshotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Snapshot => "snapshot",
            SnapshotKind::Thumbnail => "thumbnail",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub id: SnapshotId,
    pub kind: String,
    pub group_id: GroupId,
    pub session_id: Option<String>,
    pub recording_id: Option<String>,
    pub device_id: DeviceId,
    pub device_name: String,
    pub taken_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub taken_by: Option<String>,
    pub width: i64,
    pub height: i64,
    pub object_key: String,
    pub key_id: String,
    pub wrapped_key: String,
    pub plaintext_bytes: i64,
    pub stored_bytes: i64,
    pub sha256: String,
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    id: String,
    kind: String,
    group_id: String,
    session_id: Option<String>,
    recording_id: Option<String>,
    device_id: String,
    device_name: String,
    taken_at: i64,
    expires_at: i64,
    taken_by: Option<String>,
    width: i64,
    height: i64,
    object_key: String,
    key_id: String,
    wrapped_key: String,
    plaintext_bytes: i64,
    stored_bytes: i64,
    sha256: String,
}

impl TryFrom<SnapshotRow> for Snapshot {
    type Error = super::DbError;
    fn try_from(r: SnapshotRow) -> DbResult<Self> {
        Ok(Snapshot {
            id: parse_id(&r.id)?,
            kind: r.kind,
            group_id: parse_id(&r.group_id)?,
            session_id: r.session_id,
            recording_id: r.recording_id,
            device_id: parse_id(&r.device_id)?,
            device_name: r.device_name,
            taken_at: r.taken_at,
            expires_at: r.expires_at,
            taken_by: r.taken_by,
            width: r.width,
            height: r.height,
            object_key: r.object_key,
            key_id: r.key_id,
            wrapped_key: r.wrapped_key,
            plaintext_bytes: r.plaintext_bytes,
            stored_bytes: r.stored_bytes,
            sha256: r.sha256,
        })
    }
}

const SELECT: &str = "SELECT s.id, s.kind, s.group_id, s.session_id, s.recording_id, \
     s.device_id, s.device_name, s.taken_at, s.expires_at, s.taken_by, s.width, s.height, \
     s.object_key, s.key_id, s.wrapped_key, s.plaintext_bytes, s.stored_bytes, s.sha256 \
     FROM snapshots s";

/// A snapshot to file; its object is already stored.
pub struct NewSnapshot<'a> {
    pub id: SnapshotId,
    pub kind: SnapshotKind,
    pub group_id: GroupId,
    pub session_id: &'a str,
    pub recording_id: Option<&'a str>,
    pub device_id: DeviceId,
    pub device_name: &'a str,
    pub taken_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub taken_by: UserId,
    pub width: u32,
    pub height: u32,
    pub object_key: &'a str,
    pub key_id: &'a str,
    pub wrapped_key: &'a str,
    pub plaintext_bytes: i64,
    pub stored_bytes: i64,
    pub sha256: &'a str,
    pub participants: &'a [UserId],
}

impl Db {
    /// Files a snapshot. A second thumbnail for the same recording is refused (`Conflict`).
    pub async fn create_snapshot(&self, new: &NewSnapshot<'_>) -> DbResult<()> {
        let mut tx = self.begin_write().await?;
        if new.kind == SnapshotKind::Thumbnail {
            let (existing,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM snapshots WHERE recording_id = $1 AND kind = 'thumbnail'",
            )
            .bind(new.recording_id)
            .fetch_one(&mut *tx)
            .await?;
            if existing > 0 {
                return Err(super::DbError::Conflict);
            }
        }
        sqlx::query(
            "INSERT INTO snapshots (id, kind, group_id, session_id, recording_id, device_id, \
             device_name, taken_at, expires_at, taken_by, width, height, object_key, key_id, \
             wrapped_key, plaintext_bytes, stored_bytes, sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18)",
        )
        .bind(new.id.to_string())
        .bind(new.kind.as_str())
        .bind(new.group_id.to_string())
        .bind(new.session_id)
        .bind(new.recording_id)
        .bind(new.device_id.to_string())
        .bind(new.device_name)
        .bind(new.taken_at)
        .bind(new.expires_at)
        .bind(new.taken_by.to_string())
        .bind(i64::from(new.width))
        .bind(i64::from(new.height))
        .bind(new.object_key)
        .bind(new.key_id)
        .bind(new.wrapped_key)
        .bind(new.plaintext_bytes)
        .bind(new.stored_bytes)
        .bind(new.sha256)
        .execute(&mut *tx)
        .await?;
        for user in new.participants {
            sqlx::query("INSERT INTO snapshot_participants (snapshot_id, user_id) VALUES ($1, $2)")
                .bind(new.id.to_string())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A snapshot or thumbnail the user took part in (`None` for everyone else).
    pub async fn snapshot_for_participant(
        &self,
        id: SnapshotId,
        user: UserId,
    ) -> DbResult<Option<Snapshot>> {
        let row: Option<SnapshotRow> = sqlx::query_as(&format!(
            "{SELECT} JOIN snapshot_participants p ON p.snapshot_id = s.id \
             WHERE s.id = $1 AND p.user_id = $2"
        ))
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(Snapshot::try_from).transpose()
    }

    /// The user's images of one kind, newest first.
    pub async fn snapshots_of_participant(
        &self,
        user: UserId,
        kind: SnapshotKind,
    ) -> DbResult<Vec<Snapshot>> {
        let rows: Vec<SnapshotRow> = sqlx::query_as(&format!(
            "{SELECT} JOIN snapshot_participants p ON p.snapshot_id = s.id \
             WHERE p.user_id = $1 AND s.kind = $2 ORDER BY s.taken_at DESC"
        ))
        .bind(user.to_string())
        .bind(kind.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Snapshot::try_from).collect()
    }

    pub async fn snapshot(&self, id: SnapshotId) -> DbResult<Option<Snapshot>> {
        let row: Option<SnapshotRow> = sqlx::query_as(&format!("{SELECT} WHERE s.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(Snapshot::try_from).transpose()
    }

    /// Snapshots (not thumbnails, which go with their recording) past their retention.
    pub async fn expired_snapshots(&self, now: UnixMillis, limit: i64) -> DbResult<Vec<Snapshot>> {
        let rows: Vec<SnapshotRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE s.kind = 'snapshot' AND s.expires_at <= $1 \
             ORDER BY s.expires_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Snapshot::try_from).collect()
    }

    /// Deletes a snapshot's row (and its wrapped key), queues its object for deletion and
    /// writes its deletion record, in one transaction. `false` when it was already gone.
    pub async fn delete_snapshot_with_record(
        &self,
        snapshot: &Snapshot,
        reason: DeletionReason,
        at: UnixMillis,
        actor: (&str, Option<&str>, Option<&str>),
    ) -> DbResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM snapshot_participants WHERE snapshot_id = $1")
            .bind(snapshot.id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM snapshots WHERE id = $1")
            .bind(snapshot.id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        queue_object_deletion(&mut tx, &snapshot.object_key, at).await?;
        sqlx::query(
            "INSERT INTO deletion_records (recording_id, group_id, device_name, started_at, \
             sha256, plaintext_bytes, reason, deleted_at, actor_kind, actor_id, actor_label, \
             object_kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'snapshot')",
        )
        .bind(snapshot.id.to_string())
        .bind(snapshot.group_id.to_string())
        .bind(&snapshot.device_name)
        .bind(snapshot.taken_at)
        .bind(&snapshot.sha256)
        .bind(snapshot.plaintext_bytes)
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

    /// The thumbnail of each of these recordings that has one: (recording ID, snapshot ID).
    pub async fn thumbnails_of(&self, user: UserId) -> DbResult<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.recording_id, s.id FROM snapshots s \
             JOIN snapshot_participants p ON p.snapshot_id = s.id \
             WHERE p.user_id = $1 AND s.kind = 'thumbnail' AND s.recording_id IS NOT NULL",
        )
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }
}
