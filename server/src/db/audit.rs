//! The audit log: who did what, when, from where, with what outcome (R12, B5).
//!
//! Rows are append-only and keep no foreign keys, so evidence survives the deletion of the users,
//! devices or groups it mentions. Times are stored in UTC.

use sqlx::any::AnyArguments;
use sqlx::{Arguments, FromRow};

use super::{Db, DbResult};
use crate::clock::UnixMillis;

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Device,
    System,
    /// Not (yet) authenticated, e.g. a failed login.
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Device => "device",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Refused by an authorization check.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct NewAuditEvent {
    pub at: UnixMillis,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    pub group_id: Option<String>,
    pub action: &'static str,
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

/// One stored event.
#[derive(Clone, Debug, FromRow)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    pub group_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Filters for listing; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub group_id: Option<String>,
    pub action: Option<String>,
    /// Matches the actor's ID exactly or their label (login ID / device name) exactly.
    pub actor: Option<String>,
    /// Only events whose actor ID is exactly this (labels are not considered).
    pub actor_id: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<UnixMillis>,
    pub to: Option<UnixMillis>,
    /// Only events with a smaller ID (paging, newest first).
    pub before_id: Option<i64>,
    /// Only these actions (e.g. a user's own login history).
    pub actions_in: Option<&'static [&'static str]>,
    pub limit: i64,
}

impl Db {
    pub async fn insert_audit_event(&self, e: &NewAuditEvent) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, actor_kind, actor_id, actor_label, group_id, action, \
             target, client_ip, user_agent, outcome, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(e.at)
        .bind(e.actor_kind.as_str())
        .bind(e.actor_id.as_deref())
        .bind(e.actor_label.as_deref())
        .bind(e.group_id.as_deref())
        .bind(e.action)
        .bind(e.target.as_deref())
        .bind(e.client_ip.as_deref())
        .bind(e.user_agent.as_deref())
        .bind(e.outcome.as_str())
        .bind(e.detail.as_deref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Events matching `filter`, newest first.
    pub async fn list_audit_events(&self, filter: &AuditFilter) -> DbResult<Vec<AuditEvent>> {
        let mut sql = String::from(
            "SELECT id, at, actor_kind, actor_id, actor_label, group_id, action, target, \
             client_ip, user_agent, outcome, detail FROM audit_events WHERE 1 = 1",
        );
        let mut args = AnyArguments::default();
        let mut n = 0;
        let mut next = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace("$?", &format!("${n}")));
        };
        let bind_err = |e| sqlx::Error::Encode(e);
        if let Some(group) = &filter.group_id {
            next(&mut sql, " AND group_id = $?");
            args.add(group.clone()).map_err(bind_err)?;
        }
        if let Some(action) = &filter.action {
            next(&mut sql, " AND action = $?");
            args.add(action.clone()).map_err(bind_err)?;
        }
        if let Some(actor) = &filter.actor {
            next(&mut sql, " AND (actor_id = $?");
            args.add(actor.clone()).map_err(bind_err)?;
            next(&mut sql, " OR actor_label = $?)");
            args.add(actor.clone()).map_err(bind_err)?;
        }
        if let Some(actor_id) = &filter.actor_id {
            next(&mut sql, " AND actor_id = $?");
            args.add(actor_id.clone()).map_err(bind_err)?;
        }
        if let Some(outcome) = &filter.outcome {
            next(&mut sql, " AND outcome = $?");
            args.add(outcome.clone()).map_err(bind_err)?;
        }
        if let Some(from) = filter.from {
            next(&mut sql, " AND at >= $?");
            args.add(from).map_err(bind_err)?;
        }
        if let Some(to) = filter.to {
            next(&mut sql, " AND at < $?");
            args.add(to).map_err(bind_err)?;
        }
        if let Some(before) = filter.before_id {
            next(&mut sql, " AND id < $?");
            args.add(before).map_err(bind_err)?;
        }
        if let Some(actions) = filter.actions_in {
            sql.push_str(" AND action IN (");
            for (i, action) in actions.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                next(&mut sql, "$?");
                args.add(action.to_string()).map_err(bind_err)?;
            }
            sql.push(')');
        }
        next(&mut sql, " ORDER BY id DESC LIMIT $?");
        args.add(filter.limit).map_err(bind_err)?;
        let rows = sqlx::query_as_with::<_, AuditEvent, _>(&sql, args)
            .fetch_all(self.pool())
            .await?;
        Ok(rows)
    }
}
