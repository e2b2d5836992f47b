//! What clients see: the JSON shapes of docs/api.md, derived from the domain.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ledger::{Channel, LedgerEntry, LedgerStatus, Outcome};
use crate::store::OrderRecord;
use domain::{Cancellation, CancellationStatus, FulfillmentStatus, Order, Role};

#[derive(Debug, Serialize)]
pub struct LineItemView<'a> {
    pub id: &'a str,
    pub sku: &'a str,
    pub title: Option<&'a str>,
    pub quantity: u32,
    pub fulfilled: u32,
    pub cancelled: u32,
    pub open: u32,
    pub unit_price: Option<&'a str>,
    pub buyer_line_ref: Option<&'a str>,
    pub seller_line_ref: Option<&'a str>,
    /// Units a store platform asked to cancel after they had shipped.
    #[serde(skip_serializing_if = "is_zero")]
    pub platform_shortfall: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    pub id: &'a str,
    pub buyer_id: &'a str,
    pub seller_id: &'a str,
    /// The parties' names as kept on the order at its creation; the id for
    /// an order stored without them.
    pub buyer_name: &'a str,
    pub seller_name: &'a str,
    pub buyer_order_ref: Option<&'a str>,
    pub seller_order_ref: Option<&'a str>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub fulfillment_status: FulfillmentStatus,
    pub cancellation_status: CancellationStatus,
    pub complete: bool,
    pub line_items: Vec<LineItemView<'a>>,
    pub cancellations: CancellationsView<'a>,
}

impl<'a> OrderView<'a> {
    pub fn new(order: &'a Order, cancellations: &'a [Cancellation]) -> Self {
        OrderView {
            id: &order.id,
            buyer_id: &order.buyer_id,
            seller_id: &order.seller_id,
            buyer_name: name_or_id(&order.buyer_name, &order.buyer_id),
            seller_name: name_or_id(&order.seller_name, &order.seller_id),
            buyer_order_ref: order.buyer_order_ref.as_deref(),
            seller_order_ref: order.seller_order_ref.as_deref(),
            version: order.version,
            created_at: order.created_at,
            updated_at: order.updated_at,
            fulfillment_status: order.fulfillment_status(),
            cancellation_status: order.cancellation_status(),
            complete: order.is_complete(),
            line_items: order
                .line_items
                .iter()
                .map(|l| LineItemView {
                    id: &l.id,
                    sku: &l.sku,
                    title: l.title.as_deref(),
                    quantity: l.quantity,
                    fulfilled: l.fulfilled,
                    cancelled: l.cancelled,
                    open: l.open(),
                    unit_price: l.unit_price.as_deref(),
                    buyer_line_ref: l.buyer_line_ref.as_deref(),
                    seller_line_ref: l.seller_line_ref.as_deref(),
                    platform_shortfall: l.platform_shortfall,
                })
                .collect(),
            cancellations: CancellationsView::new(cancellations),
        }
    }

    /// Show each cancellation's notification summary to `viewer`.
    pub fn with_notifications(mut self, entries: &'a [LedgerEntry], viewer: Option<Role>) -> Self {
        self.cancellations = self.cancellations.with_notifications(entries, viewer);
        self
    }

    pub fn of(record: &'a OrderRecord) -> Self {
        Self::new(&record.order, &record.cancellations)
    }
}

/// A name as shown: a blank one (an order stored before names were kept)
/// is shown as the company's id.
fn name_or_id<'a>(name: &'a str, id: &'a str) -> &'a str {
    if name.trim().is_empty() { id } else { name }
}

#[derive(Debug, Serialize)]
pub struct OrderList<'a> {
    pub orders: Vec<OrderView<'a>>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CancellationList<'a> {
    pub cancellations: CancellationsView<'a>,
}

/// The calling company, and what it may do in the app or API.
#[derive(Debug, Serialize)]
pub struct CompanyView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub integration: domain::Integration,
    pub capabilities: domain::rules::Capabilities,
}

impl<'a> CompanyView<'a> {
    pub fn new(c: &'a domain::Company) -> Self {
        CompanyView {
            id: &c.id,
            name: &c.name,
            role: c.role,
            integration: c.integration,
            capabilities: domain::rules::capabilities(c.integration, c.role),
        }
    }
}

/// JSON of a value the service renders; falls back to an error object, which
/// cannot happen for these plain data types.
pub fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
}

/// Where one channel's notification of a cancellation stands.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct NotificationView<'a> {
    /// `pending` (in progress or to be retried), `sent`, or `failed` (refused
    /// for good, not retried).
    pub status: &'static str,
    pub attempts: u32,
    pub updated_at: DateTime<Utc>,
    /// What was done, why it failed, or the last error of a pending one;
    /// shown to the notified partner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// A cancellation's notifications, keyed by channel id (`Channel::ALL`,
/// in that order), each present once attempted.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct NotificationsView<'a> {
    pub channels: Vec<(Channel, NotificationView<'a>)>,
}

impl Serialize for NotificationsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.channels.len()))?;
        for (channel, view) in &self.channels {
            map.serialize_entry(channel.as_str(), view)?;
        }
        map.end()
    }
}

