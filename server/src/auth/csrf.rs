//! The origin half of CSRF protection, applied to every request by middleware.
//!
//! A state-changing request whose `Origin` (or, without one, `Referer`) names another site, or
//! that a browser marks `Sec-Fetch-Site: cross-site`, is refused before any handler runs. The
//! other half, the per-session token in `X-CSRF-Token`, is checked by [`super::SessionUser`];
//! together they refuse forged requests even from an old browser that sends no `Origin`.
//! Requests with neither header come from non-browser clients, which carry no ambient cookies;
//! they still need the token for anything a session authorises.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::is_safe_method;
use crate::api::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Middleware: refuse cross-site state-changing requests.
pub async fn reject_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !is_safe_method(req.method()) {
        let own = own_origin(&state, req.uri(), req.headers());
        if !same_origin_request(req.headers(), own.as_deref()) {
            state
                .metrics
                .csrf_rejections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return ApiError::new(ErrorCode::CsrfRejected).into_response();
        }
    }
    next.run(req).await
}

/// `https://host[:port]` of this server as browsers reach it: the configured public URL, else
/// the request's host (HTTP/2 names it in the URI, HTTP/1.1 in the Host header).
pub(crate) fn own_origin(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Option<String> {
    if let Some(public) = &state.config.public_url {
        return url::Url::parse(public)
            .ok()
            .map(|u| u.origin().ascii_serialization());
    }
    let host = uri.authority().map(|a| a.as_str().to_owned()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    })?;
    Some(format!("https://{}", host.to_ascii_lowercase()))
}

/// Decides from `Sec-Fetch-Site`, `Origin` and `Referer` whether a request is same-origin.
pub fn same_origin_request(headers: &HeaderMap, own: Option<&str>) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    let claimed = match text("origin") {
        // Sandboxed frames and some redirects send the literal "null": never same-origin.
        Some(origin) => Some(origin.to_ascii_lowercase()),
        None => text("referer")
            .and_then(|r| url::Url::parse(r).ok())
            .map(|u| u.origin().ascii_serialization()),
    };
    match (claimed, own) {
        (None, _) => true,
        (Some(claimed), Some(own)) => claimed == normalize_default_port(own),
        (Some(_), None) => false,
    }
}

/// `https://h:443` and `https://h` are the same origin.
fn normalize_default_port(origin: &str) -> String {
    origin
        .strip_suffix(":443")
        .unwrap_or(origin)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn origin_rules() {
        let own = Some("https://assist.example:8443");
        assert!(same_origin_request(&headers(&[]), own));
        assert!(same_origin_request(
            &headers(&[("origin", "https://assist.example:8443")]),
            own
        ));
        assert!(!same_origin_request(
            &headers(&[("origin", "https://evil.example")]),
            own
        ));
        assert!(!same_origin_request(&headers(&[("origin", "null")]), own));
        assert!(!same_origin_request(
            &headers(&[("origin", "http://assist.example:8443")]),
            own
        ));
        assert!(same_origin_request(
            &headers(&[("referer", "https://assist.example:8443/admin")]),
            own
        ));
        assert!(!same_origin_request(
            &headers(&[("referer", "https://evil.example/x")]),
            own
        ));
        assert!(!same_origin_request(
            &headers(&[("sec-fetch-site", "cross-site")]),
            own
        ));
        assert!(same_origin_request(
            &headers(&[("origin", "https://h")]),
            Some("https://h:443")
        ));
    }
}
