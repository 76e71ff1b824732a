//! User accounts: identity, role, group membership, password hash and lockout state.

use serde::{Deserialize, Serialize};

use super::{Db, DbError, DbResult, map_unique, parse_id};
use crate::clock::UnixMillis;
use crate::ids::{GroupId, UserId};

/// What an account may do. Stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SystemAdmin,
    GroupAdmin,
    Supporter,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::GroupAdmin => "group_admin",
            Role::Supporter => "supporter",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "system_admin" => Some(Role::SystemAdmin),
            "group_admin" => Some(Role::GroupAdmin),
            "supporter" => Some(Role::Supporter),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::SystemAdmin | Role::GroupAdmin)
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    pub group_id: GroupId,
    pub group_name: String,
    pub password_hash: String,
    pub failed_attempts: i64,
    pub first_failed_at: Option<UnixMillis>,
    pub locked_until: Option<UnixMillis>,
    pub must_change_password: bool,
    /// A TOTP second factor is enrolled.
    pub totp_enabled: bool,
    pub created_at: UnixMillis,
}

impl User {
    pub fn is_locked(&self, now: UnixMillis) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    login_id: String,
    display_name: String,
    role: String,
    group_id: String,
    group_name: String,
    password_hash: String,
    failed_attempts: i64,
    first_failed_at: Option<i64>,
    locked_until: Option<i64>,
    // The Any driver cannot decode SQLite booleans; the query turns it into 0/1 in both dialects.
    must_change_password: i64,
    totp_enabled: i64,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = DbError;
    fn try_from(row: UserRow) -> DbResult<Self> {
        Ok(User {
            id: parse_id(&row.id)?,
            login_id: row.login_id,
            display_name: row.display_name,
            role: Role::parse(&row.role)
                .ok_or_else(|| DbError::Corrupt(format!("unknown role {:?}", row.role)))?,
            group_id: parse_id(&row.group_id)?,
            group_name: row.group_name,
            password_hash: row.password_hash,
            failed_attempts: row.failed_attempts,
            first_failed_at: row.first_failed_at,
            locked_until: row.locked_until,
            must_change_password: row.must_change_password != 0,
            totp_enabled: row.totp_enabled != 0,
            created_at: row.created_at,
        })
    }
}

const SELECT_USER: &str = "SELECT u.id, u.login_id, u.display_name, u.role, u.group_id, \
     g.name AS group_name, u.password_hash, u.failed_attempts, u.first_failed_at, \
     u.locked_until, \
     CASE WHEN u.must_change_password THEN 1 ELSE 0 END AS must_change_password, \
     CASE WHEN u.totp_enabled_at IS NULL THEN 0 ELSE 1 END AS totp_enabled, u.created_at \
     FROM users u JOIN groups g ON g.id = u.group_id";

/// Fields of a new account.
pub struct NewUser<'a> {
    pub login_id: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub group_id: GroupId,
    pub password_hash: &'a str,
    pub must_change_password: bool,
}

/// What an update may change; `None` leaves a field alone.
#[derive(Default)]
pub struct UserChanges<'a> {
    pub display_name: Option<&'a str>,
    pub role: Option<Role>,
    pub group_id: Option<GroupId>,
}

impl Db {
    pub async fn create_user(&self, new: &NewUser<'_>, now: UnixMillis) -> DbResult<UserId> {
        let id = UserId::new_random();
        sqlx::query(
            "INSERT INTO users (id, login_id, display_name, role, group_id, password_hash, \
             failed_attempts, must_change_password, password_changed_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8)",
        )
        .bind(id.to_string())
        .bind(new.login_id)
        .bind(new.display_name)
        .bind(new.role.as_str())
        .bind(new.group_id.to_string())
        .bind(new.password_hash)
        .bind(new.must_change_password)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(map_unique)?;
        Ok(id)
    }

    pub async fn user(&self, id: UserId) -> DbResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!("{SELECT_USER} WHERE u.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(User::try_from).transpose()
    }

    pub async fn user_by_login_id(&self, login_id: &str) -> DbResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!("{SELECT_USER} WHERE u.login_id = $1"))
            .bind(login_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(User::try_from).transpose()
    }

    /// All users, or those of one group.
    pub async fn list_users(&self, group: Option<GroupId>) -> DbResult<Vec<User>> {
        let rows: Vec<UserRow> = match group {
            Some(group) => {
                sqlx::query_as(&format!(
                    "{SELECT_USER} WHERE u.group_id = $1 ORDER BY u.login_id"
                ))
                .bind(group.to_string())
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query_as(&format!("{SELECT_USER} ORDER BY g.name, u.login_id"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.into_iter().map(User::try_from).collect()
    }

    pub async fn count_users(&self) -> DbResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    pub async fn update_user(&self, id: UserId, changes: &UserChanges<'_>) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), \
             role = COALESCE($2, role), group_id = COALESCE($3, group_id) WHERE id = $4",
        )
        .bind(changes.display_name)
        .bind(changes.role.map(Role::as_str))
        .bind(changes.group_id.map(|g| g.to_string()))
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_user(&self, id: UserId) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a new password hash. `must_change` is set by admin resets and cleared by the user's
    /// own change. Also clears any lockout: a reset is how an admin lets a locked user back in.
    pub async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        now: UnixMillis,
    ) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2, \
             password_changed_at = $3, failed_attempts = 0, first_failed_at = NULL, \
             locked_until = NULL WHERE id = $4",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(now)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Reserves one login attempt before the password is checked: counts it as a failure in the
    /// current window, atomically, unless the account is locked. `None` means locked. Counting
    /// first means parallel guesses cannot all slip in before the lock (the count is undone by
    /// [`Db::login_succeeded`] when the password was right).
    pub async fn reserve_login_attempt(
        &self,
        id: UserId,
        now: UnixMillis,
        window_start: UnixMillis,
    ) -> DbResult<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE users SET \
             failed_attempts = CASE WHEN first_failed_at IS NULL OR first_failed_at < $1 \
                 THEN 1 ELSE failed_attempts + 1 END, \
             first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at < $1 \
                 THEN $2 ELSE first_failed_at END \
             WHERE id = $3 AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING failed_attempts",
        )
        .bind(window_start)
        .bind(now)
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(n,)| n))
    }

    /// A reserved attempt was the right password: clears the failures, unless a parallel attempt
    /// locked the account meanwhile (then the login must fail: `false`).
    pub async fn login_succeeded(&self, id: UserId, now: UnixMillis) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET failed_attempts = 0, first_failed_at = NULL, locked_until = NULL \
             WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn lock_user(&self, id: UserId, until: UnixMillis) -> DbResult<()> {
        sqlx::query(
            "UPDATE users SET locked_until = $1, failed_attempts = 0, first_failed_at = NULL \
             WHERE id = $2",
        )
        .bind(until)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Clears failures and any lock (successful login, or an admin's unlock).
    pub async fn clear_login_failures(&self, id: UserId) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET failed_attempts = 0, first_failed_at = NULL, locked_until = NULL \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
