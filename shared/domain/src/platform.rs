//! The store platforms a company can connect through: one enum, its
//! spellings, and what the integration table (docs/domain.md) says of each.
//! Everything else a platform is (payloads, URLs, calls) lives in its
//! module of the platforms crate.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::role::Role;

/// A store platform. Serialized as `as_str` (stored records, JSON bodies,
/// URLs and log fields all use that spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Shopify,
    WooCommerce,
    BigCommerce,
}

/// How the partner of a cancelling party hears about it in its store,
/// besides email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// A refund of the cancelled units (Shopify; a buyer's store: customer
    /// notified, a full refund archives).
    ShopifyRefund,
    /// The order's status for whole orders, new line quantities otherwise.
    OrderUpdate,
}

impl Platform {
    pub const ALL: [Platform; 3] = [
        Platform::Shopify,
        Platform::WooCommerce,
        Platform::BigCommerce,
    ];

    /// The platform's id: stored values, routes, log fields, key prefixes.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
            Platform::BigCommerce => "bigcommerce",
        }
    }

    /// The platform's name as people read it.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Shopify => "Shopify",
            Platform::WooCommerce => "WooCommerce",
            Platform::BigCommerce => "BigCommerce",
        }
    }

    /// The platform with this id (`as_str`).
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Does a company playing `party` take cancellations from its own store?
    pub fn syncs_inbound(self, party: Role) -> bool {
        match self {
            Platform::Shopify => true,
            Platform::WooCommerce | Platform::BigCommerce => party == Role::Seller,
        }
    }

    /// How a company playing `party` hears of its partner's cancellations
    /// in its store, if at all.
    pub fn outbound_sync(self, party: Role) -> Option<SyncKind> {
        match (self, party) {
            (Platform::Shopify, _) => Some(SyncKind::ShopifyRefund),
            (Platform::WooCommerce | Platform::BigCommerce, Role::Seller) => {
                Some(SyncKind::OrderUpdate)
            }
            (Platform::WooCommerce | Platform::BigCommerce, Role::Buyer) => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serde's refusal of an unknown name, worded as a derived enum words it.
pub(crate) fn unknown_name<E: serde::de::Error>(given: &str, names: &[&str]) -> E {
    let expected: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    E::custom(format_args!(
        "unknown variant `{given}`, expected one of {}",
        expected.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(Platform::parse("Shopify"), None);
        assert_eq!(Platform::BigCommerce.name(), "BigCommerce");
    }
}
