//! Encryption at rest for recordings and snapshots (R11, B6).
//!
//! Every object has its own random 256-bit data key. Content is encrypted before it leaves the
//! server, as AES-256-GCM over fixed-size chunks:
//!
//! ```text
//! header:  "RAENC1\0\0" | chunk size (u32 BE) | reserved (u32)        16 bytes
//! chunk i: AES-256-GCM(data key, nonce = 0u32 || i (u64 BE),
//!                      aad = object id || i (u64 BE) || final flag)   ≤ chunk size + 16 bytes
//! ```
//!
//! The nonce is the chunk index under a key used for one object only, so it never repeats. The
//! index and a "final chunk" flag are authenticated, so reordered, replaced or dropped chunks
//! and a truncated object are detected, and an HTTP Range read decrypts only the chunks it
//! touches. The data key is stored wrapped by a master key (with a key ID, for rotation); the
//! object store sees neither plaintext nor keys. Deleting the wrapped key makes every copy of the
//! object, backups included, unreadable (crypto-shredding).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use rand::RngCore;
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 8] = b"RAENC1\0\0";
pub const HEADER_LEN: usize = 16;
pub const TAG_LEN: usize = 16;
/// Plaintext bytes per chunk: large enough to keep the overhead at 0.02 %, small enough that a
/// Range read of a few bytes decrypts little.
pub const CHUNK_SIZE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("not an encrypted object (bad header)")]
    BadHeader,
    #[error("chunk {0} failed authentication (corrupt, tampered with or out of order)")]
    Tampered(u64),
    #[error("the object is truncated: its last chunk is not marked final")]
    Truncated,
    #[error("the wrapped key is malformed or was wrapped under another master key")]
    BadWrappedKey,
    #[error("unknown master key id {0:?}")]
    UnknownKeyId(String),
    #[error("requested range is outside the object")]
    Range,
}

/// A per-object 256-bit data key; zeroed when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl DataKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.as_ref()))
    }

    /// The key's bytes, for a key used as a secret itself (a TOTP secret).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The key that wraps data keys, with its ID (stored next to every wrapped key).
#[derive(Clone)]
pub struct MasterKey {
    pub id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, ***)", self.id)
    }
}

impl MasterKey {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self {
            id: id.into(),
            key: Zeroizing::new(key),
        }
    }

    pub fn generate(id: impl Into<String>) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::new(id, key)
    }

    /// Hex form for a key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.as_ref()))
    }

    pub fn from_hex(id: impl Into<String>, text: &str) -> Option<Self> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).ok()?);
        let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Self::new(id, key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_ref()))
    }
}

/// A data key as stored in the database: `key_id`, and nonce + ciphertext + tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub key_id: String,
    pub blob: Vec<u8>,
}

/// The master keys a server knows: the current one wraps new keys, older ones still unwrap.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        Self { current, previous }
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Wraps a data key for `object_id` (bound to it: a wrapped key cannot be moved to another
    /// object's row).
    pub fn wrap(&self, key: &DataKey, object_id: &str) -> WrappedKey {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut buf = key.0.to_vec();
        let aad = wrap_aad(&self.current.id, object_id);
        let tag = self
            .current
            .cipher()
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut buf)
            .expect("AES-GCM encryption of 32 bytes cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&buf);
        blob.extend_from_slice(&tag);
        WrappedKey {
            key_id: self.current.id.clone(),
            blob,
        }
    }

    pub fn unwrap(&self, wrapped: &WrappedKey, object_id: &str) -> Result<DataKey, CryptoError> {
        let master = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == wrapped.key_id)
            .ok_or_else(|| CryptoError::UnknownKeyId(wrapped.key_id.clone()))?;
        if wrapped.blob.len() != 12 + 32 + TAG_LEN {
            return Err(CryptoError::BadWrappedKey);
        }
        let (nonce, rest) = wrapped.blob.split_at(12);
        let (ciphertext, tag) = rest.split_at(32);
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        master
            .cipher()
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                &wrap_aad(&wrapped.key_id, object_id),
                &mut buf,
                Tag::from_slice(tag),
            )
            .map_err(|_| CryptoError::BadWrappedKey)?;
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&buf);
        Ok(DataKey(key))
    }
}

