//! The recording writer: takes the SFU's fragmented-MP4 output of every recording, encrypts it
//! (per-recording data key, chunked AES-256-GCM) and appends it to the object store while the
//! session runs, keeping the plaintext SHA-256 for later integrity checks.
//!
//! One task owns every open writer. The hub registers a recording ([`RecordingService::begin`],
//! which also creates its database row with its participants and wrapped key) before the SFU is
//! told to record, so no output can arrive for an unknown recording.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use remote_assist_sfu::{RecordingEvent, RecordingKey};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::Clock;
use crate::db::Db;
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::recordings::{NewRecording, RecordingId};
use crate::ids::{DeviceId, GroupId, UserId};
use crate::storage::crypto::{DataKey, Encryptor, Keyring};
use crate::storage::objects::ObjectStore;

/// Registrations waiting for the writer task. Callers wait when it is full.
pub const BEGIN_QUEUE: usize = 64;

/// What the hub knows when a camera joins a session.
#[derive(Clone, Debug)]
pub struct RecordingMeta {
    pub group_id: GroupId,
    pub device_id: DeviceId,
    pub device_name: String,
    /// The users who take part (they alone may reach the recording).
    pub participants: Vec<UserId>,
    /// The live session the camera is in (groups its recordings and snapshots).
    pub session_id: String,
}

struct Begin {
    key: RecordingKey,
    meta: RecordingMeta,
    reply: oneshot::Sender<Option<RecordingId>>,
}

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub struct RecordingService {
    begin: mpsc::Sender<Begin>,
    /// Turns true when the writer task has ended.
    stopped: watch::Receiver<bool>,
}

struct Writer {
    id: RecordingId,
    object_key: String,
    encryptor: Encryptor,
    sha: Sha256,
    plaintext: u64,
    stored: u64,
    meta: RecordingMeta,
    failed: bool,
    /// `mp4`, or `webm` once the first bytes say so (a VP8 camera).
    container: &'static str,
}

/// WebM recordings larger than this are kept as streamed (playable, but without a duration
/// and seek index) rather than rewritten in memory.
pub const MAX_WEBM_FINALIZE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Clone)]
pub struct Settings {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub keyring: Keyring,
    pub store: ObjectStore,
    pub retention_days: u32,
    /// Local directory of tail journals: the not-yet-sealed end of each running recording, so
    /// that a crash loses nothing handed to the writer (see [`Encryptor::seal_tail`]).
    pub journal_dir: std::path::PathBuf,
}

/// Where the tail journal of an object lives.
pub fn journal_path(dir: &std::path::Path, object_key: &str) -> std::path::PathBuf {
    dir.join(format!("{object_key}.tail"))
}

/// Replaces the journal atomically (write, sync, rename): a crash leaves the old one or the new.
async fn write_journal(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension("tail.tmp");
    let mut file = tokio::fs::File::create(&tmp).await?;
    file.write_all(bytes).await?;
    file.sync_data().await?;
    drop(file);
    tokio::fs::rename(&tmp, path).await
}

async fn remove_journal(settings: &Settings, object_key: &str) {
    match tokio::fs::remove_file(journal_path(&settings.journal_dir, object_key)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(%error, object_key, "cannot remove a tail journal"),
    }
}

impl RecordingService {
    pub fn start(settings: Settings, events: mpsc::Receiver<RecordingEvent>) -> Self {
        let (begin, begin_rx) = mpsc::channel(BEGIN_QUEUE);
        let (stopped_tx, stopped) = watch::channel(false);
        tokio::spawn(async move {
            run(Arc::new(settings), begin_rx, events).await;
            let _ = stopped_tx.send(true);
        });
        Self { begin, stopped }
    }

