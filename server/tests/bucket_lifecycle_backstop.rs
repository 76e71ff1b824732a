//! `s3_lifecycle_rule = true`: at start the server installs a bucket lifecycle rule that expires
//! recordings and snapshots one day after their retention (a backstop behind its own deletion),
//! checked against moto (which stores and reads back lifecycle rules); a store that refuses
//! lifecycle rules stops the start with a message that names the setting.

mod common;

use std::sync::Arc;

use remote_assist::config::{Config, ObjectStoreKind, Secret};
use remote_assist::storage::objects::ObjectStore;

fn s3_config(endpoint: &str, bucket: &str, key: &str, secret: &str) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        media_port: 0,
        object_store: ObjectStoreKind::S3,
        s3_endpoint: Some(endpoint.to_owned()),
        s3_region: "us-east-1".into(),
        s3_bucket: Some(bucket.to_owned()),
        s3_path_style: true,
        s3_access_key: Some(key.to_owned()),
        s3_secret_key: Some(Secret::new(secret)),
        s3_prefix: format!("lifecycle-{}/", uuid::Uuid::new_v4().simple()),
        s3_lifecycle_rule: true,
        recording_retention_days: 30,
        ..Default::default()
    };
    (config, dir)
}

#[tokio::test]
async fn the_lifecycle_rule_is_installed_at_start() {
    let Ok(endpoint) = std::env::var("REMOTE_ASSIST_TEST_MOTO_ENDPOINT") else {
        eprintln!("REMOTE_ASSIST_TEST_MOTO_ENDPOINT not set (tests/run starts moto): skipped");
        return;
    };
    let bucket = format!("lifecycle-{}", uuid::Uuid::new_v4().simple());
    let (mut config, _dir) = s3_config(&endpoint, &bucket, "testing", "testing");
    let (_db, _db_dir, url) = common::fresh_db().await;
    config.database_url = Some(url);
    // moto starts empty: make the bucket as an operator would.
    let sdk = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::new()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build(),
    );
    sdk.create_bucket().bucket(&bucket).send().await.unwrap();

    let clock = Arc::new(remote_assist::clock::SystemClock);
    let state = remote_assist::prepare(config.clone(), clock).await.unwrap();
    let ObjectStore::S3(spool) = &state.store else {
        panic!("an S3 store")
    };
    let mut rules = spool.s3().lifecycle_rules().await.unwrap();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            ("remote-assist-expire-recordings".to_owned(), Some(31)),
            ("remote-assist-expire-snapshots".to_owned(), Some(31)),
        ]
    );
    let prefixes: Vec<String> = sdk
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .rules()
        .iter()
        .filter_map(|r| r.filter().and_then(|f| f.prefix()).map(str::to_owned))
        .collect();
    for prefix in ["recordings/", "snapshots/"] {
        assert!(
            prefixes.contains(&format!("{}{prefix}", config.s3_prefix)),
            "{prefixes:?}"
        );
    }
}

#[tokio::test]
async fn a_store_without_lifecycle_rules_stops_the_start_with_a_fix() {
    let Ok(endpoint) = std::env::var("REMOTE_ASSIST_TEST_S3_ENDPOINT") else {
        eprintln!("REMOTE_ASSIST_TEST_S3_ENDPOINT not set: skipped");
        return;
    };
    // s3s-fs answers lifecycle requests with NotImplemented.
    let (mut config, _dir) = s3_config(
        &endpoint,
        &std::env::var("REMOTE_ASSIST_TEST_S3_BUCKET").unwrap(),
        &std::env::var("REMOTE_ASSIST_TEST_S3_ACCESS_KEY").unwrap(),
        &std::env::var("REMOTE_ASSIST_TEST_S3_SECRET_KEY").unwrap(),
    );
    let (_db, _db_dir, url) = common::fresh_db().await;
    config.database_url = Some(url);
    let clock = Arc::new(remote_assist::clock::SystemClock);
    let error = match remote_assist::prepare(config, clock).await {
        Ok(_) => panic!("the start must fail"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("s3_lifecycle_rule"), "{error}");
}
