//! The HTTP surface: REST API, operations endpoints, pages and static files, and the middleware
//! every response passes through (security headers, origin check, request IDs, body limit,
//! metrics).
//!
//! [`app`] builds the whole router from an [`AppState`]; tests call it directly with
//! `tower::ServiceExt::oneshot`, and the server serves the same router over TLS.

pub mod audit;
pub mod auth;
pub mod devices;
pub mod error;
pub mod groups;
pub mod mfa;
pub mod ops;
pub mod recordings;
pub mod snapshots;
pub mod sso;
pub mod users;
pub mod views;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use error::{ApiError, ErrorCode};

/// JSON body extractor whose failures are API errors (clear 400/413/415, never plain text).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Raw body extractor with API-error rejections (a body over the limit is a JSON 413).
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(ApiError::from)
    }
}

/// Path parameter extractor with API-error rejections (a malformed ID is a 400).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query string extractor with API-error rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "remote-assist API",
        description = "REST API of the remote-assist server. Errors are `{\"error\": {\"code\", \"message\", \"message_ja\"}}`. State-changing requests with the session cookie need the `X-CSRF-Token` header.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Login, logout, own password and history"),
        (name = "groups", description = "Groups (tenant boundary)"),
        (name = "users", description = "User administration"),
        (name = "devices", description = "Camera devices and pairing"),
        (name = "audit", description = "Audit log"),
        (name = "recordings", description = "Recordings and snapshots of the sessions you took part in"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "device_credential",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every documented API route, with its OpenAPI description.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(mfa::routes())
        .merge(sso::routes())
        .merge(groups::routes())
        .merge(users::routes())
        .merge(devices::routes())
        .merge(audit::routes())
        .merge(recordings::routes())
        .merge(snapshots::routes())
        .merge(ops::routes())
        .split_for_parts();
    document_common_errors(&mut spec);
    (router, spec)
}

/// Answers any operation can give whatever its handler documents: a malformed request (400),
/// no or an expired session (401), CSRF/role/address refusals (403), unknown IDs (404), a body
/// too large (413) or not JSON (415), rate limits (429), and server trouble (500/503). All
/// carry the common error body.
fn document_common_errors(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let common = [
        ("400", "Malformed request (`invalid_input` and similar)"),
        (
            "401",
            "Not logged in, or the session or credential is not valid",
        ),
        ("403", "Refused: CSRF check, role, group or network"),
        ("404", "No such object (or not visible to the caller)"),
        ("413", "Request body too large"),
        ("415", "Request body is not JSON"),
        ("429", "Rate limited; see `Retry-After`"),
        ("500", "Internal error"),
        ("503", "Temporarily unavailable (database or object store)"),
    ];
    for item in spec.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for (status, description) in common {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build()
                            .into()
                    });
            }
        }
    }
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().1
}

/// The complete application router.
pub fn app(state: AppState) -> Router {
    let (api, spec) = api_routes();
    let spec_json = spec.to_json().expect("OpenAPI document serializes");
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], spec_json)
            }),
        )
        .route("/ws", axum::routing::get(crate::live::ws::ws_upgrade))
        .route(
            "/whip/{device_id}",
            axum::routing::post(crate::live::whip::whip_publish),
        )
        .route(
            "/whip/{device_id}/{session}",
            axum::routing::delete(crate::live::whip::whip_delete),
        )
        .merge(crate::web::routes())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::csrf::reject_cross_site,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::ratelimit::limit_requests,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::network::resolve_client_ip,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), count_responses))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn fallback() -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed)
}

/// Content Security Policy: no inline script or style, nothing from other origins, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
     object-src 'none'";

/// Headers on every response (R3, R16).
async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    );
    set(headers, "content-security-policy", CONTENT_SECURITY_POLICY);
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    set(
        headers,
        "permissions-policy",
        "camera=(self), microphone=(self), geolocation=(), payment=(), usb=(), interest-cohort=()",
    );
    set(headers, "cross-origin-opener-policy", "same-origin");
    set(headers, "cross-origin-resource-policy", "same-origin");
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    response
}

async fn count_responses(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    state.metrics.count_status(response.status().as_u16());
    response
}

impl IntoResponse for ErrorCode {
    fn into_response(self) -> Response {
        ApiError::new(self).into_response()
    }
}