    /// Waits until the writer task has written every event sent before its event channel
    /// closed, and ended. Recordings that were finished go on finishing in their own tasks.
    pub async fn stopped(&self) {
        let mut stopped = self.stopped.clone();
        // An error means the task is gone without saying so (it panicked): stopped as well.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    /// Creates the recording (row, participants, wrapped key) and its writer. `None` when it
    /// could not be created (the session goes on unrecorded, and the error is logged).
    pub async fn begin(&self, key: RecordingKey, meta: RecordingMeta) -> Option<RecordingId> {
        let (reply, rx) = oneshot::channel();
        self.begin.send(Begin { key, meta, reply }).await.ok()?;
        rx.await.ok().flatten()
    }
}

async fn audit(
    db: &Db,
    at: i64,
    action: &'static str,
    meta: &RecordingMeta,
    id: RecordingId,
    outcome: Outcome,
    detail: Option<String>,
) {
    crate::state::write_audit(
        db,
        NewAuditEvent {
            at,
            actor_kind: ActorKind::System,
            actor_id: None,
            actor_label: Some("recorder".into()),
            group_id: Some(meta.group_id.to_string()),
            action,
            target: Some(id.to_string()),
            client_ip: None,
            user_agent: None,
            outcome,
            detail,
        },
    )
    .await;
}

async fn run(
    settings: Arc<Settings>,
    mut begin_rx: mpsc::Receiver<Begin>,
    mut events: mpsc::Receiver<RecordingEvent>,
) {
    let mut writers: HashMap<RecordingKey, Writer> = HashMap::new();
    let mut accepting = true;
    loop {
        tokio::select! {
            begin = begin_rx.recv(), if accepting => match begin {
                Some(begin) => {
                    let id = start(&settings, &begin.meta).await;
                    if let Some((id, writer)) = id {
                        writers.insert(begin.key, writer);
                        let _ = begin.reply.send(Some(id));
                    } else {
                        let _ = begin.reply.send(None);
                    }
                }
                // No new recordings, but what the SFU already produced is still written.
                None => accepting = false,
            },
            event = events.recv() => match event {
                Some(RecordingEvent::Data { recording, bytes }) => {
                    if let Some(writer) = writers.get_mut(&recording) {
                        write(&settings, writer, &bytes).await;
                    }
                }
                Some(RecordingEvent::Finished { recording, stats }) => {
                    if let Some(writer) = writers.remove(&recording) {
                        // Finishing may wait for an unreachable store; the others go on.
                        let settings = settings.clone();
                        tokio::spawn(async move {
                            finish(&settings, writer, stats.video_frames).await;
                        });
                    }
                }
                None => break,
            },
        }
    }
}

async fn start(settings: &Settings, meta: &RecordingMeta) -> Option<(RecordingId, Writer)> {
    let id = uuid::Uuid::new_v4();
    let now = settings.clock.now_millis();
    let key = DataKey::generate();
    let object_id = id.to_string();
    let wrapped = settings.keyring.wrap(&key, &object_id);
    let object_key = format!("recordings/{id}.enc");
    let result = settings
        .db
        .create_recording(&NewRecording {
            id,
            group_id: meta.group_id,
            device_id: meta.device_id,
            device_name: &meta.device_name,
            started_at: now,
            expires_at: now + i64::from(settings.retention_days) * 86_400_000,
            object_key: &object_key,
            key_id: &wrapped.key_id,
            wrapped_key: &base64::engine::general_purpose::STANDARD.encode(&wrapped.blob),
            participants: &meta.participants,
            session_id: &meta.session_id,
            container: "mp4",
        })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "cannot create a recording; the session is not recorded");
        return None;
    }
    audit(
        &settings.db,
        now,
        "recording.start",
        meta,
        id,
        Outcome::Success,
        Some(meta.device_name.clone()),
    )
    .await;
    Some((
        id,
        Writer {
            id,
            object_key,
            encryptor: Encryptor::new(key, &object_id),
            sha: Sha256::new(),
            plaintext: 0,
            stored: 0,
            meta: meta.clone(),
            failed: false,
            container: "mp4",
        },
    ))
}

async fn write(settings: &Settings, writer: &mut Writer, bytes: &[u8]) {
    if writer.failed {
        return;
    }
    if writer.plaintext == 0 && bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        // EBML: the SFU records this camera (VP8) as WebM.
        writer.container = "webm";
        if let Err(error) = settings.db.set_recording_container(writer.id, "webm").await {
            tracing::error!(%error, recording = %writer.id, "cannot note the WebM container");
        }
    }
    writer.sha.update(bytes);
    writer.plaintext += bytes.len() as u64;
    let sealed = writer.encryptor.update(bytes);
    if sealed.is_empty() {
        // Nothing sealed yet, but the fragment must survive a crash all the same.
        journal_tail(settings, writer).await;
        return;
    }
    writer.stored += sealed.len() as u64;
    // Both stores make the bytes durable on local disk before answering (S3 through its spool,
    // which uploads in the background and rides out outages), so a failure here is the local
    // disk's: the rest of the recording could only leave a hole, so it stops here.
    match settings.store.append(&writer.object_key, &sealed).await {
        Ok(()) => {
            journal_tail(settings, writer).await;
            let _ = settings
                .db
                .update_recording_progress(
                    writer.id,
                    writer.plaintext as i64,
                    writer.stored as i64,
                    settings.clock.now_millis(),
                )
                .await;
        }
        Err(error) => {
            tracing::error!(%error, recording = %writer.id, "cannot store recording data; the recording ends here");
            writer.failed = true;
        }
    }
}

