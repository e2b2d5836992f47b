//! How the use cases behave under load and retries: the policy for lost
//! races, and how long idempotency records are kept.

use chrono::Duration;

/// How a decision that lost a race on its order is tried again: after the
/// n-th lost race, a wait drawn uniformly from `[0, min(cap, base * 2^(n-1))]`
/// ("full jitter": racing clients spread out instead of colliding again in
/// lock-step), for as long as `budget` lasts, at most `max_attempts` tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceRetry {
    pub(crate) base: std::time::Duration,
    pub(crate) cap: std::time::Duration,
    /// Time from the first try after which no new try starts.
    pub budget: std::time::Duration,
    /// A safety net under the budget (a store answering conflicts at once).
    pub(crate) max_attempts: u32,
}

impl Default for RaceRetry {
    fn default() -> Self {
        // Measured on one hot order (BENCHMARKS.md, "Hot orders"): a cap of
        // 100 ms made 32 contenders overload the store with doomed tries; at
        // 1 s more of them commit. The budget keeps a request well inside
        // the functions' timeouts.
        RaceRetry {
            base: std::time::Duration::from_millis(5),
            cap: std::time::Duration::from_secs(1),
            budget: std::time::Duration::from_secs(5),
            max_attempts: 200,
        }
    }
}

impl RaceRetry {
    /// The longest wait after the `lost`-th lost race (1-based).
    pub(crate) fn ceiling(&self, lost: u32) -> std::time::Duration {
        let factor = 1u32.checked_shl(lost.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait after the `lost`-th lost race.
    pub(crate) fn wait(&self, lost: u32) -> std::time::Duration {
        let ceiling = u64::try_from(self.ceiling(lost).as_nanos()).unwrap_or(u64::MAX);
        std::time::Duration::from_nanos(rand::random_range(0..=ceiling))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Retrying decisions that lost a race on the order's version.
    pub race_retry: RaceRetry,
    /// How long idempotency records are kept (at least 24 h by contract).
    pub(crate) idempotency_ttl: Duration,
    /// Companies kept for webhook intake (`cache`).
    pub company_cache: crate::cache::CacheLimits,
    /// The oldest platform delivery taken, when the platform says when it
    /// sent it (BigCommerce's `created_at`): longer than its retries (about
    /// 48 h), so only a replay is refused.
    pub delivery_max_age: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            race_retry: RaceRetry::default(),
            idempotency_ttl: Duration::hours(48),
            company_cache: crate::cache::CacheLimits::default(),
            delivery_max_age: Duration::hours(72),
        }
    }
}
