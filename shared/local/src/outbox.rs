//! Local adapters that write files instead of calling out: emails as RFC
//! 5322 `.eml` files (multipart/alternative, text + HTML) and store-sync
//! requests as `.json` records (method, url, headers without secrets, body),
//! both under `<data-dir>/outbox/`. Files are written whole (temp file, then
//! rename) under names derived from the order and cancellation, so a retry
//! rewrites the same file rather than adding one.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use domain::Platform;
use domain::sync::{OrderUpdate, SyncAction, SyncPlan};
use platforms::outbound::describe_update;
use platforms::outbound::{
    self, REFUND_CREATE_MUTATION, bigcommerce_body, line_gid, order_gid, woocommerce_body,
};
use platforms::{bigcommerce_order_url, shopify_graphql_url, woocommerce_order_url};
use service::email::{Email, MailError, Mailer, rfc5322, safe};
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

const REDACTED: &str = "<redacted>";

/// The requests a plan stands for, without secrets. Shopify's refund
/// depends on the live order (current quantities, suggested transactions,
/// whether shipping is refunded and the order closed), so its record shows
/// the `refundCreate` for the cancelled quantities with the transactions
/// left to `order.suggestedRefund` at send time.
pub(crate) fn request_record(plan: &SyncPlan) -> Result<Value, SyncError> {
    let c = &plan.connection;
    let order_ref = plan.order_ref.to_string();
    let (requests, note) = match (&plan.action, plan.platform) {
        (SyncAction::Update(u), Platform::WooCommerce) => (
            vec![json!({
                "method": "PUT",
                "url": woocommerce_order_url(c, &order_ref)?.as_str(),
                "headers": {"Authorization": format!("Basic {REDACTED}"), "Content-Type": "application/json"},
                "body": woocommerce_body(u),
            })],
            amounts_note(
                describe_update("WooCommerce", plan.order_ref, u),
                u,
                "each line's subtotal and total scaled to its new quantity",
            ),
        ),
        (SyncAction::Update(_), Platform::Shopify) => {
            return Err(SyncError::Rejected(
                "Shopify orders are refunded, not updated".into(),
            ));
        }
        (SyncAction::Update(u), Platform::BigCommerce) => (
            vec![json!({
                "method": "PUT",
                "url": bigcommerce_order_url(c, &order_ref)?.as_str(),
                "headers": {"X-Auth-Token": REDACTED, "Content-Type": "application/json"},
                "body": bigcommerce_body(u),
            })],
            amounts_note(
                describe_update("BigCommerce", plan.order_ref, u),
                u,
                "a discounted product's unit prices as paid after its discounts",
            ),
        ),
        (
            SyncAction::ShopifyRefund {
                lines,
                note,
                routine,
            },
            _,
        ) => {
            let id = order_gid(plan.order_ref);
            let refund: Vec<(String, u32)> = lines
                .iter()
                .map(|l| (line_gid(l.line_ref), l.cancelled))
                .collect();
            let key = outbound::refund_idempotency_key(
                &outbound::shopify_store(c)?,
                &id,
                &plan.cancellation_id,
                &refund,
                false,
            );
            let req = outbound::RefundRequest {
                order_gid: &id,
                lines: &refund,
                shipping: false,
                notify: routine.notify_customer,
                currency: None,
                note,
                idempotency_key: &key,
            };
            (
                vec![json!({
                    "method": "POST",
                    "url": shopify_graphql_url(c)?.as_str(),
                    "headers": {"X-Shopify-Access-Token": REDACTED, "Content-Type": "application/json"},
                    "body": {
                        "query": REFUND_CREATE_MUTATION,
                        "variables": outbound::refund_input(&req, json!([])),
                    },
                })],
                format!(
                    "Shopify order {}: refund of the cancelled units ({}); the transactions{} \
                     are decided from the live order (order.suggestedRefund) when sent",
                    plan.order_ref,
                    if routine.notify_customer {
                        "customer notified"
                    } else {
                        "customer not notified"
                    },
                    if routine.refund_shipping || routine.archive {
                        ", and whether shipping is refunded and the order closed,"
                    } else {
                        ""
                    }
                ),
            )
        }
    };
    Ok(json!({
        "order_id": plan.order_id,
        "cancellation_id": plan.cancellation_id,
        "company_id": plan.company_id,
        "platform": plan.platform.as_str(),
        "note": note,
        "unmapped_lines": plan.unmapped_lines,
        "requests": requests,
    }))
}

/// A partial update's amounts come from the live order when sent.
fn amounts_note(mut note: String, u: &OrderUpdate, what: &str) -> String {
    if let OrderUpdate::SetQuantities(_) = u {
        note.push_str(&format!(
            "; when sent, the body also carries {what}, read from the live order"
        ));
    }
    note
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
