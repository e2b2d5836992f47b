//! The platform-reader port: an order as its store platform reports it now,
//! for webhook deliveries that name an order without its state.

use std::future::Future;
use std::pin::Pin;

use domain::inbound::{LineChange, Platform, PlatformOrder};
use domain::{Connection, PlatformId};
use thiserror::Error;

/// Why the platform's order could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReadError {
    /// A later attempt may succeed (5xx, 429 beyond the retries, network):
    /// the platform is asked to deliver again.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (credentials, permissions, a malformed answer).
    #[error("{0}")]
    Permanent(String),
}

/// A boxed future, so the port can be held as a trait object.
pub type Reading<'a> =
    Pin<Box<dyn Future<Output = Result<Option<PlatformOrder>, ReadError>> + Send + 'a>>;

pub trait PlatformReader: Send + Sync + 'static {
    /// The order `order_ref` of the store behind `connection`, `None` when
    /// the platform has no such order. `change` is what the delivery
    /// reported, kept should the order still be open.
    fn order<'a>(
        &'a self,
        platform: Platform,
        connection: &'a Connection,
        order_ref: PlatformId,
        change: &'a LineChange,
    ) -> Reading<'a>;
}
