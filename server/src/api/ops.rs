//! Operations endpoints: liveness, readiness, Prometheus metrics, client configuration.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::ClientConfig;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(client_config))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: String,
    pub database: String,
    pub object_store: String,
    /// The signaling hub and the media worker are running.
    pub live: String,
}

/// The process is alive and answering.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The database and the object store are reachable and the live hub and media worker are
/// running (503 otherwise).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.db.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(error) => {
            tracing::warn!(%error, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let object_store = match state.store.check_writable().await {
        Ok(()) => "ok".to_owned(),
        Err(error) => {
            tracing::warn!(%error, "readiness: object store not writable");
            "unreachable".to_owned()
        }
    };
    let live = if state.live.is_alive() {
        "ok"
    } else {
        "stalled"
    }
    .to_owned();
    let ready = database == "ok" && object_store == "ok" && live == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ok" } else { "unavailable" }.into(),
        database,
        object_store,
        live,
    };
    (status, Json(body)).into_response()
}

/// Prometheus text exposition of the process counters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let sessions = state
        .db
        .count_live_sessions(state.now())
        .await
        .unwrap_or(-1);
    let mut body = state.metrics.render(sessions, *START_TIME_SECS);
    let counters = state.live.sfu.counters();
    for (name, help, kind, value) in counters.snapshot() {
        use std::fmt::Write;
        let _ = writeln!(
            body,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    body.push_str(&counters.histograms());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

static START_TIME_SECS: std::sync::LazyLock<i64> =
    std::sync::LazyLock::new(|| chrono::Utc::now().timestamp());

/// Settings the browser needs: display time zone, version, camera limit.
#[utoipa::path(get, path = "/api/config", tag = "operations",
    responses((status = 200, body = ClientConfig)))]
async fn client_config(State(state): State<AppState>) -> Json<ClientConfig> {
    Json(ClientConfig {
        time_zone: state.config.time_zone.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        max_cameras: state.config.max_cameras_per_session,
        recording_retention_days: state.config.recording_retention_days,
    })
}
