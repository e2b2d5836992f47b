//! The EDI folders on Amazon S3 (AWS Transfer Family's SFTP and AS2 write
//! there): `inbound/<company>/` holds what partners send, `outbound/<company>/`
//! what we send them (`service::edi::EdiOutbox`), `processed/<company>/` what
//! was read. The client is built on first use.

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use service::edi::EdiOutbox;
use service::webhooks::Pending;

/// Objects above this are not read (an interchange is kilobytes).
pub const MAX_OBJECT_BYTES: i64 = 10 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct S3Edi {
    client: Arc<OnceLock<Client>>,
    config: SdkConfig,
    bucket: String,
}

/// An inbound object's key split: the company and the file name.
pub fn inbound_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("inbound/")?;
    let (company, name) = rest.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 255
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !s.bytes().all(|b| b == b'.')
    };
    (ok(company) && ok(name)).then_some((company, name))
}

fn describe<E, R>(op: &str, e: &SdkError<E, R>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => format!(
            "S3 {op}: {}: {}",
            se.code().unwrap_or("unknown error"),
            se.message().unwrap_or("")
        ),
        None => format!("S3 {op}: {}", DisplayErrorContext(e)),
    }
}

impl S3Edi {
    pub fn on_first_use(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        S3Edi {
            client: Arc::new(OnceLock::new()),
            config: sdk.clone(),
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
        self.client.get_or_init(|| {
            // Path-style addressing: what S3-compatible local endpoints need,
            // and equally valid on AWS.
            let conf = aws_sdk_s3::config::Builder::from(&self.config)
                .force_path_style(true)
                .build();
            Client::from_conf(conf)
        })
    }

    /// The object's bytes; `None` when it is gone (processed already).
    pub async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let out = match self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(describe("GetObject", &e)),
        };
        if out.content_length().is_some_and(|n| n > MAX_OBJECT_BYTES) {
            return Err(format!("{key} is over {MAX_OBJECT_BYTES} bytes"));
        }
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| format!("S3 GetObject {key}: {e}"))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// Move `inbound/<company>/<name>` to `processed/<company>/<name>`.
    pub async fn set_aside(&self, company: &str, name: &str) -> Result<(), String> {
        let from = format!("inbound/{company}/{name}");
        self.client()
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
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

    async fn write(&self, company: &str, name: &str, bytes: &[u8]) -> Result<String, String> {
        if inbound_key(&format!("inbound/{company}/{name}")).is_none() {
            return Err(format!("{company}/{name} is not a safe key"));
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
    ) -> Pending<'a, String, String> {
        Box::pin(self.write(company_id, name, bytes))
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
        ] {
            assert_eq!(inbound_key(bad), None, "{bad}");
        }
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
        let sdk = aws::sdk_config().await;
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
            s3.read("inbound/c1/in.x12").await.unwrap(),
            Some(b"hello".to_vec())
        );
        s3.set_aside("c1", "in.x12").await.unwrap();
        assert_eq!(s3.read("inbound/c1/in.x12").await.unwrap(), None);
        assert_eq!(
            s3.read("processed/c1/in.x12").await.unwrap(),
            Some(b"hello".to_vec())
        );
    }
}
