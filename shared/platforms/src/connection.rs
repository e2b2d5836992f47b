//! A company's connection to its store: the credentials and base URLs it
//! holds, checked before use, and URLs built on them one encoded segment
//! per value.

use domain::Connection;
use url::Url;

use crate::PlatformError;

/// A connection detail a call needs: present and not blank.
pub(crate) fn field<'a>(
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

/// A connection detail that cannot be used as it is.
pub(crate) fn invalid(platform: &'static str, field: &'static str, detail: &str) -> PlatformError {
    PlatformError::InvalidConnection {
        platform,
        field,
        detail: detail.to_owned(),
    }
}

/// A base URL from the connection (`api_base_url`, `site_url`): http(s),
/// with a host, no credentials, query or fragment. A path prefix is kept.
pub(crate) fn base_url(
    platform: &'static str,
    name: &'static str,
    raw: &str,
) -> Result<Url, PlatformError> {
    let url = Url::parse(raw.trim()).map_err(|e| invalid(platform, name, &e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(platform, name, "not an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(platform, name, "has a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(platform, name, "has credentials"));
    }
    Ok(url)
}

/// A store's base URL (credentials are sent there): as `base_url`, and
/// https unless the host is loopback (tests and local runs).
pub(crate) fn store_base_url(
    platform: &'static str,
    name: &'static str,
    raw: &str,
) -> Result<Url, PlatformError> {
    let url = base_url(platform, name, raw)?;
    if url.scheme() != "https" && !domain::transport::is_loopback(&url) {
        let refusal = domain::transport::TransportRefusal::NotHttps {
            field: name,
            value: raw.to_owned(),
            why: "the store's credentials are sent there",
        };
        return Err(invalid(platform, name, &refusal.to_string()));
    }
    Ok(url)
}

/// `base` with each of `segments` appended as one path segment,
/// percent-encoded (`/`, `?`, `#`, `%` and `\` included): a segment never
/// adds a level, a query or a fragment. `.` and `..` cannot stand for
/// themselves in a URL path (every client resolves them, encoded or not),
/// and URL parsers drop tabs and newlines, so segments that are or hold
/// them are refused.
pub(crate) fn join_segments(
    platform: &'static str,
    base: &Url,
    segments: &[&str],
) -> Result<Url, PlatformError> {
    if let Some(bad) = segments
        .iter()
        .find(|s| matches!(**s, "." | "..") || s.contains(['\t', '\n', '\r']))
    {
        return Err(PlatformError::InvalidReference {
            platform,
            detail: format!("{bad:?} cannot be a URL path segment"),
        });
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| PlatformError::InvalidReference {
            platform,
            detail: format!("{base} cannot be a base URL"),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
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
    use crate::bigcommerce::{
        hooks_url as bigcommerce_hooks_url, order_url as bigcommerce_order_url,
        products_url as bigcommerce_products_url,
    };
    use crate::shopify::graphql_url as shopify_graphql_url;
    use crate::woocommerce::{
        order_url as woocommerce_order_url, webhooks_url as woocommerce_webhooks_url,
    };

    #[test]
    fn urls_follow_the_connection() {
        let mut c = Connection {
            shop_domain: Some("pine.myshopify.com".into()),
            site_url: Some("https://cedar.example/".into()),
            store_hash: Some("abc".into()),
            ..Connection::default()
        };
        assert_eq!(
            shopify_graphql_url(&c).unwrap().as_str(),
            "https://pine.myshopify.com/admin/api/2026-10/graphql.json"
        );
        assert_eq!(
            woocommerce_order_url(&c, "7").unwrap().as_str(),
            "https://cedar.example/wp-json/wc/v3/orders/7"
        );
        assert_eq!(
            bigcommerce_order_url(&c, "9").unwrap().as_str(),
            "https://api.bigcommerce.com/stores/abc/v2/orders/9"
        );
        assert_eq!(
            woocommerce_webhooks_url(&c, None).unwrap().as_str(),
            "https://cedar.example/wp-json/wc/v3/webhooks"
        );
        assert_eq!(
            woocommerce_webhooks_url(&c, Some("12")).unwrap().as_str(),
            "https://cedar.example/wp-json/wc/v3/webhooks/12"
        );
        assert_eq!(
            bigcommerce_hooks_url(&c, None).unwrap().as_str(),
            "https://api.bigcommerce.com/stores/abc/v3/hooks"
        );
        assert_eq!(
            bigcommerce_hooks_url(&c, Some("18048287"))
                .unwrap()
                .as_str(),
            "https://api.bigcommerce.com/stores/abc/v3/hooks/18048287"
        );
        assert_eq!(
            bigcommerce_products_url(&c, "9", 250, 2).unwrap().as_str(),
            "https://api.bigcommerce.com/stores/abc/v2/orders/9/products?limit=250&page=2"
        );
        c.api_base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(
            shopify_graphql_url(&c).unwrap().as_str(),
            "http://127.0.0.1:9/admin/api/2026-10/graphql.json"
        );
        assert_eq!(
            woocommerce_order_url(&c, "7").unwrap().as_str(),
            "http://127.0.0.1:9/wp-json/wc/v3/orders/7"
        );
        assert_eq!(
            bigcommerce_order_url(&c, "9").unwrap().as_str(),
            "http://127.0.0.1:9/stores/abc/v2/orders/9"
        );
        // A base with a path prefix keeps it, with or without a final slash.
        for base in ["https://shop.example/store", "https://shop.example/store/"] {
            c.api_base_url = Some(base.into());
            assert_eq!(
                woocommerce_order_url(&c, "7").unwrap().as_str(),
                "https://shop.example/store/wp-json/wc/v3/orders/7"
            );
        }
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

    #[test]
    fn references_stay_inside_their_segment() {
        let c = Connection {
            site_url: Some("https://cedar.example".into()),
            store_hash: Some("abc".into()),
            ..Connection::default()
        };
        let attack = "731/../../../../wp/v2/users/1?force=true&x=";
        let url = woocommerce_order_url(&c, attack).unwrap();
        assert_eq!(
            url.as_str(),
            "https://cedar.example/wp-json/wc/v3/orders/731%2F..%2F..%2F..%2F..%2Fwp%2Fv2%2Fusers%2F1%3Fforce=true&x="
        );
        assert_eq!(url.query(), None);
        let url = bigcommerce_order_url(&c, "120/../../v3/catalog/products/77#x").unwrap();
        assert_eq!(url.path_segments().unwrap().count(), 5);
        assert_eq!(url.fragment(), None);
        for bad in [".", "..", "a\tb", "a\nb"] {
            assert!(
                matches!(
                    woocommerce_order_url(&c, bad),
                    Err(PlatformError::InvalidReference { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn connection_urls_are_checked() {
        let shop = |d: &str| Connection {
            shop_domain: Some(d.into()),
            ..Connection::default()
        };
        for bad in [
            "evil.example/admin?x=",
            "evil.example#",
            "user@evil.example",
            "evil.example:8443",
            "127.0.0.1",
            "-bad.example",
            "bad..example",
            "ex ample.com",
            "pine.myshopify.com\\evil",
        ] {
            assert!(
                matches!(
                    shopify_graphql_url(&shop(bad)),
                    Err(PlatformError::InvalidConnection { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            shopify_graphql_url(&shop("Pine.MyShopify.com"))
                .unwrap()
                .as_str(),
            "https://pine.myshopify.com/admin/api/2026-10/graphql.json"
        );
        let base = |b: &str| Connection {
            api_base_url: Some(b.into()),
            store_hash: Some("abc".into()),
            ..Connection::default()
        };
        for bad in [
            "ftp://platform.example",
            "https://platform.example/?x=1",
            "https://platform.example/#top",
            "https://user:pw@platform.example",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(
                    bigcommerce_order_url(&base(bad), "1"),
                    Err(PlatformError::InvalidConnection { .. })
                ),
                "{bad}"
            );
        }
    }
}
/// Property tests of the URL builders: what a validated reference can
/// reach, and what any string can.
#[cfg(test)]
pub(crate) mod url_properties {
    use super::*;
    use crate::bigcommerce::{
        order_url as bigcommerce_order_url, products_url as bigcommerce_products_url,
    };
    use crate::shopify::outbound::order_gid;
    use crate::shopify::{SHOPIFY_API_VERSION, graphql_url as shopify_graphql_url};
    use crate::woocommerce::order_url as woocommerce_order_url;
    use domain::{Integration, Platform, PlatformId, valid_store_ref};
    use proptest::prelude::*;

    fn connection(base: Option<&str>) -> Connection {
        Connection {
            shop_domain: Some("pine.myshopify.com".into()),
            site_url: Some("https://cedar.example/shop".into()),
            store_hash: Some("birch123".into()),
            api_base_url: base.map(str::to_owned),
            ..Connection::default()
        }
    }

    fn decoded(segment: &str) -> String {
        percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map(|s| s.into_owned())
            .unwrap_or_default()
    }

    /// Strings an attacker would try, mixed with arbitrary ones (every
    /// property test here that turns data into a URL takes them).
    pub(crate) fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("../".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("?".to_owned()),
            Just("#".to_owned()),
            Just("%2e%2e".to_owned()),
            Just("%2F".to_owned()),
            Just("/".to_owned()),
            Just("\\".to_owned()),
            Just("&".to_owned()),
            Just("@".to_owned()),
            Just(":".to_owned()),
            Just("\n".to_owned()),
            Just("é".to_owned()),
            Just("\u{202e}".to_owned()),
            "[a-z0-9-]{1,8}",
            "\\PC{0,6}",
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn a_valid_reference_names_exactly_the_platform_resource(
            n in 1u64..=domain::refs::MAX_PLATFORM_ID,
            base in prop_oneof![Just(None), Just(Some("http://127.0.0.1:9")), Just(Some("https://fake.example/prefix/"))],
        ) {
            let r = n.to_string();
            for p in [Integration::Store(Platform::Shopify), Integration::Store(Platform::WooCommerce), Integration::Store(Platform::BigCommerce)] {
                prop_assert!(valid_store_ref(p, &r));
            }
            let c = connection(base);
            let prefix = match base {
                Some(b) if b.contains("/prefix") => "/prefix",
                Some(_) => "",
                None => "/shop",
            };
            let woo = woocommerce_order_url(&c, &r).unwrap();
            prop_assert_eq!(woo.path(), [prefix, "/wp-json/wc/v3/orders/", &r].concat());
            prop_assert_eq!(woo.query(), None);
            let prefix = if base.is_none() { "" } else { prefix };
            let bc = bigcommerce_order_url(&c, &r).unwrap();
            prop_assert_eq!(bc.path(), [prefix, "/stores/birch123/v2/orders/", &r].concat());
            prop_assert_eq!(bc.query(), None);
            let products = bigcommerce_products_url(&c, &r, 250, 3).unwrap();
            prop_assert_eq!(
                products.path(),
                [prefix, "/stores/birch123/v2/orders/", &r, "/products"].concat()
            );
            prop_assert_eq!(products.query(), Some("limit=250&page=3"));
            let gql = shopify_graphql_url(&c).unwrap();
            prop_assert_eq!(
                gql.path(),
                [prefix, "/admin/api/", SHOPIFY_API_VERSION, "/graphql.json"].concat()
            );
            let id = PlatformId::parse(&r).unwrap();
            prop_assert_eq!(order_gid(id), format!("gid://shopify/Order/{r}"));
        }

        #[test]
        fn any_string_stays_inside_one_segment(
            input in hostile(),
            base in prop_oneof![Just("http://127.0.0.1:9"), Just("https://fake.example/prefix/"), Just("https://fake.example/a%2Fb")],
        ) {
            let base = Url::parse(base).unwrap();
            let before: Vec<String> = base
                .path_segments()
                .unwrap()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            match join_segments("test", &base, &["orders", &input]) {
                Ok(url) => {
                    prop_assert_eq!(url.host_str(), base.host_str());
                    prop_assert_eq!(url.port(), base.port());
                    prop_assert_eq!(url.scheme(), base.scheme());
                    prop_assert_eq!(url.query(), None);
                    prop_assert_eq!(url.fragment(), None);
                    let segments: Vec<&str> = url.path_segments().unwrap().collect();
                    prop_assert_eq!(segments.len(), before.len() + 2, "{}", url);
                    prop_assert_eq!(&segments[..before.len()], &before[..]);
                    prop_assert_eq!(segments[before.len()], "orders");
                    prop_assert_eq!(decoded(segments[before.len() + 1]), input.clone());
                    // What a server sees after parsing the URL again.
                    let reparsed = Url::parse(url.as_str()).unwrap();
                    prop_assert_eq!(reparsed, url);
                }
                Err(PlatformError::InvalidReference { .. }) => {
                    prop_assert!(
                        matches!(input.as_str(), "." | "..") || input.contains(['\t', '\n', '\r']),
                        "refused {:?}", input
                    );
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
