//! The `edi-intake` Lambda: S3 object events of the EDI bucket's
//! `inbound/<company>/` prefix. Each object is read, processed as one
//! interchange (`App::edi_interchange`), answered with a 997 in
//! `outbound/<company>/`, and moved to `processed/<company>/`. A failure on
//! our side fails the invocation (S3 invokes asynchronously and retries);
//! objects already moved are gone from `inbound/` and are skipped then, and
//! reconciliation is absolute, so a retry repeats nothing.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use s3::{S3Edi, inbound_key};
use service::App;
use service::edi::{EdiError, EdiOutbox};
use service::store::Store;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("{failed} of {total} objects must be retried")]
pub struct Retry {
    pub failed: usize,
    pub total: usize,
}

/// An event record's object key, decoded (S3 event keys are URL-encoded,
/// `+` for a space).
pub fn object_key(r: &S3EventRecord) -> Option<String> {
    let raw = r.s3.object.key.as_deref()?.replace('+', " ");
    percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

/// Handle one event: every record, each on its own, on the bucket it
/// names (`bucket` gives the client).
pub async fn handle<S: Store>(app: &App<S>, bucket: &S3Edi, event: S3Event) -> Result<(), Retry> {
    let total = event.records.len();
    let mut failed = 0;
    for r in &event.records {
        let Some(key) = object_key(r) else {
            tracing::warn!("an S3 record without a readable key; skipped");
            continue;
        };
        let Some((company, name)) = inbound_key(&key) else {
            tracing::warn!(%key, "not an inbound/<company>/<file> key; skipped");
            continue;
        };
        let Some(name_of_bucket) = r.s3.bucket.name.as_deref() else {
            tracing::warn!(%key, "an S3 record without its bucket; skipped");
            continue;
        };
        let bucket = bucket.for_bucket(name_of_bucket);
        if let Err(e) = one(app, &bucket, company, name, &key).await {
            tracing::error!(%key, error = %e, "EDI object failed; the invocation is retried");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Retry { failed, total });
    }
    Ok(())
}

async fn one<S: Store>(
    app: &App<S>,
    bucket: &S3Edi,
    company: &str,
    name: &str,
    key: &str,
) -> Result<(), String> {
    let Some(bytes) = bucket.read(key).await? else {
        tracing::info!(%key, "already processed");
        return Ok(());
    };
    match app.edi_interchange(company, &bytes).await {
        Ok(report) => {
            if let Some(ack) = &report.ack {
                bucket.put(company, &ack.name, &ack.bytes).await?;
            }
            tracing::info!(%key, refused = ?report.refused, sets = ?report.sets, ack = ?report.ack.as_ref().map(|a| &a.name), "EDI file processed");
        }
        Err(e @ (EdiError::Unavailable(_) | EdiError::App(_) | EdiError::NotConfigured)) => {
            return Err(e.to_string());
        }
        // Nothing to answer: not an interchange, no such EDI company.
        Err(e) => tracing::error!(%key, error = %e, "EDI file refused; set aside"),
    }
    bucket.set_aside(company, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_event_names_an_inbound_object() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/edi-intake/object-created.json");
        let e: S3Event = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let key = object_key(&e.records[0]).unwrap();
        assert_eq!(key, "inbound/buyer-edi/860 cancel order.x12");
        assert_eq!(
            inbound_key(&key.replace(' ', "-")),
            Some(("buyer-edi", "860-cancel-order.x12"))
        );
    }
}