/// Journals the unsealed end of the recording (after every fragment the SFU hands over).
async fn journal_tail(settings: &Settings, writer: &mut Writer) {
    let Some(tail) = writer.encryptor.seal_tail() else {
        return;
    };
    let path = journal_path(&settings.journal_dir, &writer.object_key);
    if let Err(error) = write_journal(&path, &tail).await {
        // Only the crash case loses by this: the last fragment could not be journalled.
        tracing::warn!(%error, recording = %writer.id, "cannot write the tail journal");
    }
}

async fn finish(settings: &Settings, mut writer: Writer, video_frames: u64) {
    let now = settings.clock.now_millis();
    if writer.plaintext == 0 && !writer.failed {
        // The camera never sent media: there is nothing to keep or to list.
        if let Err(error) = settings.db.discard_empty_recording(writer.id, now).await {
            tracing::error!(%error, recording = %writer.id, "cannot discard an empty recording");
        }
        audit(
            &settings.db,
            now,
            "recording.stop",
            &writer.meta,
            writer.id,
            Outcome::Success,
            Some("no media was received; nothing kept".into()),
        )
        .await;
        remove_journal(settings, &writer.object_key).await;
        return;
    }
    if !writer.failed {
        let sealed = writer.encryptor.finish();
        writer.stored += sealed.len() as u64;
        let stored = async {
            settings.store.append(&writer.object_key, &sealed).await?;
            settings.store.finish(&writer.object_key).await
        }
        .await;
        if let Err(error) = stored {
            tracing::error!(%error, recording = %writer.id, "cannot store the end of a recording");
            writer.failed = true;
        }
    }
    let sha = hex::encode(writer.sha.finalize());
    let result = if writer.failed {
        // Never "complete" without its object: the list shows it failed, downloads are refused.
        settings.db.fail_recording(writer.id, now).await
    } else if let Some(finalized) = match writer.container {
        "webm" => finalize_webm(settings, writer.id, &writer.object_key, writer.plaintext).await,
        _ => None,
    } {
        // The recording turns complete already pointing at its seekable form, so no one can
        // have begun to play or download the streamed one that is deleted here.
        let finished = settings
            .db
            .finish_recording_with_object(
                writer.id,
                &writer.object_key,
                &finalized.replaced(),
                now,
                video_frames as i64,
            )
            .await;
        if let Ok(true) = finished
            && settings.store.delete(&writer.object_key).await.is_ok()
        {
            let _ = settings.db.object_deleted(&writer.object_key).await;
        }
        finished.map(|_| ())
    } else {
        settings
            .db
            .finish_recording(
                writer.id,
                now,
                writer.plaintext as i64,
                writer.stored as i64,
                &sha,
                video_frames as i64,
            )
            .await
    };
    if let Err(error) = result {
        tracing::error!(%error, recording = %writer.id, "cannot mark a recording finished");
    }
    // The object is finished (or given up): its journal has served its purpose.
    remove_journal(settings, &writer.object_key).await;
    audit(
        &settings.db,
        now,
        "recording.stop",
        &writer.meta,
        writer.id,
        if writer.failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        Some(format!("{} bytes", writer.plaintext)),
    )
    .await;
}

/// The seekable form of a WebM recording, stored as its own object under its own data key.
struct FinalizedWebm {
    object_key: String,
    key_id: String,
    wrapped_key: String,
    plaintext_bytes: i64,
    stored_bytes: i64,
    sha256: String,
}

impl FinalizedWebm {
    fn replaced(&self) -> crate::db::recordings::ReplacedObject<'_> {
        crate::db::recordings::ReplacedObject {
            object_key: &self.object_key,
            key_id: &self.key_id,
            wrapped_key: &self.wrapped_key,
            plaintext_bytes: self.plaintext_bytes,
            stored_bytes: self.stored_bytes,
            sha256: &self.sha256,
        }
    }
}

