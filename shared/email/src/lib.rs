//! The cancellation email: what it says (askama templates under
//! `templates/`, HTML auto-escaped), the `service::email::Letters` adapter
//! that writes it, and the RFC 5322 message every mailer sends.

use std::collections::HashMap;

use askama::Template;

use domain::{Cancellation, CancellationKind, Company, LineItem, Order, Role, Source, SyncKind};
use service::email::{CancellationNotice, Email, MailError, safe};

/// The letters the notifier sends, written from the templates here.
#[derive(Debug, Clone, Copy, Default)]
pub struct Letters;

impl service::email::Letters for Letters {
    fn cancellation(
        &self,
        n: &CancellationNotice<'_>,
        from: &str,
        to: &str,
    ) -> Result<Email, MailError> {
        Notice::new(
            n.order,
            n.cancellation,
            n.partner,
            n.partner_party,
            n.initiator_name,
        )
        .email(from, to)
    }
}

/// `X-Dropship-Notification: <order id>-<cancellation id>/email`.
#[derive(Clone)]
struct NotificationHeader(String);

impl lettre::message::header::Header for NotificationHeader {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("X-Dropship-Notification")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(NotificationHeader(s.to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The RFC 5322 message for `email` (multipart/alternative), as sent
/// through SES and written to the local outbox alike.
pub fn rfc5322(email: &Email) -> Result<Vec<u8>, MailError> {
    use lettre::message::header::References;
    use lettre::message::{Mailbox, MultiPart};
    let mailbox = |what: &str, a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| MailError::Rejected(format!("invalid {what} address {a:?}: {e}")))
    };
    let message = lettre::Message::builder()
        .from(mailbox("From", &email.from)?)
        .to(mailbox("To", &email.to)?)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}@dropship.local>", safe(&email.reference))))
        .header(References::from(email.thread_id()))
        .header(NotificationHeader(format!(
            "{}/email",
            safe(&email.reference)
        )))
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| MailError::Rejected(format!("building the message: {e}")))?;
    Ok(message.formatted())
}

/// How a cancellation source reads in a sentence ("through ...").
pub(crate) fn source_label(s: Source) -> &'static str {
    match s {
        Source::App => "the Dropship app",
        Source::Api => "the Dropship API",
        Source::Store(p) => p.name(),
        Source::Edi => "EDI",
    }
}

/// One cancelled line as the email lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmailLine {
    pub(crate) sku: String,
    pub(crate) title: Option<String>,
    pub(crate) quantity: u32,
    /// The code's label and the note (`CancelledItem::reason_text`).
    pub(crate) reason: String,
    /// The code itself, for a partner's system that reads the email.
    pub(crate) reason_code: &'static str,
}

/// What both parts of the email say; each template reads it through
/// `Deref`, so the two parts cannot drift apart in what they are given.
struct Body<'a> {
    subject: &'a str,
    partner_name: &'a str,
    initiator_name: &'a str,
    initiator_role: &'a str,
    whole_order: bool,
    order_id: &'a str,
    partner_order_ref: Option<&'a str>,
    via: &'a str,
    cancelled_at: &'a str,
    lines: &'a [EmailLine],
    store_note: Option<&'a str>,
    cancellation_id: &'a str,
}

#[derive(Template)]
#[template(path = "cancellation_email.txt")]
struct TextBody<'a>(&'a Body<'a>);

#[derive(Template)]
#[template(path = "cancellation_email.html")]
struct HtmlBody<'a>(&'a Body<'a>);

impl<'a> std::ops::Deref for TextBody<'a> {
    type Target = Body<'a>;
    fn deref(&self) -> &Body<'a> {
        self.0
    }
}

impl<'a> std::ops::Deref for HtmlBody<'a> {
    type Target = Body<'a>;
    fn deref(&self) -> &Body<'a> {
        self.0
    }
}

/// Everything the email says, derived from the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub(crate) order_id: String,
    pub(crate) cancellation_id: String,
    pub(crate) partner_name: String,
    pub(crate) partner_order_ref: Option<String>,
    pub(crate) initiator_name: String,
    pub(crate) initiator_role: Role,
    pub(crate) source: Source,
    pub(crate) whole_order: bool,
    pub(crate) cancelled_at: String,
    pub(crate) lines: Vec<EmailLine>,
    /// What happens in the partner's store, if it is connected to one.
    pub(crate) store_note: Option<String>,
}

