//! Second factors: a user's TOTP secret (wrapped by the master key), its pending enrolment,
//! the last accepted time step (replay refusal), one-time recovery codes (hashed), and
//! half-finished logins that wait for the second factor.

use super::{Db, DbResult, parse_id};
use crate::clock::UnixMillis;
use crate::ids::UserId;

/// A wrapped secret as stored: master key ID and the wrapped key (base64).
#[derive(Clone, Debug)]
pub struct StoredSecret {
    pub key_id: String,
    pub wrapped: String,
}

/// A login waiting for its second factor (`Verify`) or for enrolment (`Enroll`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChallengePurpose {
    Verify,
    Enroll,
}

impl ChallengePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::Verify => "verify",
            ChallengePurpose::Enroll => "enroll",
        }
    }
}

#[derive(Clone, Debug)]
pub struct MfaChallenge {
    pub id: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub purpose: ChallengePurpose,
    pub attempts: i64,
    pub expires_at: UnixMillis,
}

impl Db {
    /// Keeps a secret being enrolled until the user proves it.
    pub async fn set_pending_totp(&self, user: UserId, secret: &StoredSecret) -> DbResult<()> {
        sqlx::query(
            "UPDATE users SET totp_pending_key_id = $1, totp_pending_secret = $2 WHERE id = $3",
        )
        .bind(&secret.key_id)
        .bind(&secret.wrapped)
        .bind(user.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn pending_totp(&self, user: UserId) -> DbResult<Option<StoredSecret>> {
        self.stored_secret(
            "SELECT totp_pending_key_id, totp_pending_secret FROM users WHERE id = $1",
            user,
        )
        .await
    }

    /// One wrapped secret of `user`, read by `sql` (key ID and wrapped key, both or neither).
    async fn stored_secret(&self, sql: &str, user: UserId) -> DbResult<Option<StoredSecret>> {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(sql)
            .bind(user.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some((Some(key_id), Some(wrapped))) => Some(StoredSecret { key_id, wrapped }),
            _ => None,
        })
    }

    /// Makes the pending secret the user's (with `step` as its first used step) and replaces
    /// the recovery codes, in one transaction. `false` when nothing was pending.
    pub async fn enable_totp(
        &self,
        user: UserId,
        step: i64,
        recovery_hashes: &[String],
        now: UnixMillis,
    ) -> DbResult<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET totp_key_id = totp_pending_key_id, totp_secret = totp_pending_secret, \
             totp_pending_key_id = NULL, totp_pending_secret = NULL, totp_enabled_at = $1, \
             totp_last_step = $2 WHERE id = $3 AND totp_pending_secret IS NOT NULL",
        )
        .bind(now)
        .bind(step)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query(
                "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user.to_string())
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The user's enrolled secret, if MFA is on.
    pub async fn totp_secret(&self, user: UserId) -> DbResult<Option<StoredSecret>> {
        self.stored_secret(
            "SELECT totp_key_id, totp_secret FROM users WHERE id = $1 AND totp_enabled_at IS NOT NULL",
            user,
        )
        .await
    }

    /// Records `step` as used, atomically, only if it is later than the last used one: `false`
    /// means the code was already used (a replay) or is older than one already used.
    pub async fn accept_totp_step(&self, user: UserId, step: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_enabled_at IS NOT NULL \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code: `true` once per code.
    pub async fn use_recovery_code(
        &self,
        user: UserId,
        code_hash: &str,
        now: UnixMillis,
    ) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE mfa_recovery_codes SET used_at = $1 \
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user.to_string())
        .bind(code_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn unused_recovery_codes(&self, user: UserId) -> DbResult<i64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    /// Removes the second factor (the user's own choice, or an administrator's reset).
    pub async fn disable_totp(&self, user: UserId) -> DbResult<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET totp_key_id = NULL, totp_secret = NULL, totp_enabled_at = NULL, \
             totp_last_step = NULL, totp_pending_key_id = NULL, totp_pending_secret = NULL \
             WHERE id = $1",
        )
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Starts a half-finished login; earlier ones of the user are dropped.
    pub async fn create_mfa_challenge(
        &self,
        token_hash: &str,
        csrf_token: &str,
        user: UserId,
        purpose: ChallengePurpose,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> DbResult<()> {
        sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1 OR expires_at <= $2")
            .bind(user.to_string())
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO mfa_challenges (id, token_hash, csrf_token, user_id, purpose, attempts, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(token_hash)
        .bind(csrf_token)
        .bind(user.to_string())
        .bind(purpose.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn mfa_challenge(
        &self,
        token_hash: &str,
        now: UnixMillis,
    ) -> DbResult<Option<MfaChallenge>> {
        let row: Option<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, user_id, csrf_token, purpose, attempts, expires_at FROM mfa_challenges \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some((id, user_id, csrf_token, purpose, attempts, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(MfaChallenge {
            id,
            user_id: parse_id(&user_id)?,
            csrf_token,
            purpose: if purpose == "enroll" {
                ChallengePurpose::Enroll
            } else {
                ChallengePurpose::Verify
            },
            attempts,
            expires_at,
        }))
    }

    /// Counts one code attempt against a challenge; returns the count after it.
    pub async fn count_mfa_attempt(&self, id: &str) -> DbResult<i64> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map_or(i64::MAX, |(n,)| n))
    }

    pub async fn delete_mfa_challenge(&self, id: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM mfa_challenges WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
