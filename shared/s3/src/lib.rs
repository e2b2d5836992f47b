//! The EDI folders on Amazon S3 (AWS Transfer Family's SFTP and AS2 write
//! there): `inbound/<company>/` holds what partners send, `outbound/<company>/`
//! what we send them (`service::edi::EdiOutbox`), `processed/<company>/` what
//! was read. The client is built on first use.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use service::edi::{EdiOutbox, OutboxError};
use service::events::Pending;
use thiserror::Error;

/// Objects above this are not read (an interchange is kilobytes).
pub const MAX_OBJECT_BYTES: usize = edi::MAX_BYTES;

#[derive(Clone, Debug)]
pub struct S3Edi {
    client: aws::OnFirstUse<Client>,
    bucket: String,
}

/// What the first bytes of an object over the limit are read for: its ISA.
pub const HEAD_BYTES: usize = 106;

/// A company id, or a name we give a document, usable as one key segment:
/// letters, digits, `-`, `_`, `.`, not only dots.
fn plain_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !s.bytes().all(|b| b == b'.')
}

/// A file name as a partner's SFTP or AS2 client may give it (spaces and
/// all): one key segment, not `.` or `..`.
fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 512 && !s.contains('/') && s != "." && s != ".."
}

/// An inbound object's key split: the company and the file name.
pub fn inbound_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("inbound/")?;
    let (company, name) = rest.split_once('/')?;
    (plain_ok(company) && name_ok(name)).then_some((company, name))
}

/// What was read of an inbound object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Whole(Vec<u8>),
    /// Over [`MAX_OBJECT_BYTES`]: its first [`HEAD_BYTES`] and its size.
    TooLarge(Vec<u8>, u64),
}

/// A key as `CopySource` takes it: the bucket and key, URL-encoded.
fn copy_source(bucket: &str, key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(&format!("{bucket}/{key}"), KEEP).to_string()
}

/// Why an S3 call failed.
#[derive(Debug, Error)]
pub enum S3Error {
    /// S3 refused the call, or could not be reached (its code and message,
    /// or what went wrong on the way).
    #[error("S3 {operation}: {detail}")]
    Call {
        operation: &'static str,
        detail: String,
    },
    /// The object's body broke off while it was read.
    #[error("S3 GetObject: {0}")]
    Body(String),
    /// The company or file name cannot be part of a key.
    #[error("{company:?}/{name:?} is not a safe key")]
    UnsafeKey { company: String, name: String },
}

fn describe<E, R>(operation: &'static str, e: &SdkError<E, R>) -> S3Error
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let detail = match e.as_service_error() {
        Some(se) => format!(
            "{}: {}",
            se.code().unwrap_or("unknown error"),
            se.message().unwrap_or("")
        ),
        None => DisplayErrorContext(e).to_string(),
    };
    S3Error::Call { operation, detail }
}

/// Path-style addressing: what S3-compatible local endpoints need, and
/// equally valid on AWS.
fn path_style_client(sdk: &SdkConfig) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

impl S3Edi {
    pub fn on_first_use(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        S3Edi {
            client: aws::OnFirstUse::new(sdk, path_style_client),
            bucket: bucket.into(),
        }
    }

    /// The same client on another bucket (the one an event names).
    pub fn for_bucket(&self, bucket: &str) -> S3Edi {
        S3Edi {
            bucket: bucket.to_owned(),
            ..self.clone()
        }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }

