//! Login sessions. The cookie carries a random token; only its SHA-256 is stored, so a stolen
//! database does not yield usable sessions. Each session has an idle and an absolute expiry.

use super::{Db, DbResult, parse_id};
use crate::clock::UnixMillis;
use crate::ids::{SessionId, UserId};

#[derive(Clone, Debug)]
pub struct LoginSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub csrf_token: String,
    pub idle_expires_at: UnixMillis,
    pub absolute_expires_at: UnixMillis,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub csrf_token: &'a str,
    pub user_id: UserId,
    pub idle_expires_at: UnixMillis,
    pub absolute_expires_at: UnixMillis,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: String,
    csrf_token: String,
    idle_expires_at: i64,
    absolute_expires_at: i64,
}

impl Db {
    pub async fn create_session(
        &self,
        new: &NewSession<'_>,
        now: UnixMillis,
    ) -> DbResult<SessionId> {
        let id = SessionId::new_random();
        sqlx::query(
            "INSERT INTO login_sessions (id, token_hash, csrf_token, user_id, created_at, \
             idle_expires_at, absolute_expires_at, client_ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(new.token_hash)
        .bind(new.csrf_token)
        .bind(new.user_id.to_string())
        .bind(now)
        .bind(new.idle_expires_at)
        .bind(new.absolute_expires_at)
        .bind(new.client_ip)
        .bind(new.user_agent)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The session for a token if it has not expired at `now`.
    pub async fn live_session(
        &self,
        token_hash: &str,
        now: UnixMillis,
    ) -> DbResult<Option<LoginSession>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, user_id, csrf_token, idle_expires_at, absolute_expires_at \
             FROM login_sessions WHERE token_hash = $1 \
             AND idle_expires_at > $2 AND absolute_expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(LoginSession {
                id: parse_id(&r.id)?,
                user_id: parse_id(&r.user_id)?,
                csrf_token: r.csrf_token,
                idle_expires_at: r.idle_expires_at,
                absolute_expires_at: r.absolute_expires_at,
            })
        })
        .transpose()
    }

    /// Extends a live session's idle expiry (capped by its absolute expiry); `false` when the
    /// session is gone or expired.
    pub async fn touch_live_session(
        &self,
        id: SessionId,
        user: UserId,
        now: UnixMillis,
        idle_ms: i64,
    ) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE login_sessions SET idle_expires_at = CASE \
                 WHEN $1 < absolute_expires_at THEN $1 ELSE absolute_expires_at END \
             WHERE id = $2 AND user_id = $3 AND idle_expires_at > $4 AND absolute_expires_at > $4",
        )
        .bind(now + idle_ms)
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn extend_session(&self, id: SessionId, idle_expires_at: UnixMillis) -> DbResult<()> {
        sqlx::query("UPDATE login_sessions SET idle_expires_at = $1 WHERE id = $2")
            .bind(idle_expires_at)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id: SessionId) -> DbResult<()> {
        sqlx::query("DELETE FROM login_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session_by_token(&self, token_hash: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of a user except `keep` (after a password change or reset).
    pub async fn delete_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> DbResult<()> {
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1 AND id <> $2")
            .bind(user.to_string())
            .bind(keep.map(|k| k.to_string()).unwrap_or_default())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes expired rows; run periodically.
    pub async fn purge_expired_sessions(&self, now: UnixMillis) -> DbResult<u64> {
        let done = sqlx::query(
            "DELETE FROM login_sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn count_live_sessions(&self, now: UnixMillis) -> DbResult<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM login_sessions WHERE idle_expires_at > $1 \
             AND absolute_expires_at > $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }
}