/// Rewrites a streamed WebM recording whose object is finished into its seekable form
/// (Duration and Cues) as a new object, before the recording is listed complete. `None` keeps
/// the streamed file as the recording (playable, without an index); a failure only logs.
async fn finalize_webm(
    settings: &Settings,
    id: RecordingId,
    streamed_key: &str,
    plaintext: u64,
) -> Option<FinalizedWebm> {
    if plaintext > MAX_WEBM_FINALIZE_BYTES {
        tracing::warn!(recording = %id, bytes = plaintext, "WebM too large to finalize; kept as streamed");
        return None;
    }
    let row = match settings.db.recording(id).await {
        Ok(Some(row)) => row,
        Ok(None) => return None,
        Err(error) => {
            tracing::error!(%error, recording = %id, "cannot read the recording to finalize it");
            return None;
        }
    };
    let object_id = id.to_string();
    let streamed = match crate::storage::read_sealed(
        &settings.keyring,
        &settings.store,
        streamed_key,
        &row.key_id,
        &row.wrapped_key,
        &object_id,
    )
    .await
    {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, recording = %id, "cannot read the WebM back to finalize it");
            return None;
        }
    };
    let finalized = match remote_assist_sfu::record::webm::finalize(&streamed) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, recording = %id, "cannot finalize the WebM");
            return None;
        }
    };
    let new_key = format!("recordings/{}.final.enc", id);
    // Should anything below fail, the new object is already queued for removal.
    if let Err(error) = settings
        .db
        .queue_object_deletion_now(&new_key, settings.clock.now_millis())
        .await
    {
        tracing::error!(%error, "cannot queue the finalized object's cleanup");
        return None;
    }
    let sealed = match crate::storage::seal_and_store(
        &settings.keyring,
        &settings.store,
        &new_key,
        &object_id,
        &finalized,
    )
    .await
    {
        Ok(sealed) => sealed,
        Err(error) => {
            tracing::error!(%error, recording = %id, "cannot store the finalized WebM");
            return None;
        }
    };
    Some(FinalizedWebm {
        object_key: new_key,
        key_id: sealed.wrapped.key_id,
        wrapped_key: base64::engine::general_purpose::STANDARD.encode(&sealed.wrapped.blob),
        plaintext_bytes: finalized.len() as i64,
        stored_bytes: sealed.stored_bytes as i64,
        sha256: hex::encode(Sha256::digest(&finalized)),
    })
}

/// Finishes recordings that a previous process left in the `recording` state (it was killed or
/// crashed): every whole encrypted chunk already stored is kept, a half-written one is dropped,
/// the object gets its final chunk, and the row its size and hash — so the recording lists and
/// plays up to its last stored fragment. The S3 store recovers the same way from its spool,
/// which still holds every byte; only a recording whose bytes are gone (a lost spool) is marked
/// failed, and one whose store cannot be reached now is left for the next start. Returns how
/// many were recovered.
pub async fn recover(
    db: &Db,
    clock: &dyn Clock,
    keyring: &Keyring,
    store: &ObjectStore,
    journal_dir: &std::path::Path,
) -> usize {
    use crate::storage::crypto::{CHUNK_SIZE, HEADER_LEN, TAG_LEN, WrappedKey, decrypt_chunks};
    let stale = match db.recordings_in_progress().await {
        Ok(list) => list,
        Err(error) => {
            tracing::error!(%error, "recovery: cannot list unfinished recordings");
            return 0;
        }
    };
    let mut recovered = 0;
    for recording in stale {
        let now = clock.now_millis();
        let object_id = recording.id.to_string();
        let meta = RecordingMeta {
            group_id: recording.group_id,
            device_id: recording.device_id,
            device_name: recording.device_name.clone(),
            participants: Vec::new(),
            session_id: recording.session_id.clone().unwrap_or_default(),
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(&recording.wrapped_key)
            .ok()
            .and_then(|blob| {
                keyring
                    .unwrap(
                        &WrappedKey {
                            key_id: recording.key_id.clone(),
                            blob,
                        },
                        &object_id,
                    )
                    .ok()
            });
        let size = match store.size(&recording.object_key).await {
            Ok(size) => Some(size),
            Err(crate::storage::objects::StoreError::NotFound) => None,
            Err(error) => {
                // Unreachable, not gone: try again at the next start rather than give up.
                tracing::warn!(%error, recording = %recording.id, "recovery deferred: the object store is unreachable");
                continue;
            }
        };
        let (Some(key), Some(size)) = (key, size) else {
            let _ = db.fail_recording(recording.id, now).await;
            audit(
                db,
                now,
                "recording.stop",
                &meta,
                recording.id,
                Outcome::Failure,
                Some("lost in a restart".into()),
            )
            .await;
            continue;
        };
        let full = (CHUNK_SIZE + TAG_LEN) as u64;
        let chunks = size.saturating_sub(HEADER_LEN as u64) / full;
        let keep = HEADER_LEN as u64 + chunks * full;
        let outcome = async {
            if size > keep {
                store.truncate(&recording.object_key, keep).await?;
            }
            let ciphertext = store
                .read_range(&recording.object_key, HEADER_LEN as u64..keep)
                .await?;
            // None of the stored chunks is the final one (that is what we add now).
            let mut plain = decrypt_chunks(&key, &object_id, 0, &ciphertext, chunks + 1)
                .map_err(|e| crate::storage::objects::StoreError::S3(e.to_string()))?;
            // What the writer had not sealed yet is in the tail journal, when it belongs right
            // after the stored chunks (an older journal's data is already in them).
            let journal = journal_path(journal_dir, &recording.object_key);
            let mut resumed = Encryptor::resume(key.clone(), &object_id, chunks);
            if let Ok(bytes) = tokio::fs::read(&journal).await {
                match crate::storage::crypto::open_tail(&key, &object_id, &bytes) {
                    Ok((index, tail_plain)) if index == chunks => {
                        let _ = resumed.update(&tail_plain);
                        plain.extend_from_slice(&tail_plain);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, recording = %recording.id, "recovery: tail journal unusable");
                    }
                }
            }
            let tail = resumed.finish();
            store.append(&recording.object_key, &tail).await?;
            store.finish(&recording.object_key).await?;
            Ok::<_, crate::storage::objects::StoreError>((plain, keep + tail.len() as u64))
        }
        .await;
        // It ended when its last bytes were written, not now.
        let ended_at = recording
            .last_written_at
            .unwrap_or(recording.started_at)
            .max(recording.started_at);
        match outcome {
            Ok((plain, stored)) => {
                let _ =
                    tokio::fs::remove_file(journal_path(journal_dir, &recording.object_key)).await;
                let sha = hex::encode(Sha256::digest(&plain));
                let _ = db
                    .finish_recording(
                        recording.id,
                        ended_at,
                        plain.len() as i64,
                        stored as i64,
                        &sha,
                        0,
                    )
                    .await;
                audit(
                    db,
                    now,
                    "recording.stop",
                    &meta,
                    recording.id,
                    Outcome::Success,
                    Some("recovered after a restart".into()),
                )
                .await;
                recovered += 1;
            }
            Err(error) => {
                tracing::error!(%error, recording = %recording.id, "recovery failed");
                let _ = db.fail_recording(recording.id, now).await;
            }
        }
    }
    recovered
}

