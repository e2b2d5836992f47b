//! Store platforms (Shopify, WooCommerce, BigCommerce), one module tree
//! each: what their webhooks say and how they are verified, where their
//! APIs are (every URL built with `connection::join_segments`, one encoded
//! segment per value), what we send them and which webhook subscriptions
//! they should have; with the `client` feature, the calls themselves.
//!
//! The modules are layered, each using only modules listed before it
//! (`scripts/module_cycles.py shared/platforms/src` checks there is no
//! cycle):
//! - shared: `error`, `drift`, `inbound`, `signature`, `connection`,
//!   `amounts`, `outbound`, with `client` `http` (the retrying client),
//!   `subscriptions` (a store's webhook subscriptions; with `client`, the
//!   trait their calls implement), `platform` (the `StorePlatform` trait),
//!   `registration` (which subscriptions are wanted);
//! - one module tree per platform: `shopify`, `woocommerce`, `bigcommerce`;
//! - `registry`: which implementation each `domain::Platform` has;
//! - with `client`, `client`: the service's ports over the registry
//!   (platform reader, store sync) and `dropship connect`'s calls.
//!
//! This file only declares them and re-exports what the hosts use.

pub mod amounts;
pub mod connection;
pub mod drift;
mod error;
#[cfg(feature = "client")]
pub mod http;
pub mod inbound;
pub mod outbound;
pub mod platform;
pub mod registration;
pub mod signature;
pub mod subscriptions;

pub mod bigcommerce;
pub mod shopify;
pub mod woocommerce;

pub mod registry;

#[cfg(feature = "client")]
pub mod client;

pub use connection::{access_token, webhook_secret};
pub use drift::ApiDrift;
pub use error::PlatformError;
pub use inbound::Inbound;
pub use platform::StorePlatform;
pub use registry::get as platform;
pub use shopify::{SHOPIFY_API_VERSION, graphql_url as shopify_graphql_url};
pub use signature::{sign_hmac_sha256_base64, token_matches, verify_hmac_sha256_base64};

pub use domain::inbound::{CancelCause, LineChange, OrderState, Platform, PlatformOrder};