impl Notice {
    /// The notice for `partner` about `cancellation` of `order`, made by
    /// `initiator` (its name; the id when the company is unknown).
    pub fn new(
        order: &Order,
        cancellation: &Cancellation,
        partner: &Company,
        partner_party: Role,
        initiator_name: &str,
    ) -> Self {
        // Indexed once: an order may have thousands of lines.
        let by_id: HashMap<&str, &LineItem> = order
            .line_items
            .iter()
            .map(|l| (l.id.as_str(), l))
            .collect();
        let lines = cancellation
            .items
            .iter()
            .map(|item| {
                let line = by_id.get(item.line_item_id.as_str()).copied();
                EmailLine {
                    sku: line.map_or_else(|| item.line_item_id.clone(), |l| l.sku.clone()),
                    title: line.and_then(|l| l.title.clone()),
                    quantity: item.quantity,
                    reason: item.reason_text(),
                    reason_code: item.reason_code.as_str(),
                }
            })
            .collect();
        let partner_order_ref = match partner_party {
            Role::Buyer => order.buyer_order_ref.clone(),
            Role::Seller => order.seller_order_ref.clone(),
        };
        let store_note = partner.integration.platform().and_then(|p| {
            let name = p.name();
            Some(match p.outbound_sync(partner_party)? {
                SyncKind::ShopifyRefund => format!(
                    "These items are being refunded in your {name} store; {name} notifies your customer."
                ),
                SyncKind::OrderUpdate => format!("The order is being updated in your {name} store."),
            })
        });
        Notice {
            order_id: order.id.clone(),
            cancellation_id: cancellation.id.clone(),
            partner_name: partner.name.clone(),
            partner_order_ref,
            initiator_name: initiator_name.to_owned(),
            initiator_role: cancellation.initiated_by,
            source: cancellation.source,
            whole_order: cancellation.kind == CancellationKind::Order,
            cancelled_at: cancellation
                .created_at
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            lines,
            store_note,
        }
    }

    /// Names the order id (and the partner's own order number, if any).
    pub(crate) fn subject(&self) -> String {
        let what = if self.whole_order {
            " cancelled".to_owned()
        } else {
            // Each line may hold up to u32::MAX units: the sum needs 64 bits.
            let units = self
                .lines
                .iter()
                .fold(0u64, |n, l| n.saturating_add(u64::from(l.quantity)));
            format!(
                ": {units} unit{} cancelled",
                if units == 1 { "" } else { "s" }
            )
        };
        let yours = self
            .partner_order_ref
            .as_deref()
            .map(|r| format!(" (your order {r})"))
            .unwrap_or_default();
        format!(
            "Order {}{yours}{what} by {}",
            self.order_id, self.initiator_name
        )
    }

