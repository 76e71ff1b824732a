//! The same object-store behaviour on the local directory and on a real S3-compatible server
//! behind the spool (when `REMOTE_ASSIST_TEST_S3_ENDPOINT` is set; `tests/run` starts one):
//! objects written by appending across several 5 MiB multipart parts read back exactly, by
//! range too, from the spool and then from S3 itself, and deletion removes them everywhere.

mod common;

use remote_assist::storage::objects::{LocalStore, ObjectStore, StoreError};
use remote_assist::storage::s3::{PART_SIZE, S3Settings, S3Store};
use remote_assist::storage::spool::SpooledS3;

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
        stores.push((
            "s3",
            ObjectStore::S3(SpooledS3::open(dir.path().join("spool"), s3)),
        ));
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
        if let ObjectStore::S3(spool) = &store {
            // Readable from the spool at once; then the uploader moves it into S3.
            assert!(spool.drained(std::time::Duration::from_secs(60)).await);
            assert!(!spool.is_spooled(key).await, "spool emptied after upload");
            let in_s3 = spool
                .s3()
                .read_range(key, 0..data.len() as u64)
                .await
                .unwrap();
            assert!(
                in_s3 == data,
                "the object in S3 is exactly what was appended"
            );
        }
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
        if let ObjectStore::S3(spool) = &store {
            // Deleted while still being uploaded: the uploader stops and never completes it.
            let pending = "recordings/deleted-early.enc";
            store
                .append(pending, &data[..PART_SIZE + 10])
                .await
                .unwrap();
            // Wait until its multipart upload has started (the state file names it).
            let state_file = spool.dir().join(format!("{pending}.upload"));
            let mut upload_id = None;
            for _ in 0..200 {
                let text = std::fs::read_to_string(&state_file).unwrap_or_default();
                upload_id = text
                    .lines()
                    .find_map(|l| l.strip_prefix("upload "))
                    .map(str::to_owned);
                if upload_id.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let upload_id = upload_id.expect("the uploader started a multipart upload");
            store.delete(pending).await.unwrap();
            store.append("recordings/other.enc", b"x").await.unwrap();
            store.finish("recordings/other.enc").await.unwrap();
            assert!(spool.drained(std::time::Duration::from_secs(60)).await);
            assert!(
                matches!(spool.s3().size(pending).await, Err(StoreError::NotFound)),
                "a deleted object never appears in S3"
            );
            // AWS answers NoSuchUpload, s3s-fs AccessDenied: either way the upload is gone.
            assert!(
                spool
                    .s3()
                    .upload_part(pending, &upload_id, 9, b"late".to_vec())
                    .await
                    .is_err(),
                "its multipart upload was aborted"
            );
            store.delete("recordings/other.enc").await.unwrap();
        }
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
