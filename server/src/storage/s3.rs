//! S3-compatible object storage through `aws-sdk-s3`: endpoint, region, bucket, path-style
//! addressing and credentials from configuration or the usual AWS chain.
//!
//! This module is the plain S3 client; objects being written go through the local spool
//! ([`super::spool`]), which streams them here as multipart uploads of at least [`PART_SIZE`]
//! (S3's minimum for all parts but the last) and completes them when they are finished. Small
//! objects are written with one PUT.

use std::ops::Range;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

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

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The whole error chain: the SDK's own `Display` says only "service error".
fn s3_error(e: impl std::error::Error) -> StoreError {
    StoreError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
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
        // Bounded waits: an unreachable store must fail a request (the spool retries it), not
        // hang the uploader forever.
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .operation_attempt_timeout(std::time::Duration::from_secs(60))
                .operation_timeout(std::time::Duration::from_secs(180))
                .build(),
        );
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

    /// Starts a multipart upload; returns its ID.
    pub async fn create_upload(&self, key: &str) -> Result<String, StoreError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .send()
            .await
            .map_err(s3_error)?;
        created
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::S3("no upload id in the answer".into()))
    }

    /// Uploads one part; returns its ETag. `NotFound` when the store no longer knows the upload.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        data: Vec<u8>,
    ) -> Result<String, StoreError> {
        let done = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| {
                if is_no_such_upload(&e) {
                    StoreError::NotFound
                } else {
                    s3_error(e)
                }
            })?;
        Ok(done.e_tag().unwrap_or_default().to_owned())
    }

    /// Completes a multipart upload from its (number, ETag) parts.
    pub async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(i32, String)>,
    ) -> Result<(), StoreError> {
        let parts = parts
            .into_iter()
            .map(|(number, etag)| {
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                if is_no_such_upload(&e) {
                    StoreError::NotFound
                } else {
                    s3_error(e)
                }
            })?;
        Ok(())
    }

    /// Abandons a multipart upload and its parts (an unknown upload is not an error).
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_no_such_upload(&e) => Ok(()),
            Err(e) => Err(s3_error(e)),
        }
    }

    /// Unfinished multipart uploads under `prefix`: (our key without the store prefix, upload
    /// ID, seconds since the Unix epoch when it was started).
    pub async fn list_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.prefix))
            .send()
            .await
            .map_err(s3_error)?;
        Ok(listed
            .uploads()
            .iter()
            .filter_map(|u| {
                let key = u.key()?.strip_prefix(&self.prefix)?.to_owned();
                let started = u.initiated().map_or(0, |t| t.secs());
                Some((key, u.upload_id()?.to_owned(), started))
            })
            .collect())
    }

    /// Keys under `prefix` (without the store prefix), all pages.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(format!("{}{prefix}", self.prefix))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(s3_error)?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key()?.strip_prefix(&self.prefix).map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        Ok(out)
    }

    /// Writes a whole object with one PUT.
    pub async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(s3_error)?;
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

/// Whether an S3 error says the multipart upload does not exist (any more).
fn is_no_such_upload<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(
    error: &aws_sdk_s3::error::SdkError<E, R>,
) -> bool {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    error.code() == Some("NoSuchUpload")
}

impl S3Store {
    /// Installs (replaces) the bucket's lifecycle configuration with one expiration rule per
    /// prefix, `days` after an object was written, and a rule that drops multipart uploads
    /// left unfinished for as long. A backstop: the server deletes objects (and their keys) on
    /// time itself; this catches bytes it could not remove.
    pub async fn install_lifecycle_rules(
        &self,
        prefixes: &[&str],
        days: i32,
    ) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{
            AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
            LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        };
        let mut rules = Vec::new();
        for prefix in prefixes {
            let full = format!("{}{prefix}", self.prefix);
            rules.push(
                LifecycleRule::builder()
                    .id(format!(
                        "remote-assist-expire-{}",
                        prefix.trim_end_matches('/')
                    ))
                    .status(ExpirationStatus::Enabled)
                    .filter(LifecycleRuleFilter::builder().prefix(full).build())
                    .expiration(LifecycleExpiration::builder().days(days).build())
                    .abort_incomplete_multipart_upload(
                        AbortIncompleteMultipartUpload::builder()
                            .days_after_initiation(days)
                            .build(),
                    )
                    .build()
                    .map_err(s3_error)?,
            );
        }
        let configuration = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(s3_error)?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(configuration)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    /// The expiration days of the bucket's lifecycle rules, by rule ID (to check what is set).
    pub async fn lifecycle_rules(&self) -> Result<Vec<(String, Option<i32>)>, StoreError> {
        let answer = self
            .client
            .get_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(answer
            .rules()
            .iter()
            .map(|r| {
                (
                    r.id().unwrap_or_default().to_owned(),
                    r.expiration().and_then(|e| e.days()),
                )
            })
            .collect())
    }
}
