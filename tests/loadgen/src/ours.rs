//! The remote-assist side of a run, speaking the server's own signaling exactly as the field
//! page and the console do: cameras authenticate with their device credential and offer; the
//! supporter logs in (`POST /api/auth/login`), offers four slots and connects each camera of its
//! room (`connect_camera`), which is when the join clock starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use remote_assist_sfu::PeerRole;
use remote_assist_sfu::test_client::TestPeer;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One room's accounts, as written by `provision`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct RoomAccounts {
    pub supporter_login: String,
    pub supporter_password: String,
    /// (device ID, credential) of its four cameras.
    pub cameras: Vec<(String, String)>,
}

/// Accepts the server's self-signed certificate: the load generator only talks to 127.0.0.1.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2/1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    )
}

/// Sends one HTTP/1.1 request (with `Connection: close`) and returns the whole answer.
async fn https_exchange(addr: &str, request: &str) -> anyhow::Result<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(tls_config());
    let name = rustls::pki_types::ServerName::try_from("localhost")?.to_owned();
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    // The server may close without a TLS close_notify; what arrived is the answer.
    let _ = tls.read_to_end(&mut answer).await;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The server's `/metrics` text.
pub async fn metrics(addr: &str) -> anyhow::Result<String> {
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let answer = https_exchange(addr, &request).await?;
    ensure!(
        answer.starts_with("HTTP/1.1 200"),
        "/metrics: {}",
        answer.lines().next().unwrap_or("")
    );
    let (_, body) = answer.split_once("\r\n\r\n").context("/metrics: no body")?;
    Ok(body.to_owned())
}

/// Logs in and returns the session cookie (`name=value`).
pub async fn login(addr: &str, login_id: &str, password: &str) -> anyhow::Result<String> {
    let body = json!({"login_id": login_id, "password": password}).to_string();
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://{addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let text = https_exchange(addr, &request).await?;
    ensure!(
        text.starts_with("HTTP/1.1 200"),
        "login of {login_id} failed: {}",
        text.lines().next().unwrap_or("")
    );
    text.lines()
        .find_map(|l| {
            let l = l.strip_prefix("set-cookie: ")?;
            Some(l.split(';').next()?.to_owned())
        })
        .context("no session cookie")
}

async fn open(addr: &str, cookie: Option<&str>) -> anyhow::Result<Ws> {
    let mut request = format!("wss://{addr}/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("origin", format!("https://{addr}").parse()?);
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse()?);
    }
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(tls_config())),
    )
    .await?;
    Ok(ws)
}

async fn send(ws: &mut Ws, value: Value) -> anyhow::Result<()> {
    ws.send(Message::Text(value.to_string().into())).await?;
    Ok(())
}

/// The next message of `kind` (or an error message), skipping others; bounded in time.
async fn next_of(ws: &mut Ws, kind: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, ws.next())
            .await
            .with_context(|| format!("no {kind} message in time"))?
            .context("connection closed")??;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] == kind {
                return Ok(value);
            }
            if value["type"] == "error" {
                bail!("server error while waiting for {kind}: {value}");
            }
        }
    }
}

/// A signaling connection kept open by a task; closed when this is dropped.
pub struct Signal(tokio::task::JoinHandle<()>);

impl Drop for Signal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps reading (WebSocket pings are answered while reading) until dropped.
fn keep_open(mut ws: Ws) -> Signal {
    Signal(tokio::spawn(async move {
        while let Some(Ok(_)) = ws.next().await {}
    }))
}

/// A connected camera: its media peer and its signaling connection.
pub struct Camera {
    pub peer: TestPeer,
    pub signal: Signal,
}

/// Brings a camera online: hello with its credential, offer, answer, ICE and DTLS.
pub async fn camera(addr: &str, device_id: &str, credential: &str) -> anyhow::Result<Camera> {
    let mut ws = open(addr, None).await?;
    send(
        &mut ws,
        json!({"type": "hello", "protocol": 1, "credential": credential}),
    )
    .await?;
    let welcome = next_of(&mut ws, "welcome").await?;
    ensure!(welcome["you"]["device_id"] == device_id, "{welcome}");
    let mut peer = TestPeer::new(PeerRole::Publisher).await;
    send(&mut ws, json!({"type": "offer", "sdp": peer.offer()})).await?;
    let answer = next_of(&mut ws, "answer").await?;
    peer.answer(answer["sdp"].as_str().context("answer sdp")?, None);
    crate::peers::connect(&mut peer, Duration::from_secs(20)).await?;
    Ok(Camera {
        peer,
        signal: keep_open(ws),
    })
}

/// The supporter of a room: logs in, offers four slots, connects the room's cameras (noting
/// when each was asked for), and keeps the signaling connection open.
pub async fn supporter(
    addr: &str,
    room: &RoomAccounts,
    camera_indexes: &[u32],
    joined: Arc<std::sync::Mutex<HashMap<u32, Instant>>>,
) -> anyhow::Result<(TestPeer, Signal)> {
    let cookie = login(addr, &room.supporter_login, &room.supporter_password).await?;
    let mut ws = open(addr, Some(&cookie)).await?;
    send(&mut ws, json!({"type": "hello", "protocol": 1})).await?;
    next_of(&mut ws, "welcome").await?;
    let mut peer = TestPeer::new(PeerRole::Subscriber { slots: 4 }).await;
    send(&mut ws, json!({"type": "offer", "sdp": peer.offer()})).await?;
    let answer = next_of(&mut ws, "answer").await?;
    peer.answer(answer["sdp"].as_str().context("answer sdp")?, None);
    crate::peers::connect(&mut peer, Duration::from_secs(20)).await?;
    for ((device, _), index) in room.cameras.iter().zip(camera_indexes) {
        joined
            .lock()
            .expect("not poisoned")
            .insert(*index, Instant::now());
        send(
            &mut ws,
            json!({"type": "connect_camera", "device_id": device}),
        )
        .await?;
        next_of(&mut ws, "camera_added").await?;
    }
    Ok((peer, keep_open(ws)))
}
