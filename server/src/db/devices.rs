//! Camera devices: a phone (or WHIP publisher) paired to one group.
//!
//! Neither the pairing code nor the device credential is stored: only their SHA-256, which is
//! enough because both are long random values (a slow hash adds nothing against brute force of
//! 256 random bits and would cost a hash per request).

use super::{Db, DbError, DbResult, parse_id};
use crate::clock::UnixMillis;
use crate::ids::{DeviceId, GroupId};

#[derive(Clone, Debug)]
pub struct Device {
    pub id: DeviceId,
    pub group_id: GroupId,
    pub group_name: String,
    pub name: String,
    pub created_at: UnixMillis,
    pub paired_at: Option<UnixMillis>,
    pub last_seen_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
    pub has_credential: bool,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    group_id: String,
    group_name: String,
    name: String,
    created_at: i64,
    paired_at: Option<i64>,
    last_seen_at: Option<i64>,
    revoked_at: Option<i64>,
    credential_hash: Option<String>,
}

impl TryFrom<DeviceRow> for Device {
    type Error = DbError;
    fn try_from(row: DeviceRow) -> DbResult<Self> {
        Ok(Device {
            id: parse_id(&row.id)?,
            group_id: parse_id(&row.group_id)?,
            group_name: row.group_name,
            name: row.name,
            created_at: row.created_at,
            paired_at: row.paired_at,
            last_seen_at: row.last_seen_at,
            revoked_at: row.revoked_at,
            has_credential: row.credential_hash.is_some(),
        })
    }
}

const SELECT_DEVICE: &str = "SELECT d.id, d.group_id, g.name AS group_name, d.name, \
     d.created_at, d.paired_at, d.last_seen_at, d.revoked_at, d.credential_hash \
     FROM devices d JOIN groups g ON g.id = d.group_id";

impl Db {
    /// Creates a device with a pending pairing code.
    pub async fn create_device(
        &self,
        group: GroupId,
        name: &str,
        pairing_code_hash: &str,
        pairing_expires_at: UnixMillis,
        now: UnixMillis,
    ) -> DbResult<DeviceId> {
        let id = DeviceId::new_random();
        sqlx::query(
            "INSERT INTO devices (id, group_id, name, pairing_code_hash, pairing_expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(group.to_string())
        .bind(name)
        .bind(pairing_code_hash)
        .bind(pairing_expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    pub async fn device(&self, id: DeviceId) -> DbResult<Option<Device>> {
        let row: Option<DeviceRow> = sqlx::query_as(&format!("{SELECT_DEVICE} WHERE d.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(Device::try_from).transpose()
    }

    pub async fn list_devices(&self, group: Option<GroupId>) -> DbResult<Vec<Device>> {
        let rows: Vec<DeviceRow> = match group {
            Some(group) => {
                sqlx::query_as(&format!(
                    "{SELECT_DEVICE} WHERE d.group_id = $1 ORDER BY d.name"
                ))
                .bind(group.to_string())
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query_as(&format!("{SELECT_DEVICE} ORDER BY g.name, d.name"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.into_iter().map(Device::try_from).collect()
    }

    pub async fn rename_device(&self, id: DeviceId, name: &str) -> DbResult<bool> {
        let done = sqlx::query("UPDATE devices SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Issues a new pairing code for a device that is not revoked. The old credential keeps
    /// working until the new code is used.
    pub async fn set_pairing_code(
        &self,
        id: DeviceId,
        pairing_code_hash: &str,
        expires_at: UnixMillis,
    ) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE devices SET pairing_code_hash = $1, pairing_expires_at = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(pairing_code_hash)
        .bind(expires_at)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Consumes a pairing code in one statement (so it can be used once only, even by two
    /// phones at the same instant) and stores the new credential hash in its place.
    pub async fn redeem_pairing_code(
        &self,
        pairing_code_hash: &str,
        credential_hash: &str,
        now: UnixMillis,
    ) -> DbResult<Option<DeviceId>> {
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE devices SET credential_hash = $1, pairing_code_hash = NULL, \
             pairing_expires_at = NULL, paired_at = $2, last_seen_at = $2 \
             WHERE pairing_code_hash = $3 AND pairing_expires_at > $2 AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(credential_hash)
        .bind(now)
        .bind(pairing_code_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(id,)| parse_id(&id)).transpose()
    }

    /// The live (not revoked) device holding this credential.
    pub async fn device_by_credential(&self, credential_hash: &str) -> DbResult<Option<Device>> {
        let row: Option<DeviceRow> = sqlx::query_as(&format!(
            "{SELECT_DEVICE} WHERE d.credential_hash = $1 AND d.revoked_at IS NULL"
        ))
        .bind(credential_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(Device::try_from).transpose()
    }

    pub async fn touch_device(&self, id: DeviceId, now: UnixMillis) -> DbResult<()> {
        sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Revokes a device: its credential and any pending code stop working at once.
    pub async fn revoke_device(&self, id: DeviceId, now: UnixMillis) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1), credential_hash = NULL, \
             pairing_code_hash = NULL, pairing_expires_at = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_device(&self, id: DeviceId) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
