//! The object-store contract, run against the local directory and a real S3-compatible server.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use platform::store::{ByteRange, LocalStore, ObjectStore, StoreError};

async fn read_all(store: &dyn ObjectStore, key: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut obj = store.get(key, range).await.unwrap_or_else(|e| panic!("get {key}: {e}"));
    let mut out = Vec::new();
    while let Some(chunk) = obj.body.next().await {
        out.extend_from_slice(&chunk.unwrap_or_else(|e| panic!("{e}")));
    }
    out
}

async fn contract(store: &dyn ObjectStore) {
    store.check().await.unwrap_or_else(|e| panic!("check: {e}"));
    store
        .put_bytes("assets/a/x.txt", Bytes::from_static(b"0123456789"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_all(store, "assets/a/x.txt", None).await, b"0123456789");
    assert_eq!(
        read_all(store, "assets/a/x.txt", Some(ByteRange { start: 3, end: Some(5) })).await,
        b"345"
    );
    assert_eq!(
        read_all(store, "assets/a/x.txt", Some(ByteRange { start: 7, end: None })).await,
        b"789"
    );
    assert!(matches!(
        store
            .get("assets/a/x.txt", Some(ByteRange { start: 10, end: None }))
            .await,
        Err(StoreError::RangeNotSatisfiable { .. })
    ));
    assert_eq!(store.head("assets/a/x.txt").await.map(|m| m.size).ok(), Some(10));
    assert!(matches!(
        store.head("assets/a/missing").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get("assets/a/missing", None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.put_bytes("../escape", Bytes::new()).await,
        Err(StoreError::InvalidKey(_))
    ));

    // A streamed write larger than one multipart part, in uneven pieces.
    let big: Vec<u8> = (0..(9 * 1024 * 1024 + 123)).map(|i: usize| (i % 251) as u8).collect();
    let pieces: Vec<Result<Bytes, std::io::Error>> =
        big.chunks(700_001).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let meta = store
        .put("assets/b/big.bin", futures::stream::iter(pieces).boxed())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.size, big.len() as u64);
    assert_eq!(read_all(store, "assets/b/big.bin", None).await, big);
    let tail = read_all(
        store,
        "assets/b/big.bin",
        Some(ByteRange {
            start: big.len() as u64 - 100,
            end: None,
        }),
    )
    .await;
    assert_eq!(tail, &big[big.len() - 100..]);

    // Replacing an object replaces it whole.
    store
        .put_bytes("assets/a/x.txt", Bytes::from_static(b"new"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_all(store, "assets/a/x.txt", None).await, b"new");

    let keys: Vec<String> = store
        .list("assets/")
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["assets/a/x.txt", "assets/b/big.bin"]);
    assert_eq!(store.list("assets/b/").await.unwrap_or_default().len(), 1);
    store.delete("assets/a/x.txt").await.unwrap_or_else(|e| panic!("{e}"));
    store
        .delete("assets/a/x.txt")
        .await
        .unwrap_or_else(|e| panic!("deleting twice: {e}"));
    assert!(matches!(
        store.head("assets/a/x.txt").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn local_store_contract() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = LocalStore::open(dir.path()).await.unwrap_or_else(|e| panic!("{e}"));
    contract(&store).await;
    assert_eq!(
        store
            .presign_get("assets/b/big.bin", Duration::from_secs(60))
            .await
            .ok()
            .flatten(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_contract() {
    let s3 = e2e::S3Server::start().await;
    let store = media::s3::S3Store::new(&s3.settings()).unwrap_or_else(|e| panic!("{e}"));
    contract(&store).await;

    // Presigned GETs work for anyone until they expire; a tampered one is refused.
    store
        .put_bytes("assets/c/seg.m4s", Bytes::from_static(b"segment bytes"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = store
        .presign_get("assets/c/seg.m4s", Duration::from_secs(60))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no presigned URL"));
    let res = reqwest::get(&url).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.bytes().await.unwrap_or_default(),
        Bytes::from_static(b"segment bytes")
    );
    let tampered = url.replacen("assets/c/seg.m4s", "assets/c/other.m4s", 1);
    assert_eq!(
        reqwest::get(&tampered).await.map(|r| r.status().as_u16()).unwrap_or(0),
        403
    );
    let short = store
        .presign_get("assets/c/seg.m4s", Duration::from_secs(1))
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        reqwest::get(&short).await.map(|r| r.status().as_u16()).unwrap_or(0),
        403,
        "expired"
    );

    // Wrong credentials are refused.
    let mut bad = s3.settings();
    bad.secret_access_key = Some(platform::config::Secret::new("wrong-secret"));
    let bad = media::s3::S3Store::new(&bad).unwrap_or_else(|e| panic!("{e}"));
    assert!(bad.head("assets/c/seg.m4s").await.is_err());
}
