//! The Janus side of a run: the same room of four cameras and a supporter, through Janus's
//! WebSocket API and its VideoRoom plugin. Each camera publishes video and audio; the
//! supporter publishes its microphone and subscribes to the four cameras in one multistream
//! subscription (Janus offers, we answer); each camera subscribes to the supporter's voice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use remote_assist_sfu::PeerRole;
use remote_assist_sfu::test_client::TestPeer;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// One Janus session on its own WebSocket, shared by the handles of a room.
#[derive(Clone)]
pub struct Session {
    out: mpsc::Sender<Value>,
    pending: Pending,
    pub id: u64,
}

fn transaction() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

impl Session {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "janus-protocol".parse()?);
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::channel::<Value>(256);
        let pending: Pending = Default::default();
        tokio::spawn(async move {
            while let Some(value) = out_rx.recv().await {
                if sink
                    .send(Message::Text(value.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        {
            let pending = pending.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Ok(value) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    // Plugin requests are acked first; their answer is the event that follows.
                    if value["janus"] == "ack" {
                        continue;
                    }
                    if let Some(t) = value["transaction"].as_str()
                        && let Some(reply) = pending.lock().await.remove(t)
                    {
                        let _ = reply.send(value);
                    }
                }
            });
        }
        let mut session = Self {
            out,
            pending,
            id: 0,
        };
        let created = session.call(json!({"janus": "create"})).await?;
        session.id = created["data"]["id"].as_u64().context("session id")?;
        let keepalive = session.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                let message = json!({"janus": "keepalive", "session_id": keepalive.id, "transaction": transaction()});
                if keepalive.out.send(message).await.is_err() {
                    break;
                }
            }
        });
        Ok(session)
    }

    async fn call(&self, mut message: Value) -> anyhow::Result<Value> {
        let t = transaction();
        message["transaction"] = json!(t);
        if self.id != 0 {
            message["session_id"] = json!(self.id);
        }
        let (reply, rx) = oneshot::channel();
        self.pending.lock().await.insert(t, reply);
        self.out
            .send(message)
            .await
            .context("janus connection closed")?;
        let answer = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .context("janus did not answer in time")??;
        if answer["janus"] == "error" || answer["plugindata"]["data"]["error"].is_string() {
            bail!("janus refused: {answer}");
        }
        Ok(answer)
    }

    pub async fn attach(&self) -> anyhow::Result<u64> {
        let answer = self
            .call(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}))
            .await?;
        answer["data"]["id"].as_u64().context("handle id")
    }

    /// Tells Janus our candidates are all in the SDP already (no trickle).
    pub async fn candidates_done(&self, handle: u64) -> anyhow::Result<()> {
        let message = json!({
            "janus": "trickle", "handle_id": handle, "session_id": self.id,
            "transaction": transaction(), "candidate": {"completed": true}
        });
        self.out
            .send(message)
            .await
            .context("janus connection closed")?;
        Ok(())
    }

    pub async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut message = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some(jsep) = jsep {
            message["jsep"] = jsep;
        }
        self.call(message).await
    }
}

/// Creates a room for four cameras and a supporter (H.264 and Opus, like ours).
pub async fn create_room(
    session: &Session,
    room: u64,
    record_dir: Option<&str>,
) -> anyhow::Result<()> {
    let handle = session.attach().await?;
    let mut body = json!({
        "request": "create", "room": room, "publishers": 8, "videocodec": "h264",
        "audiocodec": "opus", "h264_profile": "42e01f", "bitrate": 0, "fir_freq": 0
    });
    if let Some(dir) = record_dir {
        body["record"] = json!(true);
        body["rec_dir"] = json!(dir);
    }
    session.message(handle, body, None).await?;
    Ok(())
}

/// Publishes a peer's offer into `room`; returns the publisher ID once Janus answered.
async fn publish(
    session: &Session,
    room: u64,
    peer: &mut TestPeer,
    audio_only: bool,
) -> anyhow::Result<u64> {
    let handle = session.attach().await?;
    let joined = session
        .message(
            handle,
            json!({"request": "join", "ptype": "publisher", "room": room}),
            None,
        )
        .await?;
    let id = joined["plugindata"]["data"]["id"]
        .as_u64()
        .context("publisher id")?;
    let offer = peer.offer();
    let configured = session
        .message(
            handle,
            json!({"request": "configure", "audio": true, "video": !audio_only}),
            Some(json!({"type": "offer", "sdp": offer})),
        )
        .await?;
    let sdp = configured["jsep"]["sdp"]
        .as_str()
        .context("publisher answer")?;
    peer.answer(sdp, None);
    session.candidates_done(handle).await?;
    Ok(id)
}

/// Subscribes to `feeds` of `room` in one connection (Janus offers, we answer). The join clock
/// of each feed's camera starts with the request.
async fn subscribe(session: &Session, room: u64, feeds: &[u64]) -> anyhow::Result<TestPeer> {
    let handle = session.attach().await?;
    let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
    let attached = session
        .message(
            handle,
            json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams}),
            None,
        )
        .await?;
    let offer = attached["jsep"]["sdp"]
        .as_str()
        .context("subscriber offer")?;
    let (peer, answer) = TestPeer::answering(offer).await;
    session
        .message(
            handle,
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
    session.candidates_done(handle).await?;
    Ok(peer)
}

pub struct JanusRoom {
    pub cameras: Vec<TestPeer>,
    /// Each camera's subscription to the supporter's voice.
    pub camera_ears: Vec<TestPeer>,
    pub supporter_mic: TestPeer,
    pub supporter_view: TestPeer,
}

/// Builds one room: four publishing cameras, the supporter's microphone, the supporter's view
/// of the four (join times noted by camera index) and each camera's subscription to the voice.
pub async fn room(
    url: &str,
    room: u64,
    camera_indexes: &[u32],
    record_dir: Option<&str>,
    joined: Arc<std::sync::Mutex<HashMap<u32, Instant>>>,
) -> anyhow::Result<JanusRoom> {
    let session = Session::connect(url).await?;
    create_room(&session, room, record_dir).await?;
    let mut cameras = Vec::new();
    let mut feeds = Vec::new();
    for _ in camera_indexes {
        let mut camera = TestPeer::new(PeerRole::Publisher).await;
        feeds.push(publish(&session, room, &mut camera, false).await?);
        crate::peers::connect(&mut camera, Duration::from_secs(20)).await?;
        cameras.push(camera);
    }
    let mut supporter_mic = TestPeer::microphone().await;
    let mic_feed = publish(&session, room, &mut supporter_mic, true).await?;
    crate::peers::connect(&mut supporter_mic, Duration::from_secs(20)).await?;
    {
        let now = Instant::now();
        let mut joined = joined.lock().expect("not poisoned");
        for index in camera_indexes {
            joined.insert(*index, now);
        }
    }
    let mut supporter_view = subscribe(&session, room, &feeds).await?;
    crate::peers::connect(&mut supporter_view, Duration::from_secs(20)).await?;
    let mut camera_ears = Vec::new();
    for _ in camera_indexes {
        let mut ear = subscribe(&session, room, &[mic_feed]).await?;
        crate::peers::connect(&mut ear, Duration::from_secs(20)).await?;
        camera_ears.push(ear);
    }
    Ok(JanusRoom {
        cameras,
        camera_ears,
        supporter_mic,
        supporter_view,
    })
}
