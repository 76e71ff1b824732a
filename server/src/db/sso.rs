//! Single sign-on: a group's OpenID Connect settings (the client secret encrypted, its key
//! wrapped by the master key), the provider identity a user is linked to, and sign-ins on their
//! way through the provider (single use, short-lived).

use super::{Db, DbResult, map_unique, parse_id};
use crate::clock::UnixMillis;
use crate::ids::{GroupId, UserId};

/// Which ID-token claim is matched against login IDs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UserClaim {
    /// `email`, and only when the provider says `email_verified`.
    Email,
    PreferredUsername,
    Sub,
}

impl UserClaim {
    pub fn as_str(self) -> &'static str {
        match self {
            UserClaim::Email => "email",
            UserClaim::PreferredUsername => "preferred_username",
            UserClaim::Sub => "sub",
        }
    }

    fn parse(text: &str) -> DbResult<Self> {
        match text {
            "email" => Ok(UserClaim::Email),
            "preferred_username" => Ok(UserClaim::PreferredUsername),
            "sub" => Ok(UserClaim::Sub),
            other => Err(super::DbError::Corrupt(format!("user_claim {other:?}"))),
        }
    }
}

/// A group's OpenID Connect settings as stored.
#[derive(Clone, Debug)]
pub struct GroupSso {
    pub group_id: GroupId,
    pub issuer: String,
    pub client_id: String,
    /// Master key ID and wrapped data key (base64) of the client secret.
    pub secret_key_id: String,
    pub secret_wrapped_key: String,
    /// The client secret, encrypted with that data key (base64).
    pub client_secret: String,
    pub user_claim: UserClaim,
    pub provision: bool,
    pub password_login_disabled: bool,
    pub updated_at: UnixMillis,
}

#[derive(sqlx::FromRow)]
struct GroupSsoRow {
    id: String,
    issuer: String,
    client_id: String,
    secret_key_id: String,
    secret_wrapped_key: String,
    client_secret: String,
    user_claim: String,
    provision: i64,
    password_login_disabled: i64,
    updated_at: i64,
}

const SSO_COLUMNS: &str = "id, issuer, client_id, secret_key_id, secret_wrapped_key, client_secret, user_claim, \
     CASE WHEN provision THEN 1 ELSE 0 END AS provision, \
     CASE WHEN password_login_disabled THEN 1 ELSE 0 END AS password_login_disabled, updated_at";

impl TryFrom<GroupSsoRow> for GroupSso {
    type Error = super::DbError;
    fn try_from(row: GroupSsoRow) -> DbResult<Self> {
        Ok(GroupSso {
            group_id: parse_id(&row.id)?,
            issuer: row.issuer,
            client_id: row.client_id,
            secret_key_id: row.secret_key_id,
            secret_wrapped_key: row.secret_wrapped_key,
            client_secret: row.client_secret,
            user_claim: UserClaim::parse(&row.user_claim)?,
            provision: row.provision != 0,
            password_login_disabled: row.password_login_disabled != 0,
            updated_at: row.updated_at,
        })
    }
}

/// A sign-in waiting for the provider's answer.
#[derive(Clone, Debug)]
pub struct PendingSsoLogin {
    pub group_id: GroupId,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub expires_at: UnixMillis,
}

impl Db {
    pub async fn group_sso(&self, group: GroupId) -> DbResult<Option<GroupSso>> {
        let row: Option<GroupSsoRow> = sqlx::query_as(&format!(
            "SELECT {SSO_COLUMNS} FROM group_sso WHERE id = $1"
        ))
        .bind(group.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(GroupSso::try_from).transpose()
    }

    /// Creates or replaces a group's settings.
    pub async fn put_group_sso(&self, sso: &GroupSso) -> DbResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM group_sso WHERE id = $1")
            .bind(sso.group_id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO group_sso (id, issuer, client_id, secret_key_id, secret_wrapped_key, \
             client_secret, user_claim, provision, password_login_disabled, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(sso.group_id.to_string())
        .bind(&sso.issuer)
        .bind(&sso.client_id)
        .bind(&sso.secret_key_id)
        .bind(&sso.secret_wrapped_key)
        .bind(&sso.client_secret)
        .bind(sso.user_claim.as_str())
        .bind(sso.provision)
        .bind(sso.password_login_disabled)
        .bind(sso.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a group's settings; whether there were any.
    pub async fn delete_group_sso(&self, group: GroupId) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM group_sso WHERE id = $1")
            .bind(group.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn create_sso_login(
        &self,
        token_hash: &str,
        pending: &PendingSsoLogin,
        now: UnixMillis,
    ) -> DbResult<()> {
        // Abandoned sign-ins go as new ones start.
        sqlx::query("DELETE FROM sso_logins WHERE expires_at < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO sso_logins (token_hash, group_id, state, nonce, pkce_verifier, \
             redirect_uri, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token_hash)
        .bind(pending.group_id.to_string())
        .bind(&pending.state)
        .bind(&pending.nonce)
        .bind(&pending.pkce_verifier)
        .bind(&pending.redirect_uri)
        .bind(now)
        .bind(pending.expires_at)
        .execute(self.pool())
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Takes a pending sign-in out (single use: a second callback with the same cookie finds
    /// nothing).
    pub async fn take_sso_login(&self, token_hash: &str) -> DbResult<Option<PendingSsoLogin>> {
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT group_id, state, nonce, pkce_verifier, redirect_uri, expires_at \
             FROM sso_logins WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sso_logins WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        row.map(
            |(group_id, state, nonce, pkce_verifier, redirect_uri, expires_at)| {
                Ok(PendingSsoLogin {
                    group_id: parse_id(&group_id)?,
                    state,
                    nonce,
                    pkce_verifier,
                    redirect_uri,
                    expires_at,
                })
            },
        )
        .transpose()
    }

    /// The user linked to a provider identity (`issuer sub`).
    pub async fn user_by_sso_subject(&self, subject: &str) -> DbResult<Option<UserId>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE sso_subject = $1")
            .bind(subject)
            .fetch_optional(self.pool())
            .await?;
        row.map(|(id,)| parse_id(&id)).transpose()
    }

    /// The provider identity a user is linked to.
    pub async fn sso_subject_of(&self, user: UserId) -> DbResult<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT sso_subject FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.and_then(|(s,)| s))
    }

    /// Links a user to a provider identity (refused when another user has it).
    pub async fn link_sso_subject(&self, user: UserId, subject: &str) -> DbResult<()> {
        sqlx::query("UPDATE users SET sso_subject = $1 WHERE id = $2")
            .bind(subject)
            .bind(user.to_string())
            .execute(self.pool())
            .await
            .map_err(map_unique)?;
        Ok(())
    }
}
