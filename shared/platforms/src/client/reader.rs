//! The platform-reader port over the platforms' APIs.

use std::sync::OnceLock;

use service::platform::{PlatformReader, ReadError, Reading};

use domain::inbound::{LineChange, Platform};
use domain::{Connection, PlatformId};

use crate::PlatformError;
use crate::http::PlatformHttp;
use crate::registry;

/// Reads orders through the shared retrying client, built on first use so
/// a cold start that reads nothing pays no TLS set-up.
#[derive(Default)]
pub struct HttpPlatformReader {
    http: OnceLock<PlatformHttp>,
}

impl HttpPlatformReader {
    /// Read with this client (tests: fast retries).
    pub fn new(http: PlatformHttp) -> Self {
        HttpPlatformReader {
            http: OnceLock::from(http),
        }
    }

    fn http(&self) -> &PlatformHttp {
        self.http.get_or_init(PlatformHttp::default)
    }
}

fn read_error(e: PlatformError) -> ReadError {
    if e.is_transient() {
        ReadError::Transient(e.to_string())
    } else {
        ReadError::Permanent(e.to_string())
    }
}

impl PlatformReader for HttpPlatformReader {
    fn order<'a>(
        &'a self,
        platform: Platform,
        connection: &'a Connection,
        order_ref: PlatformId,
        change: &'a LineChange,
    ) -> Reading<'a> {
        Box::pin(async move {
            let p = registry::get(platform);
            if !p.reads_back() {
                return Err(ReadError::Permanent(format!(
                    "{} orders are not read back",
                    platform.name()
                )));
            }
            let read = p
                .read_order(self.http(), connection, order_ref, change)
                .await;
            read.map_err(read_error)
        })
    }
}
