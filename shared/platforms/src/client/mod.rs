//! The adapters that dispatch through the registry: the service's ports
//! over the platforms' APIs (store sync, platform reader) and `dropship
//! connect`'s webhook registration. Behind the `client` feature, so what
//! only parses webhooks and builds requests links no HTTP client.

pub mod reader;
pub mod registration;
pub mod sync;

pub use crate::http::{PlatformHttp, RetryPolicy};
pub use reader::HttpPlatformReader;
pub use sync::HttpStoreSync;