fn wrap_aad(key_id: &str, object_id: &str) -> Vec<u8> {
    let mut aad = b"remote-assist data key\0".to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(object_id.as_bytes());
    aad
}

fn chunk_nonce(index: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    nonce
}

fn chunk_aad(object_id: &str, index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(object_id.len() + 9);
    aad.extend_from_slice(object_id.as_bytes());
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&(CHUNK_SIZE as u32).to_be_bytes());
    h
}

/// Encrypts a stream as it is produced: feed plaintext, take ciphertext.
pub struct Encryptor {
    key: DataKey,
    object_id: String,
    next_index: u64,
    buffer: Vec<u8>,
    started: bool,
    /// Tail journals sealed so far (each gets its own nonce).
    tails: u32,
}

/// Starts a tail journal (see [`Encryptor::seal_tail`]).
pub const TAIL_MAGIC: &[u8; 8] = b"RATAIL1\0";
const TAIL_HEADER_LEN: usize = 8 + 8 + 4;

/// A tail journal's nonce: the counter with its top bit set, then the chunk index. Chunk nonces
/// have zeros where the counter is, so the two never meet.
fn tail_nonce(index: u64, counter: u32) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&(counter | 0x8000_0000).to_be_bytes());
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    nonce
}

fn tail_aad(object_id: &str, index: u64) -> Vec<u8> {
    let mut aad = b"remote-assist tail\0".to_vec();
    aad.extend_from_slice(object_id.as_bytes());
    aad.extend_from_slice(&index.to_be_bytes());
    aad
}

/// Opens a tail journal written by [`Encryptor::seal_tail`]: the index of the chunk it would
/// become and its plaintext. Anything damaged or forged is an error.
pub fn open_tail(
    key: &DataKey,
    object_id: &str,
    journal: &[u8],
) -> Result<(u64, Vec<u8>), CryptoError> {
    if journal.len() < TAIL_HEADER_LEN + TAG_LEN || &journal[..8] != TAIL_MAGIC {
        return Err(CryptoError::BadHeader);
    }
    let index = u64::from_be_bytes(journal[8..16].try_into().expect("8 bytes"));
    let counter = u32::from_be_bytes(journal[16..20].try_into().expect("4 bytes"));
    if counter & 0x8000_0000 != 0 {
        return Err(CryptoError::BadHeader);
    }
    let body = &journal[TAIL_HEADER_LEN..];
    let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
    if ciphertext.len() > CHUNK_SIZE {
        return Err(CryptoError::BadHeader);
    }
    let mut plain = ciphertext.to_vec();
    key.cipher()
        .decrypt_in_place_detached(
            Nonce::from_slice(&tail_nonce(index, counter)),
            &tail_aad(object_id, index),
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| CryptoError::Tampered(index))?;
    Ok((index, plain))
}

impl Encryptor {
    /// A new object (its output starts with the header).
    pub fn new(key: DataKey, object_id: &str) -> Self {
        Self::resume(key, object_id, 0)
    }

    /// Continues an object whose chunks `0..next_index` are already stored (crash recovery).
    pub fn resume(key: DataKey, object_id: &str, next_index: u64) -> Self {
        Self {
            key,
            object_id: object_id.to_owned(),
            next_index,
            buffer: Vec::with_capacity(CHUNK_SIZE),
            started: next_index > 0,
            tails: 0,
        }
    }

