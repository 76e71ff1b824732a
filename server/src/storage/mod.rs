//! Storage of recordings and snapshots: encryption at rest ([`crypto`]) and, in the recording
//! milestone, the object stores (local directory, S3) it writes to.

pub mod crypto;
pub mod objects;
pub mod s3;

/// The keyring and the object store a configuration describes (the server and the admin CLI
/// open them the same way).
pub async fn open(
    config: &crate::config::Config,
) -> Result<(crypto::Keyring, objects::ObjectStore), String> {
    let master =
        crypto::load_or_create_master_key(&config.master_key_file(), &config.master_key_id)?;
    let keyring = crypto::Keyring::new(master, Vec::new());
    let store = match config.object_store {
        crate::config::ObjectStoreKind::Local => {
            objects::ObjectStore::Local(objects::LocalStore::new(config.objects_dir()))
        }
        crate::config::ObjectStoreKind::S3 => objects::ObjectStore::S3(
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
        ),
    };
    Ok((keyring, store))
}
