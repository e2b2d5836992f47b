//! The `edi-intake` Lambda: S3 object events of the EDI bucket's
//! `inbound/<company>/` prefix. Each object is read (only its head when the
//! event says it is over the limit), processed as one interchange
//! (`EdiService::edi_file`), answered (997, 824, TA1) in
//! `outbound/<company>/`, and moved to `processed/<company>/`. Each object
//! is its own event, so one partner's large file runs beside, not before,
//! another partner's. A failure on
//! our side fails the invocation (S3 invokes asynchronously and retries);
//! objects already moved are gone from `inbound/` and are skipped then, and
//! reconciliation is absolute, so a retry repeats nothing.
//!
//! An hourly schedule (EventBridge) invokes it too: our documents that
//! partners have not acknowledged in time are settled as overdue
//! (`EdiService::edi_overdue`).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use s3::{Object, S3Edi, inbound_key};
use serde::Deserialize;
use service::edi::{EdiError, EdiOutbox, EdiService, Inbound};
use service::ledger::Ledger;
use service::store::{Store, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("{failed} of {total} objects must be retried")]
pub struct Retry {
    pub failed: usize,
    pub total: usize,
}

/// Why an invocation failed (and is retried).
#[derive(Debug, Error)]
pub enum Failed {
    #[error(transparent)]
    Objects(#[from] Retry),
    #[error("settling overdue acknowledgments: {0}")]
    Overdue(StoreError),
}

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    /// Objects created under `inbound/` (`Records` is required).
    Objects(S3Event),
    /// The schedule (`detail-type` and `source` are required).
    Schedule(Box<EventBridgeEvent>),
}

/// One invocation: the objects of an S3 event, or on the schedule the
/// overdue acknowledgments.
pub async fn invoked<S: Store + Ledger>(
    app: &EdiService<S>,
    bucket: &S3Edi,
    invocation: Invocation,
) -> Result<(), Failed> {
    match invocation {
        Invocation::Objects(event) => Ok(handle(app, bucket, event).await?),
        Invocation::Schedule(_) => {
            let settled = app
                .edi_overdue(chrono::Utc::now())
                .await
                .map_err(Failed::Overdue)?;
            tracing::info!(settled, "overdue acknowledgments settled");
            Ok(())
        }
    }
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
pub async fn handle<S: Store + Ledger>(
    app: &EdiService<S>,
    bucket: &S3Edi,
    event: S3Event,
) -> Result<(), Retry> {
    let total = event.records.len();
    let mut failed = 0;
    for r in &event.records {
        let Some(key) = object_key(r) else {
            tracing::warn!("an S3 record without a readable key; skipped");
            continue;
        };
        // Keys are the partner's: logged escaped (`?`), never raw.
        let Some((company, name)) = inbound_key(&key) else {
            tracing::warn!(key = ?key, "not an inbound/<company>/<file> key; skipped");
            continue;
        };
        let Some(name_of_bucket) = r.s3.bucket.name.as_deref() else {
            tracing::warn!(key = ?key, "an S3 record without its bucket; skipped");
            continue;
        };
        let bucket = bucket.for_bucket(name_of_bucket);
        let size = r.s3.object.size.and_then(|n| u64::try_from(n).ok());
        let source = source_of(r, &key);
        if let Err(e) = one(app, &bucket, company, name, &key, &source, size).await {
            tracing::error!(key = ?key, error = %e, "EDI object failed; the invocation is retried");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Retry { failed, total });
    }
    Ok(())
}

/// An object's identity: its key and the version S3 wrote (the event's
/// version id, else its sequencer, else its ETag). The same event
/// delivered twice, or retried, names the same object; an upload under the
/// same key is another.
pub fn source_of(r: &S3EventRecord, key: &str) -> String {
    let o = &r.s3.object;
    let version = o
        .version_id
        .as_deref()
        .or(o.sequencer.as_deref())
        .or(o.e_tag.as_deref())
        .unwrap_or_default();
    service::app::sha256_hex(format!("{key}\0{version}").as_bytes())
}

async fn one<S: Store + Ledger>(
    app: &EdiService<S>,
    bucket: &S3Edi,
    company: &str,
    name: &str,
    key: &str,
    source: &str,
    size: Option<u64>,
) -> Result<(), ObjectError> {
    let result = match bucket.read(key, size).await? {
        None => {
            tracing::info!(key = ?key, "already processed");
            return Ok(());
        }
        Some(Object::Whole(bytes)) => app.edi_file(company, source, Inbound::Whole(&bytes)).await,
        Some(Object::TooLarge(head, size)) => {
            app.edi_file(company, source, Inbound::TooLarge(&head, size))
                .await
        }
    };
    match result {
        Ok(report) => {
            for reply in &report.replies {
                bucket.put(company, &reply.name, &reply.bytes).await?;
            }
            let replies: Vec<&str> = report.replies.iter().map(|r| r.name.as_str()).collect();
            tracing::info!(key = ?key, refused = ?report.refused, sets = ?report.sets, ?replies, "EDI file processed");
        }
        Err(e @ (EdiError::Unavailable(_) | EdiError::App(_))) => {
            return Err(e.into());
        }
        // Nothing to answer: no such EDI company, unusable settings.
        Err(e) => tracing::error!(key = ?key, error = %e, "EDI file refused; set aside"),
    }
    Ok(bucket.set_aside(company, name).await?)
}

/// Why an object was not done with (the invocation is retried).
#[derive(Debug, Error)]
enum ObjectError {
    #[error(transparent)]
    S3(#[from] s3::S3Error),
    #[error(transparent)]
    Outbox(#[from] service::edi::OutboxError),
    #[error(transparent)]
    Edi(#[from] EdiError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/edi-intake")
            .join(name);
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn objects_and_the_schedule_are_told_apart() {
        let objects: Invocation = serde_json::from_str(&sample("object-created.json")).unwrap();
        assert!(matches!(objects, Invocation::Objects(e) if e.records.len() == 1));
        let schedule: Invocation = serde_json::from_str(&sample("scheduled.json")).unwrap();
        assert!(matches!(schedule, Invocation::Schedule(e) if e.detail_type == "Scheduled Event"));
        assert!(serde_json::from_str::<Invocation>(r#"{"detail": {}}"#).is_err());
    }

    #[test]
    fn an_object_is_known_by_its_key_and_version() {
        let e: S3Event = serde_json::from_str(&sample("object-created.json")).unwrap();
        let r = &e.records[0];
        let key = object_key(r).unwrap();
        assert_eq!(
            source_of(r, &key),
            source_of(&r.clone(), &key),
            "a redelivery"
        );
        let mut later = r.clone();
        later.s3.object.sequencer = Some("0A1B2C3D4E5F678999".into());
        later.s3.object.version_id = Some("v2".into());
        assert_ne!(
            source_of(r, &key),
            source_of(&later, &key),
            "another upload"
        );
        assert_ne!(
            source_of(r, &key),
            source_of(r, "inbound/buyer-edi/other.x12")
        );
    }

    #[test]
    fn the_sample_event_names_an_inbound_object() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/edi-intake/object-created.json");
        let e: S3Event = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let key = object_key(&e.records[0]).unwrap();
        assert_eq!(key, "inbound/buyer-edi/860 cancel order.x12");
        assert_eq!(
            inbound_key(&key),
            Some(("buyer-edi", "860 cancel order.x12"))
        );
    }
}
