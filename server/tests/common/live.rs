//! WebSocket signaling helpers shared by the live tests.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use remote_assist::ids::{DeviceId, GroupId};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{Account, START, TestApp};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A TLS client that trusts exactly the server's self-signed certificate.
pub fn tls_connector(app: &TestApp) -> tokio_tungstenite::Connector {
    let (cert, _) = remote_assist::tls::self_signed_paths(&app.state.config.data_dir);
    let pem = std::fs::read(cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_tungstenite::Connector::Rustls(Arc::new(config))
}

pub async fn open(
    app: &TestApp,
    addr: std::net::SocketAddr,
    cookie: Option<&str>,
    origin: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    open_with_headers(app, addr, cookie, origin, &[]).await
}

/// Like [`open`], with extra request headers (e.g. `X-Forwarded-For`).
pub async fn open_with_headers(
    app: &TestApp,
    addr: std::net::SocketAddr,
    cookie: Option<&str>,
    origin: &str,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("wss://localhost:{}/ws", addr.port())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        false,
        Some(tls_connector(app)),
    )
    .await?;
    Ok(ws)
}

pub fn origin(addr: std::net::SocketAddr) -> String {
    format!("https://localhost:{}", addr.port())
}

pub async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// Next JSON message, skipping pings; panics after 10 s.
pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("connection open")
            .expect("no protocol error");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Next message of a given type (skipping presence updates and others).
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let m = next(ws).await;
        if m["type"] == kind || m["type"] == "error" {
            return m;
        }
    }
}

pub async fn supporter(app: &TestApp, addr: std::net::SocketAddr, account: &Account) -> Ws {
    let cookie = app.session_cookie(account).await;
    let mut ws = open(app, addr, Some(&cookie), &origin(addr)).await.unwrap();
    send(&mut ws, json!({"type": "hello", "protocol": 1})).await;
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["you"]["kind"], "supporter");
    ws
}

/// Creates and pairs a device; returns its ID and credential.
pub async fn paired_device(app: &TestApp, group: GroupId, name: &str) -> (DeviceId, String) {
    let credential = remote_assist::auth::tokens::new_device_credential();
    let code_hash = remote_assist::auth::tokens::sha256_hex(name);
    let id = app
        .db
        .create_device(group, name, &code_hash, i64::MAX / 4, START)
        .await
        .unwrap();
    let redeemed = app
        .db
        .redeem_pairing_code(
            &code_hash,
            &remote_assist::auth::tokens::sha256_hex(&credential),
            START,
        )
        .await
        .unwrap();
    assert_eq!(redeemed, Some(id));
    (id, credential)
}

pub async fn camera(app: &TestApp, addr: std::net::SocketAddr, credential: &str) -> Ws {
    let mut ws = open(app, addr, None, &origin(addr)).await.unwrap();
    send(
        &mut ws,
        json!({"type": "hello", "protocol": 1, "credential": credential}),
    )
    .await;
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["you"]["kind"], "camera");
    ws
}

/// Publishes an SDP offer with WHIP as a device (through the system `curl`); the answer.
pub fn whip_post(url: &str, credential: &str, offer: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("curl")
        .args(["-sk", "--fail-with-body", "--max-time", "15", "-X", "POST"])
        .args(["-H", &format!("Authorization: Bearer {credential}")])
        .args([
            "-H",
            "Content-Type: application/sdp",
            "--data-binary",
            "@-",
            url,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl is installed (tests/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(offer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "WHIP POST failed: {body}");
    body
}
