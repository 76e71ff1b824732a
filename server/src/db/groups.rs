//! Groups: the tenant boundary. Only system administrators create, rename or delete them.

use super::{Db, DbResult, map_unique, parse_id};
use crate::clock::UnixMillis;
use crate::ids::GroupId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub created_at: UnixMillis,
    /// Sessions of this group are recorded (on by default; a system administrator decides).
    pub recording_enabled: bool,
    /// CIDRs everyone of the group must log in from (empty: any address).
    pub allowed_ips: Vec<String>,
    /// CIDRs its administrators must also log in from (empty: any address).
    pub admin_allowed_ips: Vec<String>,
    /// Every member must use a second factor (those without one enrol at their next login).
    pub mfa_required: bool,
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    name: String,
    created_at: i64,
    recording_enabled: i64,
    allowed_ips: String,
    admin_allowed_ips: String,
    mfa_required: i64,
}

/// The columns of [`GroupRow`]; the flag through CASE so that both dialects decode an integer.
const COLUMNS: &str = "id, name, created_at, CASE WHEN recording_enabled THEN 1 ELSE 0 END AS recording_enabled, \
     allowed_ips, admin_allowed_ips, CASE WHEN mfa_required THEN 1 ELSE 0 END AS mfa_required";

impl TryFrom<GroupRow> for Group {
    type Error = super::DbError;
    fn try_from(row: GroupRow) -> DbResult<Self> {
        Ok(Group {
            id: parse_id(&row.id)?,
            name: row.name,
            created_at: row.created_at,
            recording_enabled: row.recording_enabled != 0,
            allowed_ips: split_list(&row.allowed_ips),
            admin_allowed_ips: split_list(&row.admin_allowed_ips),
            mfa_required: row.mfa_required != 0,
        })
    }
}

impl Db {
    pub async fn create_group(&self, name: &str, now: UnixMillis) -> DbResult<Group> {
        let id = GroupId::new_random();
        sqlx::query("INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(name)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(map_unique)?;
        Ok(Group {
            id,
            name: name.to_owned(),
            created_at: now,
            recording_enabled: true,
            allowed_ips: Vec::new(),
            admin_allowed_ips: Vec::new(),
            mfa_required: false,
        })
    }

    pub async fn group(&self, id: GroupId) -> DbResult<Option<Group>> {
        let row: Option<GroupRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM groups WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        row.map(Group::try_from).transpose()
    }

    pub async fn group_by_name(&self, name: &str) -> DbResult<Option<Group>> {
        let row: Option<GroupRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM groups WHERE name = $1"))
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        row.map(Group::try_from).transpose()
    }

    pub async fn list_groups(&self) -> DbResult<Vec<Group>> {
        let rows: Vec<GroupRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM groups ORDER BY name"))
                .fetch_all(self.pool())
                .await?;
        rows.into_iter().map(Group::try_from).collect()
    }

    pub async fn rename_group(&self, id: GroupId, name: &str) -> DbResult<Option<Group>> {
        let changed = sqlx::query("UPDATE groups SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(map_unique)?
            .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.group(id).await
    }

    /// Switches recording of the group's sessions on or off; `None` when there is no such group.
    pub async fn set_group_recording(&self, id: GroupId, enabled: bool) -> DbResult<Option<Group>> {
        let changed = sqlx::query("UPDATE groups SET recording_enabled = $1 WHERE id = $2")
            .bind(enabled)
            .bind(id.to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.group(id).await
    }

    /// Requires (or stops requiring) a second factor of the group's members.
    pub async fn set_group_mfa_required(
        &self,
        id: GroupId,
        required: bool,
    ) -> DbResult<Option<Group>> {
        let changed = sqlx::query("UPDATE groups SET mfa_required = $1 WHERE id = $2")
            .bind(required)
            .bind(id.to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.group(id).await
    }

    /// Replaces the group's IP allow-lists (already validated).
    pub async fn set_group_networks(
        &self,
        id: GroupId,
        users: &[String],
        admins: &[String],
    ) -> DbResult<Option<Group>> {
        let changed =
            sqlx::query("UPDATE groups SET allowed_ips = $1, admin_allowed_ips = $2 WHERE id = $3")
                .bind(users.join(","))
                .bind(admins.join(","))
                .bind(id.to_string())
                .execute(self.pool())
                .await?
                .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.group(id).await
    }

    /// Counts the users and devices that keep a group from being deleted.
    pub async fn group_member_count(&self, id: GroupId) -> DbResult<i64> {
        let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE group_id = $1")
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?;
        let (devices,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM devices WHERE group_id = $1")
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(users + devices)
    }

    /// Deletes an empty group; `false` when it did not exist. Callers check emptiness first; the
    /// foreign keys refuse a non-empty group anyway.
    pub async fn delete_group(&self, id: GroupId) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