    /// The plaintext not yet sealed into a chunk (at most one chunk's worth), encrypted as a
    /// *tail journal*: kept on local disk beside a recording while it runs, so that a crash
    /// loses nothing that was handed to the writer — recovery seals it as the final chunk.
    /// Each call uses a fresh nonce from a separate nonce space; `None` when nothing is pending.
    pub fn seal_tail(&mut self) -> Option<Vec<u8>> {
        if self.buffer.is_empty() || self.tails == 0x7FFF_FFFF {
            return None;
        }
        let counter = self.tails;
        self.tails += 1;
        let index = self.next_index;
        let mut out = Vec::with_capacity(TAIL_HEADER_LEN + self.buffer.len() + TAG_LEN);
        out.extend_from_slice(TAIL_MAGIC);
        out.extend_from_slice(&index.to_be_bytes());
        out.extend_from_slice(&counter.to_be_bytes());
        let start = out.len();
        out.extend_from_slice(&self.buffer);
        let tag = self
            .key
            .cipher()
            .encrypt_in_place_detached(
                Nonce::from_slice(&tail_nonce(index, counter)),
                &tail_aad(&self.object_id, index),
                &mut out[start..],
            )
            .expect("AES-GCM encryption of a chunk cannot fail");
        out.extend_from_slice(&tag);
        Some(out)
    }

    pub fn chunks_written(&self) -> u64 {
        self.next_index
    }

    fn seal(&mut self, plaintext: &[u8], last: bool, out: &mut Vec<u8>) {
        let index = self.next_index;
        self.next_index += 1;
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .cipher()
            .encrypt_in_place_detached(
                Nonce::from_slice(&chunk_nonce(index)),
                &chunk_aad(&self.object_id, index, last),
                &mut out[start..],
            )
            .expect("AES-GCM encryption of a chunk cannot fail");
        out.extend_from_slice(&tag);
    }

    /// Adds plaintext; returns the ciphertext of every chunk it completed.
    pub fn update(&mut self, mut plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.started {
            out.extend_from_slice(&header());
            self.started = true;
        }
        while !plaintext.is_empty() {
            let take = (CHUNK_SIZE - self.buffer.len()).min(plaintext.len());
            self.buffer.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            // A full chunk is sealed only when more data follows, so the final flag can go on
            // the true last chunk.
            if self.buffer.len() == CHUNK_SIZE && !plaintext.is_empty() {
                let chunk = std::mem::take(&mut self.buffer);
                self.seal(&chunk, false, &mut out);
                self.buffer = chunk;
                self.buffer.clear();
            }
        }
        out
    }

    /// Seals a full buffered chunk that is known not to be last (lets a writer flush 5 MiB
    /// parts while the stream goes on).
    pub fn flush_full(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.buffer.len() == CHUNK_SIZE {
            let chunk = std::mem::take(&mut self.buffer);
            self.seal(&chunk, false, &mut out);
            self.buffer = chunk;
            self.buffer.clear();
        }
        out
    }

    /// Ends the object: the remaining plaintext (possibly empty) becomes the final chunk.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.started {
            out.extend_from_slice(&header());
        }
        let rest = std::mem::take(&mut self.buffer);
        self.seal(&rest, true, &mut out);
        out
    }
}

/// Plaintext length of an object of `ciphertext_len` bytes (complete, final chunk included).
pub fn plaintext_len(ciphertext_len: u64) -> Option<u64> {
    let body = ciphertext_len.checked_sub(HEADER_LEN as u64)?;
    let full = (CHUNK_SIZE + TAG_LEN) as u64;
    let chunks = body.div_ceil(full);
    let last = body - (chunks.saturating_sub(1)) * full;
    if chunks == 0 || last < TAG_LEN as u64 {
        return None;
    }
    Some((chunks - 1) * CHUNK_SIZE as u64 + (last - TAG_LEN as u64))
}

