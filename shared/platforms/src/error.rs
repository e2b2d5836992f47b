//! What goes wrong with a platform, and whether a retry can ever help.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlatformError {
    /// The connection lacks what the call needs (a secret, a store hash).
    #[error("the company's {platform} connection has no {field}")]
    MissingConnection {
        platform: &'static str,
        field: &'static str,
    },
    /// A connection detail that cannot be used as it is (not a URL, not a
    /// host name).
    #[error("the company's {platform} connection has an invalid {field}: {detail}")]
    InvalidConnection {
        platform: &'static str,
        field: &'static str,
        detail: String,
    },
    /// A reference that cannot name a resource of the platform: no call is made.
    #[error("invalid {platform} reference: {detail}")]
    InvalidReference {
        platform: &'static str,
        detail: String,
    },
    /// The platform refused the request for good (4xx other than 429).
    #[error("{platform} refused the request: HTTP {status}: {body}")]
    Rejected {
        platform: &'static str,
        status: u16,
        body: String,
    },
    /// The platform failed, or kept failing, in a way a later retry may fix.
    #[error("{platform} is unavailable: {detail}")]
    Unavailable {
        platform: &'static str,
        detail: String,
    },
    /// The platform's answer is longer than we read for its kind: a retry
    /// gets the same answer.
    #[error("{platform}'s answer ({what}) exceeds the {limit}-byte limit we read")]
    TooLarge {
        platform: &'static str,
        what: &'static str,
        limit: usize,
    },
    /// The platform answered 2xx with something we cannot read.
    #[error("unexpected answer from {platform}: {detail}")]
    Decode {
        platform: &'static str,
        detail: String,
    },
}

impl PlatformError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PlatformError::Unavailable { .. })
    }
}
