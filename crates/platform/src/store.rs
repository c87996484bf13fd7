//! The object store: where covers, videos and recordings live. A trait because it is a real
//! seam (a local directory here; S3 in the `media` crate), with streaming reads of byte ranges
//! and streaming writes that never leave a half-written object behind.

use std::fmt::Debug;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A stream of object bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {0:?} not found")]
    NotFound(String),
    #[error("invalid object key {0:?}: use letters, digits, '.', '_', '-' and '/' separated segments")]
    InvalidKey(String),
    #[error("range {start}-{end:?} not satisfiable for an object of {size} bytes")]
    RangeNotSatisfiable { start: u64, end: Option<u64>, size: u64 },
    #[error("object store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store backend failed: {0}")]
    Backend(String),
}

/// What is known of a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// Bytes `start..=end` (inclusive, as in HTTP); `end: None` means to the end of the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl ByteRange {
    /// The inclusive bounds within an object of `size` bytes, or `None` when not satisfiable.
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        if self.start >= size {
            return None;
        }
        let end = self.end.map_or(size - 1, |e| e.min(size - 1));
        (end >= self.start).then_some((self.start, end))
    }
}

/// A read in progress.
pub struct GetObject {
    pub meta: ObjectMeta,
    /// Inclusive bounds of the bytes in `body`.
    pub range: (u64, u64),
    pub body: ByteStream,
}

impl Debug for GetObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObject")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish()
    }
}

#[async_trait]
pub trait ObjectStore: Send + Sync + Debug {
    /// Stores the stream under `key`, replacing any object there. Readers see either the old
    /// object or the complete new one.
    async fn put(&self, key: &str, body: ByteStream) -> Result<ObjectMeta, StoreError>;

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject, StoreError>;

    async fn head(&self, key: &str) -> Result<ObjectMeta, StoreError>;

    /// Deletes `key`; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Objects whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// Whether the store can be reached and written (readiness).
    async fn check(&self) -> Result<(), StoreError>;

    /// A URL that lets anyone GET `key` until `expires_in` passes, when the store can make one
    /// (S3 can; a local directory cannot, and the server proxies the bytes instead).
    async fn presign_get(&self, _key: &str, _expires_in: std::time::Duration) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<ObjectMeta, StoreError> {
        self.put(key, futures::stream::once(async move { Ok(bytes) }).boxed())
            .await
    }

    async fn get_bytes(&self, key: &str) -> Result<Bytes, StoreError> {
        let mut obj = self.get(key, None).await?;
        let mut buf = Vec::with_capacity(usize::try_from(obj.meta.size).unwrap_or(0));
        while let Some(chunk) = obj.body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.into())
    }
}

/// Checks an object key: relative, '/'-separated, no empty segments and none starting with '.'
/// (which keeps `..` and the store's own `.tmp` out).
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_owned()))
    }
}

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

const TMP_DIR: &str = ".tmp";

impl LocalStore {
    /// Uses `root`, creating it when missing.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::fs::create_dir_all(root.join(TMP_DIR)).await?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

fn not_found(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| {
        if e.kind() == ErrorKind::NotFound {
            StoreError::NotFound(key.to_owned())
        } else {
            e.into()
        }
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put(&self, key: &str, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        let path = self.path(key)?;
        // Write beside the final place and rename: a crash leaves only a stray temp file,
        // never a truncated object.
        let tmp = self.root.join(TMP_DIR).join(uuid::Uuid::now_v7().to_string());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&tmp, &path).await?;
            Ok::<_, std::io::Error>(size)
        }
        .await;
        match result {
            Ok(size) => Ok(ObjectMeta {
                key: key.to_owned(),
                size,
            }),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e.into())
            }
        }
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject, StoreError> {
        let path = self.path(key)?;
        let owned_key = key.to_owned();
        // Open, size and seek in one trip to the blocking pool: segment serving is dominated by
        // these hops, not by the bytes.
        let (file, size, start, end) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            use std::io::Seek;
            let mut file = std::fs::File::open(&path).map_err(not_found(&owned_key))?;
            let size = file.metadata()?.len();
            let (start, end) = match range {
                None if size == 0 => (0, 0),
                None => (0, size - 1),
                Some(r) => r.resolve(size).ok_or(StoreError::RangeNotSatisfiable {
                    start: r.start,
                    end: r.end,
                    size,
                })?,
            };
            if start > 0 {
                file.seek(std::io::SeekFrom::Start(start))?;
            }
            Ok((file, size, start, end))
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let len = if size == 0 { 0 } else { end - start + 1 };
        let file = tokio::fs::File::from_std(file);
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 * 1024).boxed();
        Ok(GetObject {
            meta: ObjectMeta {
                key: key.to_owned(),
                size,
            },
            range: (start, end),
            body,
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        let meta = tokio::fs::metadata(self.path(key)?).await.map_err(not_found(key))?;
        if !meta.is_file() {
            return Err(StoreError::NotFound(key.to_owned()));
        }
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: meta.len(),
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let path = entry.path();
                let Some(key) = relative_key(&self.root, &path) else {
                    continue;
                };
                if key == TMP_DIR {
                    continue;
                }
                let ft = entry.file_type().await?;
                if ft.is_dir() {
                    if prefix.starts_with(&format!("{key}/")) || key.starts_with(prefix) {
                        stack.push(path);
                    }
                } else if ft.is_file() && key.starts_with(prefix) {
                    out.push(ObjectMeta {
                        key,
                        size: entry.metadata().await?.len(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn check(&self) -> Result<(), StoreError> {
        let probe = self.root.join(TMP_DIR).join("readyz-probe");
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }
}

fn relative_key(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trip_ranges_list_delete() -> Result<(), StoreError> {
        let dir = tempfile::tempdir()?;
        let store = LocalStore::open(dir.path()).await?;
        store
            .put_bytes("assets/a/master.m3u8", Bytes::from_static(b"0123456789"))
            .await?;
        store.put_bytes("assets/b/x", Bytes::from_static(b"x")).await?;
        store.put_bytes("covers/c.jpg", Bytes::new()).await?;
        assert_eq!(
            store.get_bytes("assets/a/master.m3u8").await?,
            Bytes::from_static(b"0123456789")
        );
        let mut part = store
            .get("assets/a/master.m3u8", Some(ByteRange { start: 2, end: Some(4) }))
            .await?;
        assert_eq!(part.range, (2, 4));
        assert_eq!(part.body.next().await.transpose()?, Some(Bytes::from_static(b"234")));
        assert!(matches!(
            store
                .get("assets/a/master.m3u8", Some(ByteRange { start: 10, end: None }))
                .await,
            Err(StoreError::RangeNotSatisfiable { .. })
        ));
        let keys: Vec<String> = store.list("assets/").await?.into_iter().map(|m| m.key).collect();
        assert_eq!(keys, ["assets/a/master.m3u8", "assets/b/x"]);
        assert_eq!(store.head("covers/c.jpg").await?.size, 0);
        store.delete("assets/b/x").await?;
        store.delete("assets/b/x").await?;
        assert!(matches!(store.head("assets/b/x").await, Err(StoreError::NotFound(_))));
        for bad in ["", "/abs", "a/../b", "a//b", "a b", ".tmp/../x"] {
            assert!(
                matches!(store.put_bytes(bad, Bytes::new()).await, Err(StoreError::InvalidKey(_))),
                "{bad}"
            );
        }
        store.check().await
    }
}