/// The outcome of re-checking a stored recording against the SHA-256 recorded with it (B10).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub recording_id: String,
    /// The content decrypts (every chunk authenticates) and its SHA-256 matches.
    pub ok: bool,
    pub sha256_expected: Option<String>,
    pub sha256_actual: Option<String>,
    pub size: u64,
    /// Why it is not ok, when it is not.
    pub problem: Option<String>,
}

/// Reads, decrypts and hashes a recording's object and compares with the stored hash.
pub async fn verify(
    recording: &crate::db::recordings::Recording,
    keyring: &Keyring,
    store: &ObjectStore,
) -> Verification {
    use crate::storage::crypto::{WrappedKey, decrypt_object};
    let id = recording.id.to_string();
    let mut result = Verification {
        recording_id: id.clone(),
        ok: false,
        sha256_expected: recording.sha256.clone(),
        sha256_actual: None,
        size: 0,
        problem: None,
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(&recording.wrapped_key)
        .map_err(|e| e.to_string())
        .and_then(|blob| {
            keyring
                .unwrap(
                    &WrappedKey {
                        key_id: recording.key_id.clone(),
                        blob,
                    },
                    &id,
                )
                .map_err(|e| e.to_string())
        });
    let key = match key {
        Ok(key) => key,
        Err(problem) => {
            result.problem = Some(problem);
            return result;
        }
    };
    let object = match store.size(&recording.object_key).await {
        Ok(size) => store.read_range(&recording.object_key, 0..size).await,
        Err(e) => Err(e),
    };
    let object = match object {
        Ok(bytes) => bytes,
        Err(e) => {
            result.problem = Some(e.to_string());
            return result;
        }
    };
    match decrypt_object(&key, &id, &object) {
        Ok(plain) => {
            let actual = hex::encode(Sha256::digest(&plain));
            result.size = plain.len() as u64;
            result.ok = recording.sha256.as_deref() == Some(actual.as_str());
            if !result.ok {
                result.problem = Some("SHA-256 differs from the one recorded".into());
            }
            result.sha256_actual = Some(actual);
        }
        Err(e) => result.problem = Some(e.to_string()),
    }
    result
}
