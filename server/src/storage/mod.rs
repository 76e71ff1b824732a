//! Storage of recordings and snapshots: encryption at rest ([`crypto`]), the object stores
//! ([`objects`]: a local directory, or S3 ([`s3`]) behind a durable local [`spool`]).

pub mod crypto;
pub mod objects;
pub mod s3;
pub mod spool;

/// The keyring and the object store a configuration describes (the server and the admin CLI
/// open them the same way).
pub async fn open(
    config: &crate::config::Config,
) -> Result<(crypto::Keyring, objects::ObjectStore), String> {
    let master = match &config.master_key {
        // Validated as 64 hex characters when the configuration was loaded.
        Some(key) => crypto::MasterKey::from_hex(&config.master_key_id, key.expose().trim())
            .ok_or("master_key must be 64 hex characters")?,
        None => {
            crypto::load_or_create_master_key(&config.master_key_file(), &config.master_key_id)?
        }
    };
    let mut previous = Vec::new();
    for entry in &config.previous_master_keys {
        // Validated as "ID:PATH" when the configuration was loaded.
        let (id, path) = entry.split_once(':').unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read previous master key {id} from {path}: {e}"))?;
        previous.push(crypto::MasterKey::from_hex(id, &text).ok_or_else(|| {
            format!("previous master key file {path} must hold 64 hex characters (32 bytes)")
        })?);
    }
    let keyring = crypto::Keyring::new(master, previous);
    let store = match config.object_store {
        crate::config::ObjectStoreKind::Local => {
            objects::ObjectStore::Local(objects::LocalStore::new(config.objects_dir()))
        }
        crate::config::ObjectStoreKind::S3 => objects::ObjectStore::S3(spool::SpooledS3::open(
            config.spool_dir(),
            s3::S3Store::connect(&s3::S3Settings {
                endpoint: config.s3_endpoint.clone(),
                region: config.s3_region.clone(),
                bucket: config.s3_bucket.clone().unwrap_or_default(),
                path_style: config.s3_path_style,
                access_key: config.s3_access_key.clone(),
                secret_key: config.s3_secret_key.clone(),
                prefix: config.s3_prefix.clone(),
            })
            .await,
        )),
    };
    Ok((keyring, store))
}

/// A small object sealed and stored in one go (snapshots, thumbnails): a fresh data key,
/// wrapped for `object_id`, and the size of what was stored.
pub struct SealedObject {
    pub wrapped: crypto::WrappedKey,
    pub stored_bytes: u64,
}

/// Encrypts `plaintext` under a new data key and stores it at `object_key`.
pub async fn seal_and_store(
    keyring: &crypto::Keyring,
    store: &objects::ObjectStore,
    object_key: &str,
    object_id: &str,
    plaintext: &[u8],
) -> Result<SealedObject, objects::StoreError> {
    let (wrapped, sealed) = seal(keyring, object_id, plaintext);
    store.append(object_key, &sealed).await?;
    store.finish(object_key).await?;
    Ok(SealedObject {
        wrapped,
        stored_bytes: sealed.len() as u64,
    })
}

/// Encrypts a small secret kept in the database (a group's SSO client secret) like an object:
/// its own data key, wrapped by the master key for `object_id`. Returns the wrapped key and the
/// ciphertext in base64.
pub fn seal_secret(
    keyring: &crypto::Keyring,
    object_id: &str,
    secret: &[u8],
) -> (crypto::WrappedKey, String) {
    use base64::Engine;
    let (wrapped, sealed) = seal(keyring, object_id, secret);
    (
        wrapped,
        base64::engine::general_purpose::STANDARD.encode(sealed),
    )
}

/// Encrypts `plaintext` under a new data key wrapped for `object_id`: the wrapped key and the
/// encrypted object.
fn seal(
    keyring: &crypto::Keyring,
    object_id: &str,
    plaintext: &[u8],
) -> (crypto::WrappedKey, Vec<u8>) {
    let key = crypto::DataKey::generate();
    let wrapped = keyring.wrap(&key, object_id);
    let mut encryptor = crypto::Encryptor::new(key, object_id);
    let mut sealed = encryptor.update(plaintext);
    sealed.extend_from_slice(&encryptor.finish());
    (wrapped, sealed)
}

/// Decrypts what [`seal_secret`] made.
pub fn open_secret(
    keyring: &crypto::Keyring,
    key_id: &str,
    wrapped_base64: &str,
    object_id: &str,
    sealed_base64: &str,
) -> Result<Vec<u8>, OpenError> {
    use base64::Engine;
    let key = unwrap_key(keyring, key_id, wrapped_base64, object_id)?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed_base64)
        .map_err(|e| OpenError::Damaged(format!("sealed secret: {e}")))?;
    crypto::decrypt_object(&key, object_id, &sealed).map_err(|e| OpenError::Damaged(e.to_string()))
}

/// Why a stored object could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the object store cannot be reached: {0}")]
    Store(objects::StoreError),
    #[error("the stored object is damaged: {0}")]
    Damaged(String),
}

/// The data key of an object, from its row's `key_id` and base64 wrapped key.
pub fn unwrap_key(
    keyring: &crypto::Keyring,
    key_id: &str,
    wrapped_base64: &str,
    object_id: &str,
) -> Result<crypto::DataKey, OpenError> {
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(wrapped_base64)
        .map_err(|e| OpenError::Damaged(format!("wrapped key: {e}")))?;
    keyring
        .unwrap(
            &crypto::WrappedKey {
                key_id: key_id.to_owned(),
                blob,
            },
            object_id,
        )
        .map_err(|e| OpenError::Damaged(e.to_string()))
}

/// Reads and decrypts a whole object; damage (tampering, truncation) is an error, never bytes.
pub async fn read_sealed(
    keyring: &crypto::Keyring,
    store: &objects::ObjectStore,
    object_key: &str,
    key_id: &str,
    wrapped_base64: &str,
    object_id: &str,
) -> Result<Vec<u8>, OpenError> {
    let key = unwrap_key(keyring, key_id, wrapped_base64, object_id)?;
    let size = store.size(object_key).await.map_err(|e| match e {
        objects::StoreError::NotFound => OpenError::Damaged("object missing".into()),
        other => OpenError::Store(other),
    })?;
    let object = store
        .read_range(object_key, 0..size)
        .await
        .map_err(OpenError::Store)?;
    crypto::decrypt_object(&key, object_id, &object).map_err(|e| OpenError::Damaged(e.to_string()))
}