    /// The email from `from` to `to`.
    pub fn email(&self, from: &str, to: &str) -> Result<Email, MailError> {
        let subject = self.subject();
        let body = Body {
            subject: &subject,
            partner_name: &self.partner_name,
            initiator_name: &self.initiator_name,
            initiator_role: self.initiator_role.as_str(),
            whole_order: self.whole_order,
            order_id: &self.order_id,
            partner_order_ref: self.partner_order_ref.as_deref(),
            via: source_label(self.source),
            cancelled_at: &self.cancelled_at,
            lines: &self.lines,
            store_note: self.store_note.as_deref(),
            cancellation_id: &self.cancellation_id,
        };
        let text = TextBody(&body)
            .render()
            .map_err(|e| MailError::Rejected(format!("rendering the text part: {e}")))?;
        let html = HtmlBody(&body)
            .render()
            .map_err(|e| MailError::Rejected(format!("rendering the HTML part: {e}")))?;
        Ok(Email {
            from: from.to_owned(),
            to: to.to_owned(),
            subject,
            text,
            html,
            reference: format!("{}-{}", self.order_id, self.cancellation_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{CancelledItem, Connection};
    use testkit::fixtures;

    fn notice(kind: CancellationKind, reason: &str) -> (Notice, Company) {
        let mut order = fixtures::order("ord_1", "b1", "s1", 0);
        order.seller_order_ref = Some("731".into());
        let mut partner = fixtures::company("s1", Role::Seller);
        partner.name = "Cedar <Crafts> & Co".into();
        partner.integration = domain::Integration::Store(domain::Platform::WooCommerce);
        partner.connection = Some(Connection::default());
        let can = Cancellation {
            id: "can_1".into(),
            order_id: "ord_1".into(),
            initiated_by: Role::Buyer,
            source: Source::App,
            kind,
            items: vec![
                CancelledItem {
                    line_item_id: "li_1".into(),
                    quantity: 2,
                    reason_code: domain::ReasonCode::Other,
                    reason: Some(reason.into()),
                },
                CancelledItem {
                    line_item_id: "li_2".into(),
                    quantity: 1,
                    reason_code: domain::ReasonCode::CustomerRequest,
                    reason: Some("Changed my mind".into()),
                },
            ],
            created_at: order.created_at,
        };
        let n = Notice::new(&order, &can, &partner, Role::Seller, "Acme Home");
        (n, partner)
    }

    #[test]
    fn subject_names_the_order_and_the_initiator() {
        let (n, _) = notice(CancellationKind::Items, "Out of stock");
        assert_eq!(
            n.subject(),
            "Order ord_1 (your order 731): 3 units cancelled by Acme Home"
        );
        let (n, _) = notice(CancellationKind::Order, "Out of stock");
        assert_eq!(
            n.subject(),
            "Order ord_1 (your order 731) cancelled by Acme Home"
        );
    }

    #[test]
    fn the_subject_counts_units_beyond_u32() {
        let (mut n, partner) = notice(CancellationKind::Items, "Out of stock");
        n.lines[0].quantity = u32::MAX;
        n.lines[1].quantity = u32::MAX;
        assert_eq!(
            n.subject(),
            "Order ord_1 (your order 731): 8589934590 units cancelled by Acme Home"
        );
        let e = n.email("a@b.example", &partner.email).unwrap();
        assert!(e.text.contains("Quantity cancelled: 4294967295"));
    }

    /// Every send of a notification, a duplicate after a crash included,
    /// carries the same reference: in a header of ours and in `References`.
    #[test]
    fn the_message_carries_its_stable_reference() {
        let (n, partner) = notice(CancellationKind::Items, "Out of stock");
        let e = n.email("a@b.example", &partner.email).unwrap();
        let once = String::from_utf8(rfc5322(&e).unwrap()).unwrap();
        let again = String::from_utf8(rfc5322(&e).unwrap()).unwrap();
        for text in [&once, &again] {
            assert!(
                text.contains("\r\nReferences: <ord_1-can_1.email@notifications.dropship>\r\n"),
                "{text}"
            );
            assert!(text.contains("\r\nX-Dropship-Notification: ord_1-can_1/email\r\n"));
            assert!(text.contains("\r\nMessage-ID: <ord_1-can_1@dropship.local>\r\n"));
        }
        assert_eq!(e.thread_id(), "<ord_1-can_1.email@notifications.dropship>");
    }

    #[test]
    fn both_parts_list_every_line_and_who_cancelled_through_what() {
        let (n, partner) = notice(CancellationKind::Items, "Out of <b>stock</b> & gone");
        let e = n.email("noreply@dropship.example", &partner.email).unwrap();
        assert_eq!(e.to, "s1@example.com");
        assert_eq!(e.reference, "ord_1-can_1");
        for part in [&e.text, &e.html] {
            for needle in [
                "SKU-li_1",
                "Item li_1",
                "SKU-li_2",
                "Item li_2",
                "Acme Home",
                "buyer",
                "the Dropship app",
                "ord_1",
                "731",
                "Changed my mind",
                "can_1",
                "WooCommerce store",
            ] {
                assert!(part.contains(needle), "{needle:?} missing from:\n{part}");
            }
        }
        // The text part is plain; the HTML part escapes what users typed.
        assert!(
            e.text
                .contains("Reason: Out of <b>stock</b> & gone (code other)")
        );
        // A code other than `other`: its label, the note, and the code.
        assert!(
            e.text
                .contains("Reason: Customer request: Changed my mind (code customer_request)"),
            "{}",
            e.text
        );
        assert!(e.html.contains("<small>(customer_request)</small>"));
        assert!(e.text.contains("Hello Cedar <Crafts> & Co,"));
        assert!(
            e.html
                .contains("Out of &#60;b&#62;stock&#60;/b&#62; &#38; gone"),
            "{}",
            e.html
        );
        assert!(e.html.contains("Cedar &#60;Crafts&#62; &#38; Co"));
        assert!(!e.html.contains("<b>stock"));
        assert!(e.text.contains("Quantity cancelled: 2"));
    }

    #[test]
    fn whole_order_wording_and_no_store_note_for_email_only_partners() {
        let order = fixtures::order("ord_2", "b1", "s1", 0);
        let partner = fixtures::company("b1", Role::Buyer);
        let (_, mut can) = fixtures::cancel_one(&order, "li_1", "can_9");
        can.kind = CancellationKind::Order;
        can.initiated_by = Role::Seller;
        can.source = Source::Edi;
        let n = Notice::new(&order, &can, &partner, Role::Buyer, "Northwind");
        let e = n.email("a@b.example", &partner.email).unwrap();
        assert!(
            e.text
                .contains("cancelled the whole of order ord_2 (your order B-ord_2) through EDI"),
            "{}",
            e.text
        );
        assert!(e.text.contains("(the seller on this order)"));
        assert!(!e.text.contains("store"), "{}", e.text);
    }
}