/// Which ciphertext bytes hold plaintext `[start, end)`: (first chunk index, byte range).
pub fn ciphertext_range(start: u64, end: u64) -> (u64, std::ops::Range<u64>) {
    let first = start / CHUNK_SIZE as u64;
    let last = end.saturating_sub(1) / CHUNK_SIZE as u64;
    let full = (CHUNK_SIZE + TAG_LEN) as u64;
    let from = HEADER_LEN as u64 + first * full;
    let to = HEADER_LEN as u64 + (last + 1) * full;
    (first, from..to)
}

/// Decrypts chunks beginning with chunk `first_index`. `total_chunks` tells which one is the
/// final chunk (from the object's size); the header is checked when `first_index` is 0 and the
/// data starts with it.
pub fn decrypt_chunks(
    key: &DataKey,
    object_id: &str,
    first_index: u64,
    ciphertext: &[u8],
    total_chunks: u64,
) -> Result<Vec<u8>, CryptoError> {
    let cipher = key.cipher();
    let mut out = Vec::with_capacity(ciphertext.len());
    for (index, chunk) in (first_index..).zip(ciphertext.chunks(CHUNK_SIZE + TAG_LEN)) {
        if chunk.len() < TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let last = index + 1 == total_chunks;
        let (body, tag) = chunk.split_at(chunk.len() - TAG_LEN);
        let start = out.len();
        out.extend_from_slice(body);
        cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&chunk_nonce(index)),
                &chunk_aad(object_id, index, last),
                &mut out[start..],
                Tag::from_slice(tag),
            )
            .map_err(|_| {
                // A chunk that verifies as non-final where the object ends means truncation.
                if last
                    && cipher
                        .decrypt_in_place_detached(
                            Nonce::from_slice(&chunk_nonce(index)),
                            &chunk_aad(object_id, index, false),
                            &mut body.to_vec(),
                            Tag::from_slice(tag),
                        )
                        .is_ok()
                {
                    CryptoError::Truncated
                } else {
                    CryptoError::Tampered(index)
                }
            })?;
    }
    Ok(out)
}

/// Decrypts a whole object.
pub fn decrypt_object(
    key: &DataKey,
    object_id: &str,
    object: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    // The header is not covered by the chunks' tags, so every byte of it is compared, the
    // reserved ones too: a changed byte anywhere in the object is refused (found by the
    // chunk_decryption fuzz target, which flipped a reserved byte unnoticed).
    if object.len() < HEADER_LEN || object[..HEADER_LEN] != header() {
        return Err(CryptoError::BadHeader);
    }
    let body = &object[HEADER_LEN..];
    let total = (body.len() as u64).div_ceil((CHUNK_SIZE + TAG_LEN) as u64);
    if total == 0 {
        return Err(CryptoError::Truncated);
    }
    decrypt_chunks(key, object_id, 0, body, total)
}

