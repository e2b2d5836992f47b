//! Where a store's credentials may travel: only over https, except to a
//! loopback host (tests and local runs). WooCommerce accepts Basic auth over
//! HTTPS only; some platforms deliver webhooks only to https on port 443.

use thiserror::Error;
use url::{Host, Url};

use crate::{Connection, Integration};

/// Why a store connection or a webhook destination is refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TransportRefusal {
    #[error("{field} {value:?} is not an http(s) URL with a host")]
    NotUrl { field: &'static str, value: String },
    #[error(
        "{field} {value:?} must be https ({why}); http is accepted for loopback hosts only (tests and local runs)"
    )]
    NotHttps {
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{field} {value:?} must use port 443 ({why})")]
    NotPort443 {
        field: &'static str,
        value: String,
        why: &'static str,
    },
}

/// A loopback host: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

fn parse(field: &'static str, raw: &str) -> Result<Url, TransportRefusal> {
    let not_url = || TransportRefusal::NotUrl {
        field,
        value: raw.to_owned(),
    };
    let url = Url::parse(raw.trim()).map_err(|_| not_url())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(not_url());
    }
    Ok(url)
}

/// `raw` is https, or http(s) to a loopback host.
pub fn require_https(
    field: &'static str,
    raw: &str,
    why: &'static str,
) -> Result<Url, TransportRefusal> {
    let url = parse(field, raw)?;
    if url.scheme() == "https" || is_loopback(&url) {
        Ok(url)
    } else {
        Err(TransportRefusal::NotHttps {
            field,
            value: raw.to_owned(),
            why,
        })
    }
}

/// A webhook destination for a platform that delivers to https on port 443
/// only (`why` says which): refused otherwise, unless loopback.
pub fn check_destination_443(raw: &str, why: &'static str) -> Result<Url, TransportRefusal> {
    let url = require_https("the webhook destination", raw, why)?;
    if is_loopback(&url) || url.port_or_known_default() == Some(443) {
        Ok(url)
    } else {
        Err(TransportRefusal::NotPort443 {
            field: "the webhook destination",
            value: raw.to_owned(),
            why,
        })
    }
}

impl Connection {
    /// The connection's URLs carry its credentials only over https (or to
    /// a loopback host): `site_url` for WooCommerce, `api_base_url` for
    /// every platform.
    pub fn check_transport(&self, integration: Integration) -> Result<(), TransportRefusal> {
        if integration == Integration::Store(crate::Platform::WooCommerce)
            && let Some(site) = &self.site_url
        {
            require_https(
                "site_url",
                site,
                "WooCommerce accepts Basic auth over HTTPS only",
            )?;
        }
        if let Some(base) = &self.api_base_url {
            require_https(
                "api_base_url",
                base,
                "the store's credentials are sent there",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;

    #[test]
    fn https_or_loopback() {
        let ok = [
            "https://shop.example",
            "http://127.0.0.1:8080",
            "http://localhost/",
            "http://[::1]:9/",
            "http://127.9.9.9",
        ];
        for raw in ok {
            assert!(require_https("f", raw, "w").is_ok(), "{raw}");
        }
        for raw in [
            "http://shop.example",
            "http://10.0.0.1",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost.example",
        ] {
            assert!(
                matches!(
                    require_https("f", raw, "w"),
                    Err(TransportRefusal::NotHttps { .. })
                ),
                "{raw}"
            );
        }
        for raw in ["ftp://shop.example", "not a url", "https://"] {
            assert!(
                matches!(
                    require_https("f", raw, "w"),
                    Err(TransportRefusal::NotUrl { .. })
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn port_443_destinations() {
        let check_bigcommerce_destination = |raw| check_destination_443(raw, "https on 443 only");
        assert!(check_bigcommerce_destination("https://hooks.example/").is_ok());
        assert!(check_bigcommerce_destination("https://hooks.example:443/").is_ok());
        assert!(check_bigcommerce_destination("http://127.0.0.1:3000/").is_ok());
        let e = check_bigcommerce_destination("https://hooks.example:8443/").unwrap_err();
        assert!(matches!(e, TransportRefusal::NotPort443 { .. }));
        assert!(e.to_string().contains("port 443"), "{e}");
        assert!(matches!(
            check_bigcommerce_destination("http://hooks.example/"),
            Err(TransportRefusal::NotHttps { .. })
        ));
    }

    #[test]
    fn woocommerce_site_urls_must_be_https() {
        let mut c = Connection {
            site_url: Some("http://cedar.example".into()),
            ..Connection::default()
        };
        let e = c
            .check_transport(Integration::Store(Platform::WooCommerce))
            .unwrap_err();
        assert!(e.to_string().contains("Basic auth over HTTPS"), "{e}");
        // Not WooCommerce's field for other platforms.
        assert!(
            c.check_transport(Integration::Store(Platform::Shopify))
                .is_ok()
        );
        c.site_url = Some("https://cedar.example".into());
        assert!(
            c.check_transport(Integration::Store(Platform::WooCommerce))
                .is_ok()
        );
        c.api_base_url = Some("http://api.example".into());
        assert!(
            c.check_transport(Integration::Store(Platform::BigCommerce))
                .is_err()
        );
        c.api_base_url = Some("http://127.0.0.1:4000".into());
        assert!(
            c.check_transport(Integration::Store(Platform::BigCommerce))
                .is_ok()
        );
    }
}
