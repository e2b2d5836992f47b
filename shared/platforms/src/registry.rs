//! The registry: which `StorePlatform` each `domain::Platform` is, the one
//! place every platform is listed. The webhook intake, the local outbox
//! and the adapters in `client` find a platform here.

use domain::Platform;

use crate::platform::StorePlatform;

/// The platform's implementation.
pub fn get(p: Platform) -> &'static dyn StorePlatform {
    match p {
        Platform::Shopify => &crate::shopify::Shopify,
        Platform::WooCommerce => &crate::woocommerce::WooCommerce,
        Platform::BigCommerce => &crate::bigcommerce::BigCommerce,
    }
}

/// Every platform, in `Platform::ALL` order.
pub fn all() -> impl Iterator<Item = &'static dyn StorePlatform> {
    Platform::ALL.into_iter().map(get)
}

/// The platform a webhook route segment names (its `as_str`).
pub fn by_route(segment: &str) -> Option<&'static dyn StorePlatform> {
    Platform::parse(segment).map(get)
}
