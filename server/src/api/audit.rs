//! The audit log for administrators: filter, page, export as CSV. Group admins see only events
//! of their own group.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiQuery;
use super::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use super::views::{AuditEventList, AuditEventView, AuditQuery};
use crate::auth::ActiveUser;
use crate::clock::{parse_time_filter, to_rfc3339};
use crate::db::audit::{AuditEvent, AuditFilter, Outcome};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(export_audit_csv))
        .routes(routes!(list_deletions))
        .routes(routes!(export_deletions_csv))
}

/// Evidence of one deleted recording or snapshot.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeletionView {
    pub id: i64,
    /// `recording` or `snapshot`.
    pub kind: String,
    /// ID of the deleted recording (or snapshot, when `kind` is `snapshot`).
    pub recording_id: String,
    pub group_id: String,
    pub device_name: String,
    pub recorded_at: String,
    /// SHA-256 of the recording's content, as stored when it was made.
    pub sha256: Option<String>,
    pub size: i64,
    /// `user` or `retention`.
    pub reason: String,
    pub deleted_at: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeletionList {
    pub deletions: Vec<DeletionView>,
}

async fn deletions_for(
    state: &AppState,
    me: &ActiveUser,
    query: &super::views::GroupFilter,
) -> ApiResult<Vec<crate::db::recordings::DeletionRecord>> {
    me.require_admin()?;
    let group = match (me.scope(), query.group_id) {
        (None, requested) => requested,
        (Some(own), None) => Some(own),
        (Some(own), Some(requested)) if requested == own => Some(own),
        (Some(_), Some(_)) => return Err(ErrorCode::NotFound.into()),
    };
    Ok(state.db.deletion_records(group, 10_000).await?)
}

/// Deletion records of recordings (evidence for customers), newest first. Group admins see
/// their own group's.
#[utoipa::path(get, path = "/api/deletions", tag = "audit", params(super::views::GroupFilter),
    responses((status = 200, body = DeletionList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deletions(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiQuery(query): ApiQuery<super::views::GroupFilter>,
) -> ApiResult<Json<DeletionList>> {
    let records = deletions_for(&state, &me, &query).await?;
    Ok(Json(DeletionList {
        deletions: records
            .into_iter()
            .map(|r| DeletionView {
                id: r.id,
                kind: r.object_kind,
                recording_id: r.recording_id,
                group_id: r.group_id,
                device_name: r.device_name,
                recorded_at: to_rfc3339(r.started_at),
                sha256: r.sha256,
                size: r.plaintext_bytes,
                reason: r.reason,
                deleted_at: to_rfc3339(r.deleted_at),
                actor_kind: r.actor_kind,
                actor_id: r.actor_id,
                actor_label: r.actor_label,
            })
            .collect(),
    }))
}

/// The deletion records as CSV (UTF-8 with BOM).
#[utoipa::path(get, path = "/api/deletions.csv", tag = "audit", params(super::views::GroupFilter),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn export_deletions_csv(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiQuery(query): ApiQuery<super::views::GroupFilter>,
) -> ApiResult<Response> {
    let records = deletions_for(&state, &me, &query).await?;
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        let header = [
            "kind",
            "recording_id",
            "group_id",
            "device_name",
            "recorded_at_utc",
            "sha256",
            "size",
            "reason",
            "deleted_at_utc",
            "actor_kind",
            "actor_id",
            "actor_label",
        ];
        writer.write_record(header).map_err(ApiError::internal)?;
        for r in &records {
            writer
                .write_record([
                    r.object_kind.clone(),
                    r.recording_id.clone(),
                    r.group_id.clone(),
                    csv_safe(&r.device_name),
                    to_rfc3339(r.started_at),
                    r.sha256.clone().unwrap_or_default(),
                    r.plaintext_bytes.to_string(),
                    r.reason.clone(),
                    to_rfc3339(r.deleted_at),
                    r.actor_kind.clone(),
                    r.actor_id.clone().unwrap_or_default(),
                    csv_safe(r.actor_label.as_deref().unwrap_or("")),
                ])
                .map_err(ApiError::internal)?;
        }
        writer.flush().map_err(ApiError::internal)?;
    }
    let mut event = me.event(state.now(), "deletions.export", Outcome::Success);
    event.detail = Some(format!("{} records", records.len()));
    state.audit(event).await;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"deletions.csv\"".to_owned(),
            ),
        ],
        out,
    )
        .into_response())
}