/// Loads the master key from `path`, creating it (random, owner-only permissions) when it does
/// not exist yet: the embedded default needs no setup, and production can supply its own.
pub fn load_or_create_master_key(path: &std::path::Path, id: &str) -> Result<MasterKey, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::from_hex(id, &text).ok_or_else(|| {
            format!(
                "master key file {} must hold 64 hex characters (32 bytes)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate(id);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    format!("cannot create the master key file {}: {e}", path.display())
                })?;
            file.write_all(key.to_hex().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_journals_round_trip_and_refuse_tampering() {
        let key = DataKey::generate();
        let mut enc = Encryptor::new(key.clone(), "obj");
        let _ = enc.update(&sample(CHUNK_SIZE + 1000));
        assert_eq!(enc.chunks_written(), 1);
        let first = enc.seal_tail().unwrap();
        let _ = enc.update(b"more");
        let second = enc.seal_tail().unwrap();
        let (index, plain) = open_tail(&key, "obj", &second).unwrap();
        assert_eq!(index, 1);
        assert_eq!(plain.len(), 1004);
        assert_eq!(&plain[1000..], b"more");
        // Each journal has its own nonce: same index, different ciphertext prefix.
        assert_ne!(
            first[TAIL_HEADER_LEN..TAIL_HEADER_LEN + 16],
            second[TAIL_HEADER_LEN..TAIL_HEADER_LEN + 16]
        );
        let mut bad = second.clone();
        bad[TAIL_HEADER_LEN + 3] ^= 1;
        assert!(open_tail(&key, "obj", &bad).is_err());
        assert!(open_tail(&key, "other object", &second).is_err());
        assert!(open_tail(&DataKey::generate(), "obj", &second).is_err());
        assert!(open_tail(&key, "obj", &second[..10]).is_err());
        let mut index_moved = second.clone();
        index_moved[15] = 9;
        assert!(open_tail(&key, "obj", &index_moved).is_err());
        // Nothing pending: no journal.
        let mut empty = Encryptor::new(key, "obj");
        assert!(empty.seal_tail().is_none());
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn encrypt(key: &DataKey, id: &str, data: &[u8], piece: usize) -> Vec<u8> {
        let mut enc = Encryptor::new(key.clone(), id);
        let mut out = Vec::new();
        for part in data.chunks(piece.max(1)) {
            out.extend(enc.update(part));
        }
        out.extend(enc.finish());
        out
    }

    #[test]
    fn round_trips_at_every_boundary() {
        let key = DataKey::generate();
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE,
            200_000,
        ] {
            let data = sample(len);
            for piece in [1000, CHUNK_SIZE, 7 * CHUNK_SIZE] {
                let object = encrypt(&key, "rec-1", &data, piece);
                assert_eq!(plaintext_len(object.len() as u64), Some(len as u64));
                assert_eq!(
                    decrypt_object(&key, "rec-1", &object).unwrap(),
                    data,
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn no_plaintext_reaches_the_ciphertext() {
        let key = DataKey::generate();
        let mut data = b"\0\0\0\x18ftypisom".to_vec();
        data.extend(sample(100_000));
        let object = encrypt(&key, "rec", &data, 4096);
        assert!(!object.windows(4).any(|w| w == b"ftyp"));
    }

    #[test]
    fn tampering_truncation_and_reordering_are_detected() {
        let key = DataKey::generate();
        let data = sample(3 * CHUNK_SIZE + 10);
        let object = encrypt(&key, "rec", &data, 10_000);
        let mut flipped = object.clone();
        flipped[HEADER_LEN + 5] ^= 1;
        assert_eq!(
            decrypt_object(&key, "rec", &flipped),
            Err(CryptoError::Tampered(0))
        );
        // Cut at a chunk boundary: the new last chunk is not final.
        let cut = HEADER_LEN + 2 * (CHUNK_SIZE + TAG_LEN);
        assert_eq!(
            decrypt_object(&key, "rec", &object[..cut]),
            Err(CryptoError::Truncated)
        );
        // Cut mid-chunk.
        assert!(decrypt_object(&key, "rec", &object[..cut + 100]).is_err());
        // Swap chunks 0 and 1.
        let full = CHUNK_SIZE + TAG_LEN;
        let mut swapped = object.clone();
        let (a, b) = (HEADER_LEN, HEADER_LEN + full);
        let first: Vec<u8> = swapped[a..a + full].to_vec();
        let second: Vec<u8> = swapped[b..b + full].to_vec();
        swapped[a..a + full].copy_from_slice(&second);
        swapped[b..b + full].copy_from_slice(&first);
        assert!(matches!(
            decrypt_object(&key, "rec", &swapped),
            Err(CryptoError::Tampered(_))
        ));
        // Another object's ID or another key.
        assert!(decrypt_object(&key, "other", &object).is_err());
        assert!(decrypt_object(&DataKey::generate(), "rec", &object).is_err());
        assert_eq!(
            decrypt_object(&key, "rec", b"plain mp4"),
            Err(CryptoError::BadHeader)
        );
    }

    #[test]
    fn any_flipped_byte_is_refused_the_header_too() {
        // Regression: the fuzz target chunk_decryption flipped a reserved header byte (12)
        // and the object still decrypted.
        let key = DataKey::generate();
        let object = encrypt(&key, "rec", b"hello, recording", 16);
        for at in 0..object.len() {
            let mut flipped = object.clone();
            flipped[at] ^= 0x01;
            assert!(
                decrypt_object(&key, "rec", &flipped).is_err(),
                "byte {at} of {} flipped unnoticed",
                object.len()
            );
        }
        assert_eq!(
            decrypt_object(&key, "rec", &object).unwrap(),
            b"hello, recording"
        );
    }

    #[test]
    fn a_range_needs_only_the_chunks_it_touches() {
        let key = DataKey::generate();
        let data = sample(5 * CHUNK_SIZE + 123);
        let object = encrypt(&key, "rec", &data, CHUNK_SIZE);
        let total =
            (object.len() as u64 - HEADER_LEN as u64).div_ceil((CHUNK_SIZE + TAG_LEN) as u64);
        for (start, end) in [
            (0u64, 10u64),
            (CHUNK_SIZE as u64 - 5, CHUNK_SIZE as u64 + 5),
            (4 * CHUNK_SIZE as u64 + 100, data.len() as u64),
        ] {
            let (first, range) = ciphertext_range(start, end);
            let to = range.end.min(object.len() as u64);
            let plain = decrypt_chunks(
                &key,
                "rec",
                first,
                &object[range.start as usize..to as usize],
                total,
            )
            .unwrap();
            let offset = (start - first * CHUNK_SIZE as u64) as usize;
            assert_eq!(
                &plain[offset..offset + (end - start) as usize],
                &data[start as usize..end as usize]
            );
        }
    }

    #[test]
    fn resuming_after_a_crash_completes_the_object() {
        let key = DataKey::generate();
        let data = sample(2 * CHUNK_SIZE + 500);
        let mut enc = Encryptor::new(key.clone(), "rec");
        let mut stored = enc.update(&data);
        // Crash: the buffered tail is lost, but chunks already sealed are stored.
        let written = enc.chunks_written();
        drop(enc);
        let recovered = Encryptor::resume(key.clone(), "rec", written);
        stored.extend(recovered.finish());
        let plain = decrypt_object(&key, "rec", &stored).unwrap();
        assert_eq!(plain, &data[..written as usize * CHUNK_SIZE]);
    }

    #[test]
    fn data_keys_are_wrapped_bound_to_their_object_and_rotatable() {
        let old = MasterKey::generate("k1");
        let ring = Keyring::new(old.clone(), vec![]);
        let key = DataKey::generate();
        let wrapped = ring.wrap(&key, "rec-1");
        assert_eq!(wrapped.key_id, "k1");
        assert!(ring.unwrap(&wrapped, "rec-1").is_ok());
        assert_eq!(
            ring.unwrap(&wrapped, "rec-2").unwrap_err(),
            CryptoError::BadWrappedKey
        );
        let rotated = Keyring::new(MasterKey::generate("k2"), vec![old]);
        assert!(
            rotated.unwrap(&wrapped, "rec-1").is_ok(),
            "old keys still unwrap"
        );
        assert_eq!(rotated.wrap(&key, "rec-3").key_id, "k2");
        let forgotten = Keyring::new(MasterKey::generate("k3"), vec![]);
        assert!(matches!(
            forgotten.unwrap(&wrapped, "rec-1"),
            Err(CryptoError::UnknownKeyId(_))
        ));
        let mut bad = wrapped.clone();
        bad.blob[20] ^= 1;
        assert_eq!(
            ring.unwrap(&bad, "rec-1").unwrap_err(),
            CryptoError::BadWrappedKey
        );
        let hex = ring.current.to_hex();
        assert!(MasterKey::from_hex("k1", &hex).is_some());
        assert!(MasterKey::from_hex("k1", "zz").is_none());
    }
}
