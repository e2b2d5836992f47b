//! Local adapters that write files instead of calling out: emails as RFC
//! 5322 `.eml` files (multipart/alternative, text + HTML) and store-sync
//! requests as `.json` records (method, url, headers without secrets, body),
//! both under `<data-dir>/outbox/`. Files are written whole (temp file, then
//! rename) under names derived from the order and cancellation, so a retry
//! rewrites the same file rather than adding one.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use domain::sync::SyncPlan;
use email::rfc5322;
use service::email::{Email, MailError, Mailer, safe};
use service::sync::{StoreSync, SyncError};

/// Write a file whole: a temporary one, renamed into place.
pub(crate) async fn write_whole(
    dir: &Path,
    name: &str,
    bytes: Vec<u8>,
) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(path)
}

/// Emails as `.eml` files in a directory.
#[derive(Clone, Debug)]
pub struct EmlOutbox {
    dir: PathBuf,
}

impl EmlOutbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EmlOutbox { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Mailer for EmlOutbox {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let bytes = rfc5322(email)?;
        let name = format!("{}.eml", safe(&email.reference));
        let path = write_whole(&self.dir, &name, bytes)
            .await
            .map_err(|e| MailError::Unavailable(format!("writing {name}: {e}")))?;
        Ok(format!("written to {}", path.display()))
    }
}

/// Store-sync requests as `.json` records in a directory.
#[derive(Clone, Debug)]
pub(crate) struct RecordingStoreSync {
    dir: PathBuf,
}

impl RecordingStoreSync {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RecordingStoreSync { dir: dir.into() }
    }
}

/// The requests a plan stands for, without secrets (each platform says
/// what they are, and what is decided only when they are sent).
pub(crate) fn request_record(plan: &SyncPlan) -> Result<Value, SyncError> {
    let recorded = platforms::platform(plan.platform).recorded(plan)?;
    Ok(json!({
        "order_id": plan.order_id,
        "cancellation_id": plan.cancellation_id,
        "company_id": plan.company_id,
        "platform": plan.platform.as_str(),
        "note": recorded.note,
        "unmapped_lines": plan.unmapped_lines,
        "requests": recorded.requests,
    }))
}

impl StoreSync for RecordingStoreSync {
    async fn apply(&self, plan: &SyncPlan) -> Result<String, SyncError> {
        let record = request_record(plan)?;
        let bytes = serde_json::to_vec_pretty(&record)
            .map_err(|e| SyncError::Rejected(format!("encoding the record: {e}")))?;
        let name = format!(
            "{}-{}.store-sync.json",
            safe(&plan.order_id),
            safe(&plan.cancellation_id)
        );
        let path = write_whole(&self.dir, &name, bytes)
            .await
            .map_err(|e| SyncError::Unavailable(format!("writing {name}: {e}")))?;
        Ok(format!(
            "{} request recorded in {} (no api_base_url)",
            plan.platform.as_str(),
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Connection;
    use domain::Platform;
    use domain::sync::SyncAction;
    use platforms::outbound::OrderUpdate;

    fn email() -> Email {
        Email {
            from: "notifications@dropship.example".into(),
            to: "Shop <shop@cedar-crafts.example>".into(),
            subject: "Order ord_1 cancelled by Acme — 2 units".into(),
            text: "Plain text\nReason: <none>\n".into(),
            html: "<p>HTML &#60;none&#62;</p>".into(),
            reference: "ord_1-can_1".into(),
        }
    }

    #[tokio::test]
    async fn eml_files_are_multipart_alternative() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = EmlOutbox::new(dir.path().join("outbox"));
        let said = outbox.send(&email()).await.unwrap();
        assert!(said.contains("ord_1-can_1.eml"));
        let text = std::fs::read_to_string(dir.path().join("outbox/ord_1-can_1.eml")).unwrap();
        for needle in [
            "From: notifications@dropship.example",
            "To: Shop <shop@cedar-crafts.example>",
            "Subject: ",
            "Message-ID: <ord_1-can_1@dropship.local>",
            "Content-Type: multipart/alternative",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: text/html; charset=utf-8",
            "Date: ",
        ] {
            assert!(text.contains(needle), "{needle:?} missing:\n{text}");
        }
        // Written again on a retry: still one file.
        outbox.send(&email()).await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .count(),
            1
        );
        let mut bad = email();
        bad.to = "not an address".into();
        assert!(matches!(
            outbox.send(&bad).await,
            Err(MailError::Rejected(_))
        ));
    }

    #[tokio::test]
    async fn store_sync_records_hold_no_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let rec = RecordingStoreSync::new(dir.path());
        let plan = SyncPlan {
            order_id: "o1".into(),
            cancellation_id: "can_1".into(),
            company_id: "seller-woo".into(),
            platform: Platform::WooCommerce,
            connection: Connection {
                site_url: Some("https://cedar.example".into()),
                consumer_key: Some("ck_secret".into()),
                consumer_secret: Some("cs_secret".into()),
                ..Connection::default()
            },
            order_ref: domain::PlatformId::parse("731").unwrap(),
            action: SyncAction::Update(OrderUpdate::SetQuantities(vec![(41, 1)])),
            unmapped_lines: vec![],
            note: String::new(),
        };
        rec.apply(&plan).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("o1-can_1.store-sync.json")).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["requests"][0]["method"], "PUT");
        assert_eq!(
            v["requests"][0]["url"],
            "https://cedar.example/wp-json/wc/v3/orders/731"
        );
        assert_eq!(
            v["requests"][0]["body"],
            json!({"line_items": [{"id": 41, "quantity": 1}]})
        );
    }
}
