//! A durable local spool in front of S3.
//!
//! Every byte of an object being written lands in a file under the spool directory first, and
//! is on disk (`fsync`) before `append` returns. An uploader task per object then streams the
//! file to S3 as a multipart upload, part by part (at least [`PART_SIZE`] each), and completes
//! it once the writer has called `finish`. Progress — the upload ID and every uploaded part —
//! is appended to a small state file beside the data, so the uploader can pick up where it
//! stopped after the store was unreachable for a while *or* after the process was killed: the
//! spool is scanned at start and every unfinished upload resumes. The data file is removed
//! only after S3 has confirmed the completed object.
//!
//! Consequences the rest of the server relies on:
//! - an unreachable store never loses or blocks a recording (the spool takes it; the uploader
//!   retries with backoff, without limit, across restarts);
//! - a recording is readable as soon as it is finished, from the spool until it is uploaded;
//! - deleting an object stops its uploader first, so a deleted object is never completed
//!   afterwards (no resurrection).

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::objects::{StoreError, valid_key};
use super::s3::{PART_SIZE, S3Store};

/// Suffix of the state file that records an object's upload progress.
const STATE_SUFFIX: &str = ".upload";
/// First and longest wait between attempts while the store is unreachable.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Multipart uploads at least this old that no spooled object continues are orphans.
pub const ORPHAN_AGE: Duration = Duration::from_secs(3600);
/// How often an idle uploader looks at its file even without being woken (belt and braces).
const IDLE_POLL: Duration = Duration::from_secs(5);

/// What the state file says about one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UploadState {
    pub upload_id: Option<String>,
    /// (part number, end offset in the file, ETag), in order.
    pub parts: Vec<(i32, u64, String)>,
    pub finished: bool,
}

impl UploadState {
    /// Parses the state file; a torn last line (a crash mid-write) is ignored.
    pub(crate) fn parse(text: &str) -> Self {
        let mut state = UploadState::default();
        for line in text.lines() {
            let mut words = line.splitn(4, ' ');
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("upload"), Some(id), None, None) if !id.is_empty() => {
                    state.upload_id = Some(id.to_owned());
                    state.parts.clear();
                }
                (Some("part"), Some(n), Some(end), Some(etag)) => {
                    if let (Ok(n), Ok(end)) = (n.parse(), end.parse()) {
                        state.parts.push((n, end, etag.to_owned()));
                    }
                }
                (Some("finished"), None, None, None) => state.finished = true,
                (Some("reset"), None, None, None) => {
                    state.upload_id = None;
                    state.parts.clear();
                }
                _ => {}
            }
        }
        state
    }

    /// Bytes of the file already in S3.
    pub(crate) fn uploaded(&self) -> u64 {
        self.parts.last().map_or(0, |(_, end, _)| *end)
    }
}

/// One object in the spool, shared by its writer side and its uploader task.
struct Entry {
    key: String,
    wake: Notify,
    /// Set by `delete`: the uploader stops and never completes the upload.
    deleted: AtomicBool,
    /// Held by the uploader around each S3 request and by `delete`, so a delete waits for an
    /// in-flight request instead of racing it.
    op: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
pub struct SpooledS3 {
    dir: PathBuf,
    s3: S3Store,
    entries: Arc<std::sync::Mutex<HashMap<String, Arc<Entry>>>>,
    halted: Arc<AtomicBool>,
}

impl std::fmt::Debug for SpooledS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (spool {})", self.s3.describe(), self.dir.display())
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Io(e)
}

impl SpooledS3 {
    /// Opens the spool. Uploads a previous run left start only with [`SpooledS3::resume`], so
    /// that an admin command opening the same store beside a running server never uploads.
    pub fn open(dir: impl Into<PathBuf>, s3: S3Store) -> Self {
        Self {
            dir: dir.into(),
            s3,
            entries: Default::default(),
            halted: Default::default(),
        }
    }

    /// Starts an uploader for every object a previous run left in the spool; returns how many.
    pub fn resume(&self) -> usize {
        let keys = self.spooled_keys();
        for key in &keys {
            self.entry(key);
        }
        keys.len()
    }

    pub fn describe(&self) -> String {
        format!("{} (spooled in {})", self.s3.describe(), self.dir.display())
    }

