//! The platforms over the network: one retrying HTTP client, the calls each
//! platform takes, and the service's ports on top of them (store sync,
//! platform reader). Behind the `client` feature, so what only parses
//! webhooks and builds requests links no HTTP client.

pub mod http;
pub mod reader;
pub mod registration;
pub mod sync;

pub use http::{PlatformHttp, RetryPolicy};
pub use reader::HttpPlatformReader;
pub use sync::HttpStoreSync;

use crate::PlatformError;
