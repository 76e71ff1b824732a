//! The same object-store behaviour on the local directory and on a real S3-compatible server
//! (when `REMOTE_ASSIST_TEST_S3_ENDPOINT` is set; `tests/run` starts one): objects written by
//! appending across several 5 MiB multipart parts read back exactly, by range too, and deletion
//! removes them.

mod common;

use remote_assist::storage::objects::{LocalStore, ObjectStore, StoreError};
use remote_assist::storage::s3::{PART_SIZE, S3Settings, S3Store};

async fn stores() -> (Vec<(&'static str, ObjectStore)>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![("local", ObjectStore::Local(LocalStore::new(dir.path())))];
    if let Ok(endpoint) = std::env::var("REMOTE_ASSIST_TEST_S3_ENDPOINT") {
        let s3 = S3Store::connect(&S3Settings {
            endpoint: Some(endpoint),
            region: "us-east-1".into(),
            bucket: std::env::var("REMOTE_ASSIST_TEST_S3_BUCKET").unwrap(),
            path_style: true,
            access_key: std::env::var("REMOTE_ASSIST_TEST_S3_ACCESS_KEY").ok(),
            secret_key: std::env::var("REMOTE_ASSIST_TEST_S3_SECRET_KEY")
                .ok()
                .map(remote_assist::config::Secret::new),
            prefix: format!("store-test-{}/", uuid::Uuid::new_v4().simple()),
        })
        .await;
        stores.push(("s3", ObjectStore::S3(s3)));
    } else {
        eprintln!("REMOTE_ASSIST_TEST_S3_ENDPOINT not set: S3 part of this test skipped");
    }
    (stores, dir)
}

#[tokio::test]
async fn multipart_writes_read_back_exactly() {
    let (stores, _dir) = stores().await;
    let data: Vec<u8> = (0..(2 * PART_SIZE + 12_345))
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    for (name, store) in stores {
        let key = "recordings/big.mp4.enc";
        // Appends of odd sizes, as a recording produces them.
        for piece in data.chunks(700_001) {
            store.append(key, piece).await.unwrap();
        }
        store.finish(key).await.unwrap();
        assert_eq!(store.size(key).await.unwrap(), data.len() as u64, "{name}");
        let all = store.read_range(key, 0..data.len() as u64).await.unwrap();
        assert!(all == data, "{name}: whole object differs");
        let start = PART_SIZE as u64 - 10;
        let part = store.read_range(key, start..start + 20).await.unwrap();
        assert_eq!(
            part,
            &data[start as usize..start as usize + 20],
            "{name}: across a part boundary"
        );
        let tail = store
            .read_range(key, data.len() as u64 - 5..data.len() as u64 + 100)
            .await
            .unwrap();
        assert_eq!(
            tail,
            &data[data.len() - 5..],
            "{name}: range clipped at the end"
        );
        store.delete(key).await.unwrap();
        assert!(
            matches!(store.size(key).await, Err(StoreError::NotFound)),
            "{name}: deleted"
        );
        // A small object (one PUT) and the writability probe.
        store.append("recordings/small.enc", b"tiny").await.unwrap();
        store.finish("recordings/small.enc").await.unwrap();
        assert_eq!(
            store
                .read_range("recordings/small.enc", 0..4)
                .await
                .unwrap(),
            b"tiny"
        );
        store.delete("recordings/small.enc").await.unwrap();
        store.check_writable().await.unwrap();
        assert!(matches!(
            store.append("../escape", b"x").await,
            Err(StoreError::BadKey(_))
        ));
    }
}