impl<'a> NotificationsView<'a> {
    /// The summary of `c` from the ledger, as `viewer` may see it; `None`
    /// when nothing has been attempted yet. Webhook deliveries are keyed
    /// by event, not by cancellation: never among these.
    pub fn of(c: &Cancellation, entries: &'a [LedgerEntry], viewer: Option<Role>) -> Option<Self> {
        let partner = viewer.is_some_and(|v| v != c.initiated_by);
        let channels: Vec<_> = Channel::ALL
            .into_iter()
            .filter_map(|channel| {
                // The last record of a channel is the one shown.
                let e = entries
                    .iter()
                    .rev()
                    .find(|e| e.cancellation_id == c.id && e.channel == channel)?;
                let (status, detail) = match (e.status, e.outcome) {
                    (LedgerStatus::Completed, Some(Outcome::Failed)) => {
                        ("failed", e.detail.as_deref())
                    }
                    (LedgerStatus::Completed, _) => ("sent", e.detail.as_deref()),
                    (LedgerStatus::InProgress, _) => ("pending", e.last_error.as_deref()),
                };
                let v = NotificationView {
                    status,
                    attempts: e.attempts,
                    updated_at: e.updated_at,
                    detail: detail.filter(|_| partner),
                };
                Some((channel, v))
            })
            .collect();
        (!channels.is_empty()).then_some(NotificationsView { channels })
    }

    /// The notification on `channel`, if attempted.
    pub fn on(&self, channel: Channel) -> Option<&NotificationView<'a>> {
        self.channels
            .iter()
            .find_map(|(c, v)| (*c == channel).then_some(v))
    }
}

/// A cancellation as clients see it: its fields, plus its notifications
/// once there are any.
#[derive(Debug, Serialize)]
pub struct CancellationView<'a> {
    #[serde(flatten)]
    pub cancellation: &'a Cancellation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationsView<'a>>,
}

/// An order's cancellations with their notification summaries.
#[derive(Debug, Clone, Copy)]
pub struct CancellationsView<'a> {
    pub list: &'a [Cancellation],
    pub entries: &'a [LedgerEntry],
    pub viewer: Option<Role>,
}

impl<'a> CancellationsView<'a> {
    pub fn new(list: &'a [Cancellation]) -> Self {
        CancellationsView {
            list,
            entries: &[],
            viewer: None,
        }
    }

    pub fn with_notifications(self, entries: &'a [LedgerEntry], viewer: Option<Role>) -> Self {
        CancellationsView {
            entries,
            viewer,
            ..self
        }
    }
}

impl Serialize for CancellationsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.list.len()))?;
        for c in self.list {
            seq.serialize_element(&CancellationView {
                cancellation: c,
                notifications: NotificationsView::of(c, self.entries, self.viewer),
            })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod notification_tests {
    use super::*;
    use testkit::fixtures;

    #[test]
    fn summaries_show_status_to_both_and_detail_to_the_partner() {
        let order = fixtures::order("o1", "b1", "s1", 0);
        let (_, can) = fixtures::cancel_one(&order, "li_1", "can_1");
        let (_, other) = fixtures::cancel_one(&order, "li_2", "can_2");
        let t = order.created_at;
        let entry =
            |channel, status, outcome, detail: &str, last_error: Option<&str>| LedgerEntry {
                order_id: "o1".into(),
                cancellation_id: "can_1".into(),
                channel,
                endpoint_id: None,
                status,
                outcome,
                detail: Some(detail.into()).filter(|d: &String| !d.is_empty()),
                last_error: last_error.map(Into::into),
                attempts: 2,
                expires_at: None,
                updated_at: t,
            };
        let entries = vec![
            entry(
                Channel::Email,
                LedgerStatus::Completed,
                Some(Outcome::Sent),
                "to s1@example.com",
                None,
            ),
            entry(
                Channel::StoreSync,
                LedgerStatus::Completed,
                Some(Outcome::Failed),
                "HTTP 404",
                None,
            ),
        ];
        let list = [can.clone(), other];
        // The seller is the partner of the buyer's cancellation.
        let seller = serde_json::to_value(
            CancellationsView::new(&list).with_notifications(&entries, Some(Role::Seller)),
        )
        .unwrap();
        assert_eq!(seller[0]["notifications"]["email"]["status"], "sent");
        assert_eq!(
            seller[0]["notifications"]["email"]["detail"],
            "to s1@example.com"
        );
        assert_eq!(seller[0]["notifications"]["store_sync"]["status"], "failed");
        assert_eq!(seller[0]["notifications"]["store_sync"]["attempts"], 2);
        assert_eq!(
            seller[0]["notifications"]["store_sync"]["detail"],
            "HTTP 404"
        );
        assert_eq!(seller[0]["id"], "can_1");
        assert_eq!(seller[0]["items"][0]["line_item_id"], "li_1");
        assert!(
            seller[1].get("notifications").is_none(),
            "nothing attempted yet"
        );
        let buyer = serde_json::to_value(
            CancellationsView::new(&list).with_notifications(&entries, Some(Role::Buyer)),
        )
        .unwrap();
        assert_eq!(buyer[0]["notifications"]["store_sync"]["status"], "failed");
        assert!(
            buyer[0]["notifications"]["store_sync"]
                .get("detail")
                .is_none()
        );
        // Without notifications the JSON is the plain cancellation.
        let plain =
            serde_json::to_value(CancellationsView::new(std::slice::from_ref(&can))).unwrap();
        assert_eq!(plain[0], serde_json::to_value(&can).unwrap());
        let pending = [entry(
            Channel::Email,
            LedgerStatus::InProgress,
            None,
            "",
            Some("SES: Throttling"),
        )];
        let v = NotificationsView::of(&can, &pending, Some(Role::Seller)).unwrap();
        assert_eq!(v.on(Channel::Email).unwrap().status, "pending");
    }
}