    pub fn s3(&self) -> &S3Store {
        &self.s3
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        if !valid_key(key) || key.ends_with(STATE_SUFFIX) {
            return Err(StoreError::BadKey(key.to_owned()));
        }
        Ok(self.dir.join(key))
    }

    fn state_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        Ok(self
            .data_path(key)?
            .with_file_name(format!("{}{STATE_SUFFIX}", file_name(key))))
    }

    /// Keys of every object in the spool directory (data files, not state files).
    pub fn spooled_keys(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(relative) = path.strip_prefix(root)
                    && let Some(key) = relative.to_str()
                    && !key.ends_with(STATE_SUFFIX)
                    && valid_key(key)
                {
                    out.push(key.to_owned());
                }
            }
        }
        let mut keys = Vec::new();
        walk(&self.dir, &self.dir, &mut keys);
        keys.sort();
        keys
    }

    /// The entry of `key`, starting its uploader when there is none.
    fn entry(&self, key: &str) -> Arc<Entry> {
        let mut entries = self.entries.lock().expect("spool map never poisoned");
        if let Some(entry) = entries.get(key) {
            return entry.clone();
        }
        let entry = Arc::new(Entry {
            key: key.to_owned(),
            wake: Notify::new(),
            deleted: AtomicBool::new(false),
            op: tokio::sync::Mutex::new(()),
        });
        entries.insert(key.to_owned(), entry.clone());
        tokio::spawn(upload_loop(self.clone(), entry.clone()));
        entry
    }

    fn forget(&self, key: &str) {
        self.entries
            .lock()
            .expect("spool map never poisoned")
            .remove(key);
    }

    async fn append_state(&self, key: &str, line: &str) -> Result<(), StoreError> {
        let path = self.state_path(key)?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(io_error)?;
        file.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(io_error)?;
        file.sync_data().await.map_err(io_error)?;
        Ok(())
    }

    async fn read_state(&self, key: &str) -> Result<UploadState, StoreError> {
        match tokio::fs::read_to_string(self.state_path(key)?).await {
            Ok(text) => Ok(UploadState::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UploadState::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends to the spooled object; the bytes are on disk when this returns.
    pub async fn append(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        let path = self.data_path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await?;
        file.write_all(data).await?;
        file.sync_data().await?;
        self.entry(key).wake.notify_one();
        Ok(())
    }

    /// Marks the object complete: the uploader finishes the upload when it can. Returns as soon
    /// as that is recorded on disk.
    pub async fn finish(&self, key: &str) -> Result<(), StoreError> {
        let path = self.data_path(key)?;
        if !tokio::fs::try_exists(&path).await? {
            // Nothing was appended: an empty object.
            tokio::fs::create_dir_all(path.parent().expect("has a parent")).await?;
            tokio::fs::File::create(&path).await?.sync_all().await?;
        }
        self.append_state(key, "finished").await?;
        self.entry(key).wake.notify_one();
        Ok(())
    }

    /// Cuts a spooled object (crash recovery drops a half-written chunk). If bytes beyond the
    /// cut were already uploaded, the upload starts again from the spool.
    pub async fn truncate(&self, key: &str, len: u64) -> Result<(), StoreError> {
        let path = self.data_path(key)?;
        let entry = self.entry(key);
        let _op = entry.op.lock().await;
        if self.read_state(key).await?.uploaded() > len {
            self.append_state(key, "reset").await?;
        }
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await?;
        file.set_len(len).await?;
        file.sync_all().await?;
        Ok(())
    }

    /// Whether the object is (still) in the spool.
    pub async fn is_spooled(&self, key: &str) -> bool {
        match self.data_path(key) {
            Ok(path) => tokio::fs::try_exists(path).await.unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn size(&self, key: &str) -> Result<u64, StoreError> {
        match tokio::fs::metadata(self.data_path(key)?).await {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.s3.size(key).await,
            Err(e) => Err(e.into()),
        }
    }

    pub async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        match read_file_range(&self.data_path(key)?, range.clone()).await {
            Err(StoreError::NotFound) => self.s3.read_range(key, range).await,
            other => other,
        }
    }

    /// Keys under `prefix`: still in the spool, and in S3.
    ///
    /// The spool is read first: an object only ever moves from the spool to S3 (its spool copy
    /// goes after S3 confirms the upload), so whatever left the spool after this look is in
    /// S3 by the time S3 is asked. The other order misses an object whose upload completes
    /// between the two looks (seen as a backup that pruning did not count).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: std::collections::BTreeSet<String> = self
            .spooled_keys()
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.extend(self.s3.list(prefix).await?);
        Ok(keys.into_iter().collect())
    }

    /// Deletes the object everywhere: its uploader is stopped first, then the spool files, an
    /// unfinished multipart upload and the S3 object are removed.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let data = self.data_path(key)?;
        let existing = self
            .entries
            .lock()
            .expect("spool map never poisoned")
            .get(key)
            .cloned();
        // With the uploader held off (it finishes any request in flight first), nothing can
        // start or complete an upload of this object any more.
        let guard = match &existing {
            Some(entry) => Some(entry.op.lock().await),
            None => None,
        };
        if let Some(entry) = &existing {
            entry.deleted.store(true, Ordering::SeqCst);
            entry.wake.notify_one();
        }
        let state = self.read_state(key).await.unwrap_or_default();
        remove_if_present(&data).await?;
        remove_if_present(&self.state_path(key)?).await?;
        self.forget(key);
        drop(guard);
        if let Some(upload_id) = &state.upload_id {
            self.s3.abort_upload(key, upload_id).await?;
        }
        self.s3.delete(key).await
    }

    /// Stops every uploader of this instance (what a crash does; tests use it to hand the spool
    /// to a fresh instance, as the next start would). Spooled files stay as they are.
    pub fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
        for entry in self
            .entries
            .lock()
            .expect("spool map never poisoned")
            .values()
        {
            entry.wake.notify_one();
        }
    }

    /// Aborts multipart uploads under `prefix` that no spooled object continues (left by a
    /// run whose spool was lost); their parts would otherwise stay in the bucket. Only uploads
    /// older than [`ORPHAN_AGE`] are considered, so one an uploader has just started (and not
    /// yet written to its state file) is never touched.
    pub async fn abort_orphaned_uploads(&self, prefix: &str) -> Result<usize, StoreError> {
        let uploads = self.s3.list_uploads(prefix).await?;
        let mut live = std::collections::HashSet::new();
        for key in self.spooled_keys() {
            if let Some(id) = self.read_state(&key).await?.upload_id {
                live.insert(id);
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut aborted = 0;
        for (key, upload_id, started) in uploads {
            if !live.contains(&upload_id) && now - started > ORPHAN_AGE.as_secs() as i64 {
                self.s3.abort_upload(&key, &upload_id).await?;
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    /// Waits until nothing is left to upload (tests and graceful shutdown), at most `limit`.
    pub async fn drained(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self
                .entries
                .lock()
                .expect("spool map never poisoned")
                .is_empty()
            {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

async fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn read_file_range(path: &Path, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().await?.len();
    let end = range.end.min(len);
    if range.start >= end {
        return Ok(Vec::new());
    }
    file.seek(std::io::SeekFrom::Start(range.start)).await?;
    let mut buf = vec![0u8; (end - range.start) as usize];
    file.read_exact(&mut buf).await?;
    Ok(buf)
}

/// What one step of an uploader did.
enum Step {
    /// Progress was made; look again at once.
    Progress,
    /// Nothing to do until more bytes or `finish` arrive.
    Idle,
    /// The object is in S3 (or was deleted): the uploader is done.
    Done,
}

/// Streams one spooled object to S3 until it is complete or deleted. Never gives up: while the
/// store is unreachable it waits with backoff, and a restart resumes from the state file.
async fn upload_loop(spool: SpooledS3, entry: Arc<Entry>) {
    let mut delay = RETRY_FIRST;
    let mut failures: u32 = 0;
    loop {
        let step = {
            let _op = entry.op.lock().await;
            if entry.deleted.load(Ordering::SeqCst) || spool.halted.load(Ordering::SeqCst) {
                return;
            }
            upload_step(&spool, &entry.key).await
        };
        match step {
            Ok(Step::Progress) => {
                delay = RETRY_FIRST;
                if failures > 0 {
                    tracing::info!(key = %entry.key, failures, "object store reachable again; uploading");
                    failures = 0;
                }
            }
            Ok(Step::Idle) => {
                let _ = tokio::time::timeout(IDLE_POLL, entry.wake.notified()).await;
            }
            Ok(Step::Done) => {
                spool.forget(&entry.key);
                return;
            }
            Err(error) => {
                failures += 1;
                // Loud once, then quietly: an outage produces one line per object, not one per
                // attempt.
                if failures == 1 || failures % 20 == 0 {
                    tracing::warn!(%error, key = %entry.key, failures, "upload from the spool failed; retrying");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn upload_step(spool: &SpooledS3, key: &str) -> Result<Step, StoreError> {
    let data = spool.data_path(key)?;
    let len = match tokio::fs::metadata(&data).await {
        Ok(meta) => meta.len(),
        // Gone: deleted, or completed by an earlier uploader.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Step::Done),
        Err(e) => return Err(e.into()),
    };
    let mut state = spool.read_state(key).await?;
    let uploaded = state.uploaded();
    if uploaded > len {
        // The file was cut below what was uploaded (recovery): upload it again.
        spool.append_state(key, "reset").await?;
        return Ok(Step::Progress);
    }
    let pending = len - uploaded;
    if pending >= PART_SIZE as u64 || (state.finished && state.upload_id.is_some() && pending > 0) {
        let upload_id = match &state.upload_id {
            Some(id) => id.clone(),
            None => {
                let id = spool.s3.create_upload(key).await?;
                spool.append_state(key, &format!("upload {id}")).await?;
                id
            }
        };
        let end = uploaded + pending.min(PART_SIZE as u64);
        let bytes = read_file_range(&data, uploaded..end).await?;
        let number = state.parts.len() as i32 + 1;
        match spool.s3.upload_part(key, &upload_id, number, bytes).await {
            Ok(etag) => {
                spool
                    .append_state(key, &format!("part {number} {end} {etag}"))
                    .await?;
                return Ok(Step::Progress);
            }
            Err(StoreError::NotFound) => {
                // The store forgot the upload (aborted, expired): start it again from the spool.
                spool.append_state(key, "reset").await?;
                return Ok(Step::Progress);
            }
            Err(e) => return Err(e),
        }
    }
    if !state.finished {
        return Ok(Step::Idle);
    }
    match state.upload_id.take() {
        // Small objects never became multipart: one PUT.
        None => {
            let bytes = read_file_range(&data, 0..len).await?;
            spool.s3.put(key, bytes).await?;
        }
        Some(upload_id) => {
            let parts: Vec<(i32, String)> = state
                .parts
                .iter()
                .map(|(n, _, etag)| (*n, etag.clone()))
                .collect();
            match spool.s3.complete_upload(key, &upload_id, parts).await {
                Ok(()) => {}
                Err(StoreError::NotFound) => {
                    // Completed by an attempt whose answer was lost, or forgotten: if the object
                    // is there with our size it is done, otherwise upload again.
                    if spool.s3.size(key).await.ok() != Some(len) {
                        spool.append_state(key, "reset").await?;
                        return Ok(Step::Progress);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    // Only now, with S3's confirmation, may the local copy go.
    remove_if_present(&data).await?;
    remove_if_present(&spool.state_path(key)?).await?;
    Ok(Step::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_lines_are_replayed_and_a_torn_line_is_ignored() {
        let text = "upload abc\npart 1 5242880 \"e1\"\npart 2 10485760 \"e2\"\nfinished\npart 3 12";
        let state = UploadState::parse(text);
        assert_eq!(state.upload_id.as_deref(), Some("abc"));
        assert_eq!(state.parts.len(), 2);
        assert_eq!(state.uploaded(), 10_485_760);
        assert!(state.finished);

        let restarted = UploadState::parse("upload a\npart 1 5 x\nreset\nupload b\n");
        assert_eq!(restarted.upload_id.as_deref(), Some("b"));
        assert!(restarted.parts.is_empty());
        assert_eq!(restarted.uploaded(), 0);
        assert!(!restarted.finished);

        assert_eq!(UploadState::parse(""), UploadState::default());
        assert_eq!(
            UploadState::parse("garbage\n\0\npart x y z\n"),
            UploadState::default()
        );
    }
}
