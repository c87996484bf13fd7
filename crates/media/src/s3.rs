//! The object store on S3 (any S3-compatible service), through `aws-sdk-s3`: streaming writes
//! (multipart above one part), ranged streaming reads, listing, deletion, presigned GETs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use platform::config::S3Settings;
use platform::store::{ByteRange, ByteStream, GetObject, ObjectMeta, ObjectStore, StoreError, validate_key};

/// Part size for multipart writes (S3's minimum is 5 MiB).
const PART: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl S3Store {
    /// A client for the configured bucket. Credentials come from the settings (which the server
    /// completes from the standard AWS environment variables and credentials file).
    pub fn new(cfg: &S3Settings) -> Result<Self, StoreError> {
        if cfg.bucket.is_empty() {
            return Err(StoreError::Backend("storage.s3.bucket is not set".into()));
        }
        let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) else {
            return Err(StoreError::Backend(
                "no S3 credentials: set storage.s3.access_key_id and secret_access_key, AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials"
                    .into(),
            ));
        };
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .force_path_style(cfg.path_style)
            .credentials_provider(Credentials::new(
                id,
                secret.expose(),
                cfg.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "parentschool-config",
            ))
            .http_client(http);
        if let Some(endpoint) = &cfg.endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        Ok(Self {
            client: aws_sdk_s3::Client::from_conf(conf.build()),
            bucket: cfg.bucket.clone(),
            prefix: cfg.key_prefix.clone(),
        })
    }

    fn key(&self, key: &str) -> Result<String, StoreError> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

fn not_found_or<E: std::fmt::Debug>(key: &str, e: SdkError<E>) -> StoreError {
    match &e {
        SdkError::ServiceError(se) if se.raw().status().as_u16() == 404 => StoreError::NotFound(key.to_owned()),
        _ => StoreError::Backend(format!("{e:?}")),
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        let full = self.key(key)?;
        let mut buf = BytesMut::new();
        let mut upload_id: Option<String> = None;
        let mut parts: Vec<CompletedPart> = Vec::new();
        let mut size = 0u64;
        let result: Result<(), StoreError> = async {
            loop {
                let next = body.next().await.transpose()?;
                let done = next.is_none();
                if let Some(chunk) = next {
                    size += chunk.len() as u64;
                    buf.extend_from_slice(&chunk);
                }
                while buf.len() >= PART || (done && upload_id.is_some() && !buf.is_empty()) {
                    let take = buf.len().min(PART);
                    let part: Bytes = buf.split_to(take).freeze();
                    let id = match &upload_id {
                        Some(id) => id.clone(),
                        None => {
                            let created = self
                                .client
                                .create_multipart_upload()
                                .bucket(&self.bucket)
                                .key(&full)
                                .send()
                                .await
                                .map_err(backend)?;
                            let id = created.upload_id().ok_or_else(|| backend("no upload id"))?.to_owned();
                            upload_id = Some(id.clone());
                            id
                        }
                    };
                    let n = parts.len() as i32 + 1;
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&self.bucket)
                        .key(&full)
                        .upload_id(&id)
                        .part_number(n)
                        .body(S3Body::from(part))
                        .send()
                        .await
                        .map_err(backend)?;
                    parts.push(
                        CompletedPart::builder()
                            .part_number(n)
                            .set_e_tag(out.e_tag().map(str::to_owned))
                            .build(),
                    );
                }
                if done {
                    return Ok(());
                }
            }
        }
        .await;
        match (result, upload_id) {
            (Err(e), Some(id)) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&full)
                    .upload_id(id)
                    .send()
                    .await;
                Err(e)
            }
            (Err(e), None) => Err(e),
            (Ok(()), Some(id)) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&full)
                    .upload_id(id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
                    .map_err(backend)?;
                Ok(ObjectMeta {
                    key: key.to_owned(),
                    size,
                })
            }
            (Ok(()), None) => {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&full)
                    .body(S3Body::from(buf.freeze()))
                    .send()
                    .await
                    .map_err(backend)?;
                Ok(ObjectMeta {
                    key: key.to_owned(),
                    size,
                })
            }
        }
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject, StoreError> {
        let meta = self.head(key).await?;
        let (start, end) = match range {
            None if meta.size == 0 => (0, 0),
            None => (0, meta.size - 1),
            Some(r) => r.resolve(meta.size).ok_or(StoreError::RangeNotSatisfiable {
                start: r.start,
                end: r.end,
                size: meta.size,
            })?,
        };
        let mut req = self.client.get_object().bucket(&self.bucket).key(self.key(key)?);
        if range.is_some() {
            req = req.range(format!("bytes={start}-{end}"));
        }
        let out = req.send().await.map_err(|e| not_found_or(key, e))?;
        let reader = out.body.into_async_read();
        let body = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024).boxed();
        Ok(GetObject {
            meta,
            range: (start, end),
            body,
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
            .map_err(|e| not_found_or(key, e))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0),
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(format!("{}{prefix}", self.prefix))
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(backend)?;
            for o in page.contents() {
                if let Some(k) = o.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    out.push(ObjectMeta {
                        key: k.to_owned(),
                        size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                    });
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>, StoreError> {
        let conf = PresigningConfig::expires_in(expires_in).map_err(backend)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .presigned(conf)
            .await
            .map_err(backend)?;
        Ok(Some(req.uri().to_owned()))
    }
}