    /// The object's bytes, or only its head when it is over the limit
    /// (as the event's size says, or as its length turns out); `None` when
    /// it is gone (processed already). Never holds more than the limit.
    pub async fn read(&self, key: &str, size: Option<u64>) -> Result<Option<Object>, S3Error> {
        let limit = u64::try_from(MAX_OBJECT_BYTES).unwrap_or(u64::MAX);
        let mut get = self.client().get_object().bucket(&self.bucket).key(key);
        let head_only = size.is_some_and(|n| n > limit);
        if head_only {
            get = get.range(format!("bytes=0-{}", HEAD_BYTES - 1));
        }
        let mut out = match get.send().await {
            Ok(o) => o,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(describe("GetObject", &e)),
        };
        let length = out.content_length().and_then(|n| u64::try_from(n).ok());
        let mut bytes = Vec::new();
        while let Some(chunk) = out
            .body
            .try_next()
            .await
            .map_err(|e| S3Error::Body(e.to_string()))?
        {
            bytes.extend_from_slice(&chunk);
            if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
                break;
            }
        }
        let over = u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit;
        if head_only || over {
            bytes.truncate(HEAD_BYTES);
            let size = size.or(length).unwrap_or(limit.saturating_add(1));
            return Ok(Some(Object::TooLarge(bytes, size)));
        }
        Ok(Some(Object::Whole(bytes)))
    }

    /// Move `inbound/<company>/<name>` to `processed/<company>/<name>`.
    pub async fn set_aside(&self, company: &str, name: &str) -> Result<(), S3Error> {
        let from = format!("inbound/{company}/{name}");
        self.client()
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(copy_source(&self.bucket, &from))
            .key(format!("processed/{company}/{name}"))
            .send()
            .await
            .map_err(|e| describe("CopyObject", &e))?;
        self.client()
            .delete_object()
            .bucket(&self.bucket)
            .key(&from)
            .send()
            .await
            .map_err(|e| describe("DeleteObject", &e))?;
        Ok(())
    }

    async fn write(&self, company: &str, name: &str, bytes: &[u8]) -> Result<String, S3Error> {
        if !plain_ok(company) || !plain_ok(name) {
            return Err(S3Error::UnsafeKey {
                company: company.to_owned(),
                name: name.to_owned(),
            });
        }
        let key = format!("outbound/{company}/{name}");
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/edi-x12")
            .body(bytes.to_vec().into())
            .send()
            .await
            .map_err(|e| describe("PutObject", &e))?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

impl EdiOutbox for S3Edi {
    fn put<'a>(
        &'a self,
        company_id: &'a str,
        name: &'a str,
        bytes: &'a [u8],
    ) -> Pending<'a, String, OutboxError> {
        Box::pin(async move {
            self.write(company_id, name, bytes)
                .await
                .map_err(|e| match e {
                    S3Error::UnsafeKey { .. } => OutboxError::UnsafeName(e.to_string()),
                    other => OutboxError::Failed(other.to_string()),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_keys_name_a_company_and_a_file() {
        assert_eq!(
            inbound_key("inbound/buyer-edi/860.x12"),
            Some(("buyer-edi", "860.x12"))
        );
        for bad in [
            "outbound/buyer-edi/860.x12",
            "inbound/buyer-edi",
            "inbound//860.x12",
            "inbound/../x",
            "inbound/a/b/c",
            "inbound/a b/c",
            "inbound/a/..",
            "inbound/a/.",
        ] {
            assert_eq!(inbound_key(bad), None, "{bad}");
        }
        // Partners' clients name files as they like.
        assert_eq!(
            inbound_key("inbound/buyer-edi/860 cancel (1).x12"),
            Some(("buyer-edi", "860 cancel (1).x12"))
        );
    }

    #[test]
    fn copy_sources_are_url_encoded() {
        assert_eq!(
            copy_source("b", "inbound/c1/a b+c%.x12"),
            "b/inbound/c1/a%20b%2Bc%25.x12"
        );
    }

    /// Against ministack's S3: written, read, set aside.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn documents_are_written_read_and_set_aside() {
        let local = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|e| {
            e.starts_with("http://127.0.0.1:") || e.starts_with("http://localhost:")
        });
        assert!(
            local,
            "AWS_ENDPOINT_URL must point at ministack: run through scripts/ministack.sh test"
        );
        let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
        let bucket = format!("edi-test-{}", std::process::id());
        let s3 = S3Edi::on_first_use(&sdk, &bucket);
        s3.client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let at = s3.put("c1", "000000001-997.x12", b"ISA*").await.unwrap();
        assert_eq!(at, format!("s3://{bucket}/outbound/c1/000000001-997.x12"));
        s3.client()
            .put_object()
            .bucket(&bucket)
            .key("inbound/c1/in.x12")
            .body(b"hello".to_vec().into())
            .send()
            .await
            .unwrap();
        assert_eq!(
            s3.read("inbound/c1/in.x12", Some(5)).await.unwrap(),
            Some(Object::Whole(b"hello".to_vec()))
        );
        s3.set_aside("c1", "in.x12").await.unwrap();
        assert_eq!(s3.read("inbound/c1/in.x12", None).await.unwrap(), None);
        assert_eq!(
            s3.read("processed/c1/in.x12", None).await.unwrap(),
            Some(Object::Whole(b"hello".to_vec()))
        );
        // A key with a space, as a partner's client names a file.
        s3.client()
            .put_object()
            .bucket(&bucket)
            .key("inbound/c1/with space+plus.x12")
            .body(b"spaced".to_vec().into())
            .send()
            .await
            .unwrap();
        s3.set_aside("c1", "with space+plus.x12").await.unwrap();
        assert_eq!(
            s3.read("processed/c1/with space+plus.x12", None)
                .await
                .unwrap(),
            Some(Object::Whole(b"spaced".to_vec()))
        );
        // Over the limit by the event's size: only the head is read.
        let big = vec![b'x'; 300];
        s3.client()
            .put_object()
            .bucket(&bucket)
            .key("inbound/c1/big.x12")
            .body(big.into())
            .send()
            .await
            .unwrap();
        let limit = u64::try_from(MAX_OBJECT_BYTES).unwrap();
        assert_eq!(
            s3.read("inbound/c1/big.x12", Some(limit + 1))
                .await
                .unwrap(),
            Some(Object::TooLarge(vec![b'x'; HEAD_BYTES], limit + 1))
        );
    }
}
