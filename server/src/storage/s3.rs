//! S3-compatible object storage through `aws-sdk-s3`: endpoint, region, bucket, path-style
//! addressing and credentials from configuration or the usual AWS chain.
//!
//! Objects are written as multipart uploads while a recording runs: appended bytes collect in
//! memory until a part of at least [`PART_SIZE`] is ready (S3's minimum for all parts but the
//! last) and are uploaded then; `finish` uploads the rest and completes the upload. A small
//! object never started as multipart is written with one PUT.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::sync::Mutex;

use super::objects::{StoreError, valid_key};

/// Bytes per uploaded part (S3 requires 5 MiB for every part except the last).
pub const PART_SIZE: usize = 5 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub path_style: bool,
    /// Static credentials; when `None` the default AWS chain (environment, profile, instance
    /// role) is used.
    pub access_key: Option<String>,
    pub secret_key: Option<crate::config::Secret>,
    /// Prefix under which every object of this server lives (e.g. `remote-assist/`).
    pub prefix: String,
}

#[derive(Default)]
struct Upload {
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    buffer: Vec<u8>,
}

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: String,
    uploads: Arc<Mutex<HashMap<String, Upload>>>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn s3_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::S3(e.to_string())
}

impl S3Store {
    pub async fn connect(settings: &S3Settings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(settings.region.clone()));
        if let (Some(access), Some(secret)) = (&settings.access_key, &settings.secret_key) {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                access.clone(),
                secret.expose().to_owned(),
                None,
                None,
                "remote-assist configuration",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.path_style)
            // Checksums only where S3 requires them: some compatible stores reject the SDK's
            // default part checksums on CompleteMultipartUpload.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            endpoint: settings
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("AWS {}", settings.region)),
            uploads: Default::default(),
        }
    }

    pub fn describe(&self) -> String {
        format!("S3 bucket {} at {}", self.bucket, self.endpoint)
    }

    fn full_key(&self, key: &str) -> Result<String, StoreError> {
        if !valid_key(key) {
            return Err(StoreError::BadKey(key.to_owned()));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &mut Upload,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        if upload.upload_id.is_none() {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&full)
                .send()
                .await
                .map_err(s3_error)?;
            upload.upload_id = created.upload_id().map(str::to_owned);
        }
        let upload_id = upload
            .upload_id
            .clone()
            .ok_or_else(|| StoreError::S3("no upload id".into()))?;
        let number = upload.parts.len() as i32 + 1;
        let done = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&full)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(s3_error)?;
        upload.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(done.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    pub async fn append(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        self.full_key(key)?;
        let mut uploads = self.uploads.lock().await;
        let upload = uploads.entry(key.to_owned()).or_default();
        upload.buffer.extend_from_slice(data);
        while upload.buffer.len() >= PART_SIZE {
            let rest = upload.buffer.split_off(PART_SIZE);
            let part = std::mem::replace(&mut upload.buffer, rest);
            if let Err(e) = self.upload_part(key, upload, part.clone()).await {
                // Keep the bytes: a later append or finish retries this part.
                let mut restored = part;
                restored.extend_from_slice(&upload.buffer);
                upload.buffer = restored;
                return Err(e);
            }
        }
        Ok(())
    }

    pub async fn finish(&self, key: &str) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        let mut uploads = self.uploads.lock().await;
        let Some(mut upload) = uploads.remove(key) else {
            return Ok(());
        };
        if upload.upload_id.is_none() {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&full)
                .body(ByteStream::from(std::mem::take(&mut upload.buffer)))
                .send()
                .await
                .map_err(s3_error)?;
            return Ok(());
        }
        if !upload.buffer.is_empty() {
            let last = std::mem::take(&mut upload.buffer);
            if let Err(e) = self.upload_part(key, &mut upload, last).await {
                uploads.insert(key.to_owned(), upload);
                return Err(e);
            }
        }
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .upload_id(upload.upload_id.clone().unwrap_or_default())
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(upload.parts.clone()))
                    .build(),
            )
            .send()
            .await;
        if let Err(e) = result {
            uploads.insert(key.to_owned(), upload);
            return Err(s3_error(e));
        }
        Ok(())
    }

    pub async fn size(&self, key: &str) -> Result<u64, StoreError> {
        let full = self.full_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(head) => Ok(head.content_length().unwrap_or(0).max(0) as u64),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(s3_error(e)),
        }
    }

    pub async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let full = self.full_key(key)?;
        if range.start >= range.end {
            return Ok(Vec::new());
        }
        let size = self.size(key).await?;
        let end = range.end.min(size);
        if range.start >= end {
            return Ok(Vec::new());
        }
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .range(format!("bytes={}-{}", range.start, end - 1))
            .send()
            .await
            .map_err(s3_error)?;
        let bytes = object.body.collect().await.map_err(s3_error)?.into_bytes();
        Ok(bytes.to_vec())
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        self.uploads.lock().await.remove(key);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }
}