const PAGE_DEFAULT: i64 = 100;
const PAGE_MAX: i64 = 1000;
const CSV_DEFAULT: i64 = 10_000;
const CSV_MAX: i64 = 100_000;

fn filter_for(
    state: &AppState,
    me: &ActiveUser,
    query: AuditQuery,
    default_limit: i64,
    max_limit: i64,
) -> ApiResult<AuditFilter> {
    me.require_admin()?;
    let group_id = match (me.scope(), query.group_id) {
        (None, requested) => requested,
        (Some(own), None) => Some(own),
        (Some(own), Some(requested)) if requested == own => Some(own),
        (Some(_), Some(_)) => return Err(ErrorCode::NotFound.into()),
    };
    let tz = state.config.tz();
    let time = |field: &str, value: Option<String>| -> ApiResult<Option<i64>> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| {
                parse_time_filter(&v, tz).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "{field} must be an RFC 3339 time or a YYYY-MM-DD date"
                    ))
                })
            })
            .transpose()
    };
    let limit = query.limit.unwrap_or(default_limit);
    if !(1..=max_limit).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {max_limit}"
        )));
    }
    let text = |v: Option<String>| {
        v.filter(|v| !v.is_empty())
            .map(|v| v.chars().take(200).collect())
    };
    Ok(AuditFilter {
        group_id: group_id.map(|g| g.to_string()),
        action: text(query.action),
        actor: text(query.actor),
        actor_id: None,
        outcome: text(query.outcome),
        from: time("from", query.from)?,
        to: time("to", query.to)?,
        before_id: query.before,
        actions_in: None,
        limit,
    })
}

/// Audit events, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditEventList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_audit(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditEventList>> {
    let filter = filter_for(&state, &me, query, PAGE_DEFAULT, PAGE_MAX)?;
    let events = state.db.list_audit_events(&filter).await?;
    Ok(Json(AuditEventList {
        events: events.into_iter().map(AuditEventView::from).collect(),
    }))
}

/// Cells starting with these are formulas to a spreadsheet; a quote makes them text.
fn csv_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn to_csv(events: &[AuditEvent], tz: chrono_tz::Tz) -> Result<Vec<u8>, csv::Error> {
    // A UTF-8 byte order mark so that Excel in a Japanese locale opens the file correctly.
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record([
            "id",
            "time_utc",
            "time_local",
            "actor_kind",
            "actor_id",
            "actor_label",
            "group_id",
            "action",
            "target",
            "client_ip",
            "user_agent",
            "outcome",
            "detail",
        ])?;
        for e in events {
            let local = chrono::DateTime::from_timestamp_millis(e.at)
                .unwrap_or_default()
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string();
            let opt = |v: &Option<String>| csv_safe(v.as_deref().unwrap_or(""));
            writer.write_record([
                e.id.to_string(),
                to_rfc3339(e.at),
                local,
                e.actor_kind.clone(),
                opt(&e.actor_id),
                opt(&e.actor_label),
                opt(&e.group_id),
                csv_safe(&e.action),
                opt(&e.target),
                opt(&e.client_ip),
                opt(&e.user_agent),
                e.outcome.clone(),
                opt(&e.detail),
            ])?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// The same events as CSV (UTF-8 with BOM), for evidence requests.
#[utoipa::path(get, path = "/api/audit.csv", tag = "audit", params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_audit_csv(
    State(state): State<AppState>,
    me: ActiveUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let filter = filter_for(&state, &me, query, CSV_DEFAULT, CSV_MAX)?;
    let events = state.db.list_audit_events(&filter).await?;
    let body = to_csv(&events, state.config.tz()).map_err(ApiError::internal)?;
    let mut event = me.event(state.now(), "audit.export", Outcome::Success);
    event.detail = Some(format!("{} events", events.len()));
    state.audit(event).await;
    let filename = format!(
        "audit-{}.csv",
        chrono::DateTime::from_timestamp_millis(state.now())
            .unwrap_or_default()
            .format("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_neutralises_formulas() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("tanaka"), "tanaka");
    }
}
