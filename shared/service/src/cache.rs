//! Companies kept in a warm process for webhook intake: bounded in size and
//! in age, so an operator's change (a disconnected store, a new secret)
//! reaches every warm process within `ttl`. A delivery whose signature does
//! not match a cached company's secret is checked once more against the
//! store, so a rotated secret is honoured at once. API keys are never
//! served from here: every API request reads its key, so a revoked key
//! stops working at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::Company;

/// How a company was looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CompanyKey {
    Id(String),
    ShopDomain(String),
}

/// Size and age bounds of the company cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Entries older than this are read again.
    pub ttl: Duration,
    /// At most this many entries; the oldest goes first.
    pub capacity: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            ttl: Duration::from_secs(30),
            capacity: 1024,
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<CompanyKey, (Company, Instant)>,
    /// Insertion order, for eviction; may hold keys already replaced.
    order: VecDeque<CompanyKey>,
}

#[derive(Debug, Default)]
pub(crate) struct CompanyCache {
    limits: CacheLimits,
    entries: Mutex<Entries>,
}

impl CompanyCache {
    pub(crate) fn new(limits: CacheLimits) -> Self {
        CompanyCache {
            limits,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map holds plain data: a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, key: &CompanyKey) -> Option<Company> {
        let mut e = self.lock();
        match e.map.get(key) {
            Some((c, at)) if at.elapsed() < self.limits.ttl => Some(c.clone()),
            Some(_) => {
                e.map.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, key: CompanyKey, company: &Company) {
        if self.limits.capacity == 0 || self.limits.ttl.is_zero() {
            return;
        }
        let mut e = self.lock();
        let fresh = e
            .map
            .insert(key.clone(), (company.clone(), Instant::now()))
            .is_none();
        if fresh {
            e.order.push_back(key);
        }
        while e.map.len() > self.limits.capacity {
            let Some(oldest) = e.order.pop_front() else {
                break;
            };
            e.map.remove(&oldest);
        }
        // Keys removed on expiry stay in `order` until they come up; keep
        // it from growing past the bound.
        if e.order.len() > self.limits.capacity.saturating_mul(2) {
            let Entries { map, order } = &mut *e;
            order.retain(|k| map.contains_key(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Role;

    fn company(id: &str) -> Company {
        Company {
            id: id.into(),
            name: id.into(),
            role: Role::Buyer,
            integration: domain::Integration::Api,
            email: format!("{id}@example.com"),
            api_keys: Vec::new(),
            connection: None,
            webhook_endpoints: Vec::new(),
            edi: None,
        }
    }

    #[test]
    fn bounded_in_size_oldest_first() {
        let cache = CompanyCache::new(CacheLimits {
            ttl: Duration::from_secs(60),
            capacity: 2,
        });
        for id in ["a", "b", "c"] {
            cache.put(CompanyKey::Id(id.into()), &company(id));
        }
        assert_eq!(cache.get(&CompanyKey::Id("a".into())), None);
        assert_eq!(cache.get(&CompanyKey::Id("b".into())), Some(company("b")));
        assert_eq!(cache.get(&CompanyKey::Id("c".into())), Some(company("c")));
    }

    #[test]
    fn bounded_in_age() {
        let cache = CompanyCache::new(CacheLimits {
            ttl: Duration::from_millis(20),
            capacity: 8,
        });
        let key = CompanyKey::ShopDomain("x.myshopify.com".into());
        cache.put(key.clone(), &company("a"));
        assert_eq!(cache.get(&key), Some(company("a")));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(&key), None);
    }

    #[test]
    fn off_when_either_bound_is_zero() {
        for limits in [
            CacheLimits {
                ttl: Duration::ZERO,
                capacity: 8,
            },
            CacheLimits {
                ttl: Duration::from_secs(1),
                capacity: 0,
            },
        ] {
            let cache = CompanyCache::new(limits);
            cache.put(CompanyKey::Id("a".into()), &company("a"));
            assert_eq!(cache.get(&CompanyKey::Id("a".into())), None);
        }
    }
}
