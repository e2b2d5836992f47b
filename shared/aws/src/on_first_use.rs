//! An SDK client built from the shared configuration the first time it is
//! used, not at a Lambda's init.

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;

/// How a client is built: its `Client::new`.
type Build<C> = fn(&SdkConfig) -> C;

/// An SDK client built on its first use. Creating an SDK client parses the
/// SDK's endpoint partitions and compiles their patterns, a measurable part
/// of a function's init (BENCHMARKS.md); built here it is paid by the first
/// request instead. Clones share the one client; it dereferences to it.
///
/// `Client::new` fails only on a configuration without a sleep
/// implementation or behaviour version, which `sdk_config` always sets.
#[derive(Clone)]
pub struct OnFirstUse<C> {
    client: Arc<OnceLock<C>>,
    /// What it is built from (`None` when it was given built).
    from: Option<(SdkConfig, Build<C>)>,
}

impl<C> OnFirstUse<C> {
    /// `build` (the client's `Client::new`) on `sdk`, at the first use.
    pub fn new(sdk: &SdkConfig, build: Build<C>) -> Self {
        OnFirstUse {
            client: Arc::new(OnceLock::new()),
            from: Some((sdk.clone(), build)),
        }
    }

    /// A client built already.
    pub fn built(client: C) -> Self {
        OnFirstUse {
            client: Arc::new(OnceLock::from(client)),
            from: None,
        }
    }

    /// Whether the client has been built.
    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| match &self.from {
            Some((sdk, build)) => build(sdk),
            // `built` set the cell, so this closure never runs for it.
            None => unreachable_given_built(),
        })
    }
}

#[cold]
fn unreachable_given_built() -> ! {
    unreachable!("a client given built is never built again")
}

impl<C> std::ops::Deref for OnFirstUse<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.get()
    }
}

impl<C> std::fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstUse")
            .field("built", &self.is_built())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static BUILDS: AtomicUsize = AtomicUsize::new(0);

    fn build(sdk: &SdkConfig) -> Option<String> {
        BUILDS.fetch_add(1, Ordering::SeqCst);
        sdk.region().map(|r| r.to_string())
    }

    #[test]
    fn the_client_is_built_once_at_its_first_use_and_shared_by_clones() {
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let lazy = OnFirstUse::new(&sdk, build);
        let clone = lazy.clone();
        assert!(!lazy.is_built());
        assert_eq!(BUILDS.load(Ordering::SeqCst), 0);
        assert_eq!(clone.as_deref(), Some("eu-west-1"));
        assert_eq!(lazy.get().as_deref(), Some("eu-west-1"));
        assert!(lazy.is_built());
        assert_eq!(BUILDS.load(Ordering::SeqCst), 1);
        assert_eq!(format!("{lazy:?}"), "OnFirstUse { built: true }");
        let given = OnFirstUse::built(Some("x".to_owned()));
        assert!(given.is_built());
        assert_eq!(given.as_deref(), Some("x"));
    }
}
