//! Serving: the HTTPS listener (rustls, HTTP/1.1 and HTTP/2), the optional plain-HTTP listener
//! that only redirects to HTTPS, and graceful shutdown.
//!
//! Listeners are bound by the caller and passed in, so tests bind `127.0.0.1:0` and learn the
//! port before anything runs; nothing here sleeps waiting for start-up.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::state::AppState;

/// A client that does not finish the TLS handshake in this time is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The sockets the server answers on.
pub struct Listeners {
    pub https: TcpListener,
    pub http_redirect: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(
        https: SocketAddr,
        http_redirect: Option<SocketAddr>,
    ) -> std::io::Result<Self> {
        let https = TcpListener::bind(https).await?;
        let http_redirect = match http_redirect {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok(Self {
            https,
            http_redirect,
        })
    }
}

/// Serves until `shutdown` completes, then drains connections for up to [`SHUTDOWN_GRACE`].
pub async fn serve(
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let https_port = listeners.https.local_addr()?.port();
    let app = crate::api::app(state.clone());
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    // With a public URL configured, every redirect goes there: a forged Host cannot pick it.
    let public_origin: Option<Arc<str>> = state
        .config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization().into());
    let redirect_task = listeners.http_redirect.map(|listener| {
        let redirect = Router::new().fallback(move |req: Request| {
            let public_origin = public_origin.clone();
            async move {
                redirect_to_https(
                    req.uri(),
                    req.headers().get(header::HOST),
                    https_port,
                    public_origin.as_deref(),
                )
            }
        });
        tokio::spawn(accept_loop(
            listener,
            None,
            redirect,
            state.clone(),
            graceful.clone(),
            stop_rx.clone(),
        ))
    });
    accept_loop(
        listeners.https,
        Some(TlsAcceptor::from(tls)),
        app,
        state,
        graceful.clone(),
        stop_rx,
    )
    .await;
    if let Some(task) = redirect_task {
        let _ = task.await;
    }
    tracing::info!(
        connections = graceful.count(),
        "shutting down; waiting for open connections"
    );
    // Both accept loops have returned, so this is the last reference.
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        return Ok(());
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period; closing them");
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    state: AppState,
    graceful: Arc<GracefulShutdown>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let state = state.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app.map_request(
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(remote));
                    req
                },
            ));
            let builder = auto::Builder::new(TokioExecutor::new());
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            state
                                .metrics
                                .tls_handshake_failures
                                .fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            state
                                .metrics
                                .tls_handshake_failures
                                .fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
}

/// `308` to the same path at the public URL's origin when one is configured, else on the HTTPS
/// port of the same host.
fn redirect_to_https(
    uri: &Uri,
    host: Option<&axum::http::HeaderValue>,
    https_port: u16,
    public_origin: Option<&str>,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if let Some(origin) = public_origin {
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, format!("{origin}{path}"))],
        )
            .into_response();
    }
    let host = host
        .and_then(|h| h.to_str().ok())
        .map(|h| strip_port(h).to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "missing or invalid Host header").into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let location = format!("https://{host}{port}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6]:port
        return host
            .split_once("]:")
            .map(|(h, _)| h)
            .map_or(host, |h| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_host_and_path() {
        let uri: Uri = "/admin?tab=users".parse().unwrap();
        let host = axum::http::HeaderValue::from_static("assist.local:8080");
        let response = redirect_to_https(&uri, Some(&host), 8443, None);
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://assist.local:8443/admin?tab=users"
        );
        let evil = axum::http::HeaderValue::from_static("evil.example/path");
        assert_eq!(
            redirect_to_https(&uri, Some(&evil), 443, None).status(),
            StatusCode::BAD_REQUEST
        );
        // A configured public URL wins over whatever Host the request names.
        let response = redirect_to_https(
            &uri,
            Some(&evil),
            8443,
            Some("https://assist.example.co.jp"),
        );
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://assist.example.co.jp/admin?tab=users"
        );
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
