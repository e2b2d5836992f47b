//! The email ports: the message as the notifier hands it over, the mailer
//! that sends it, and the letters that write it. What the cancellation
//! email says (templates) and how a message is built (RFC 5322) live in
//! the `email` crate, so the API links neither.

use std::future::Future;

use thiserror::Error;

use domain::{Cancellation, Company, Order, Role};

/// A message ready to send: one recipient, a text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the message is about (`<order id>-<cancellation id>`): names
    /// outbox files, and the stable reference of this (cancellation, email)
    /// notification: every send of it, a duplicate after a crash included,
    /// carries the same `X-Dropship-Notification` and `References`, so it
    /// is recognised and mail clients thread it with the first.
    pub reference: String,
}

impl Email {
    /// The (cancellation, channel) this message notifies, as a message id.
    pub fn thread_id(&self) -> String {
        format!("<{}.email@notifications.dropship>", safe(&self.reference))
    }
}

/// `s` kept to characters that are safe in file names and message ids.
pub fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MailError {
    /// Refused for good (invalid address, rejected message): not retried.
    #[error("the message was rejected: {0}")]
    Rejected(String),
    /// The mail service failed in a way a later attempt may fix.
    #[error("the mail service is unavailable: {0}")]
    Unavailable(String),
}

/// The mail port. Adapters: `ses::SesMailer` (AWS, crate `ses`), `outbox::EmlOutbox`
/// (`.eml` files, local runs).
pub trait Mailer: Send + Sync + 'static {
    /// Send `email`; returns the service's message id (or the file written).
    fn send(&self, email: &Email) -> impl Future<Output = Result<String, MailError>> + Send;
}

/// What a cancellation email is about: `cancellation` of `order`, told to
/// `partner` (on the order as `partner_party`), made by `initiator_name`
/// (its name; the id when the company is unknown).
#[derive(Debug, Clone, Copy)]
pub struct CancellationNotice<'a> {
    pub order: &'a Order,
    pub cancellation: &'a Cancellation,
    pub partner: &'a Company,
    pub partner_party: Role,
    pub initiator_name: &'a str,
}

/// The letters port: writes the cancellation email. Adapter:
/// `email::Letters` (crate `email`).
pub trait Letters: Send + Sync + 'static {
    /// The email from `from` to `to` about `notice`; an error is permanent.
    fn cancellation(
        &self,
        notice: &CancellationNotice<'_>,
        from: &str,
        to: &str,
    ) -> Result<Email, MailError>;
}
