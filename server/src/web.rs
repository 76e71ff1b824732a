//! Pages and static assets of the browser front end (`web/`).
//!
//! The files are embedded into the binary at compile time (release builds) and read from disk in
//! debug builds, so the product runs without any front-end build step and developers see edits
//! on reload. Pages are plain HTML that load ES modules; there is no server-side templating, so
//! no server data is ever interpolated into markup.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../web"]
struct WebAssets;

/// URL path -> page file.
pub const PAGES: &[(&str, &str)] = &[
    ("/", "index.html"),
    ("/login", "login.html"),
    ("/password", "password.html"),
    ("/history", "history.html"),
    ("/admin", "admin.html"),
    ("/pair", "pair.html"),
    ("/field", "field.html"),
    ("/share", "share.html"),
    ("/recordings", "recordings.html"),
];

pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/static/{*path}", get(static_file));
    for (path, file) in PAGES {
        router = router.route(path, get(move || async move { page(file) }));
    }
    router
}

fn page(file: &str) -> Response {
    match WebAssets::get(file) {
        Some(content) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            content.data,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "page missing from this build").into_response(),
    }
}

async fn static_file(Path(path): Path<String>) -> Response {
    // rust-embed only knows the files that exist under web/; `..` cannot escape it, and in debug
    // builds it rejects paths that resolve outside the folder.
    if path
        .split('/')
        .any(|segment| segment == ".." || segment.is_empty())
    {
        return crate::api::error::ApiError::new(crate::api::error::ErrorCode::NotFound)
            .into_response();
    }
    match WebAssets::get(&path) {
        Some(content) => {
            let mime = mime_guess::from_path(&path).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_owned()),
                    (header::CACHE_CONTROL, "no-cache".to_owned()),
                ],
                content.data,
            )
                .into_response()
        }
        None => {
            crate::api::error::ApiError::new(crate::api::error::ErrorCode::NotFound).into_response()
        }
    }
}
