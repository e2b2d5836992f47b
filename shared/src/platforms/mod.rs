//! Store platforms (Shopify, WooCommerce, BigCommerce): where their APIs
//! are, and the shared HTTP client that calls them.

pub mod http;

use crate::domain::Connection;
pub use http::{PlatformError, PlatformHttp, RetryPolicy};

/// The Shopify Admin API version every call and document targets.
pub const SHOPIFY_API_VERSION: &str = "2025-10";

fn trimmed(base: &str) -> String {
    base.trim_end_matches('/').to_owned()
}

fn field<'a>(
    platform: &'static str,
    name: &'static str,
    v: &'a Option<String>,
) -> Result<&'a str, PlatformError> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or(PlatformError::MissingConnection {
            platform,
            field: name,
        })
}

/// `{api_base_url or https://{shop_domain}}/admin/api/2025-10/graphql.json`
pub fn shopify_graphql_url(c: &Connection) -> Result<String, PlatformError> {
    let base = match &c.api_base_url {
        Some(b) => trimmed(b),
        None => format!(
            "https://{}",
            field("shopify", "shop_domain", &c.shop_domain)?
        ),
    };
    Ok(format!(
        "{base}/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
    ))
}

/// `{api_base_url or site_url}/wp-json/wc/v3/orders/{id}`
pub fn woocommerce_order_url(c: &Connection, order_id: &str) -> Result<String, PlatformError> {
    let base = match &c.api_base_url {
        Some(b) => trimmed(b),
        None => trimmed(field("woocommerce", "site_url", &c.site_url)?),
    };
    Ok(format!("{base}/wp-json/wc/v3/orders/{order_id}"))
}

/// `{api_base_url or https://api.bigcommerce.com}/stores/{hash}/v2/orders/{id}`
pub fn bigcommerce_order_url(c: &Connection, order_id: &str) -> Result<String, PlatformError> {
    let base = c
        .api_base_url
        .as_deref()
        .map_or_else(|| "https://api.bigcommerce.com".to_owned(), trimmed);
    let hash = field("bigcommerce", "store_hash", &c.store_hash)?;
    Ok(format!("{base}/stores/{hash}/v2/orders/{order_id}"))
}

/// The secret a connection's webhooks are verified with.
pub fn webhook_secret<'a>(
    platform: &'static str,
    c: &'a Connection,
) -> Result<&'a str, PlatformError> {
    field(platform, "webhook_secret", &c.webhook_secret)
}

pub fn access_token<'a>(
    platform: &'static str,
    c: &'a Connection,
) -> Result<&'a str, PlatformError> {
    field(platform, "access_token", &c.access_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_connection() {
        let mut c = Connection {
            shop_domain: Some("pine.myshopify.com".into()),
            site_url: Some("https://cedar.example/".into()),
            store_hash: Some("abc".into()),
            ..Connection::default()
        };
        assert_eq!(
            shopify_graphql_url(&c).unwrap(),
            "https://pine.myshopify.com/admin/api/2025-10/graphql.json"
        );
        assert_eq!(
            woocommerce_order_url(&c, "7").unwrap(),
            "https://cedar.example/wp-json/wc/v3/orders/7"
        );
        assert_eq!(
            bigcommerce_order_url(&c, "9").unwrap(),
            "https://api.bigcommerce.com/stores/abc/v2/orders/9"
        );
        c.api_base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(
            shopify_graphql_url(&c).unwrap(),
            "http://127.0.0.1:9/admin/api/2025-10/graphql.json"
        );
        assert_eq!(
            woocommerce_order_url(&c, "7").unwrap(),
            "http://127.0.0.1:9/wp-json/wc/v3/orders/7"
        );
        assert_eq!(
            bigcommerce_order_url(&c, "9").unwrap(),
            "http://127.0.0.1:9/stores/abc/v2/orders/9"
        );
        let empty = Connection::default();
        assert!(matches!(
            shopify_graphql_url(&empty),
            Err(PlatformError::MissingConnection {
                field: "shop_domain",
                ..
            })
        ));
        assert!(webhook_secret("shopify", &empty).is_err());
    }
}
