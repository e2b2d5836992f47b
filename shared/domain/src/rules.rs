//! Who may do what: the integration table of docs/domain.md, as code.

use super::error::NotPermitted;
use super::model::{CancellationKind, Integration, Role, Source};

/// May a company that plays `party` on an order, connected through
/// `integration`, create a cancellation of `kind` from `source`?
///
/// App and API cancellations follow the "create in app/API" column; platform
/// cancellations follow the "inbound sync from its store" column.
pub(crate) fn may_cancel(
    integration: Integration,
    party: Role,
    kind: CancellationKind,
    source: Source,
) -> Result<(), NotPermitted> {
    if source == Source::Edi {
        // An EDI company's own documents (860, 855, 865): whole orders and
        // lines, for buyers and sellers alike.
        return if integration == Integration::Edi {
            Ok(())
        } else {
            Err(NotPermitted::NoInboundSync)
        };
    }
    match source.platform() {
        Some(platform) => {
            if platform == integration && syncs_inbound(integration, party) {
                Ok(())
            } else {
                Err(NotPermitted::NoInboundSync)
            }
        }
        None => match (integration, party, kind) {
            (Integration::Edi, Role::Buyer, _) => Err(NotPermitted::EdiBuyerCannotCancel),
            (Integration::Edi, Role::Seller, CancellationKind::Items) => {
                Err(NotPermitted::EdiSellerWholeOrderOnly)
            }
            _ => Ok(()),
        },
    }
}

/// Does the integration sync cancellations from the company's own store?
pub(crate) fn syncs_inbound(integration: Integration, party: Role) -> bool {
    matches!(
        (integration, party),
        (Integration::Shopify, _)
            | (Integration::Woocommerce, Role::Seller)
            | (Integration::Bigcommerce, Role::Seller)
    )
}

/// What a company can do in the app or API, for clients that want to show
/// only what will be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    pub cancel_order: bool,
    pub cancel_items: bool,
    pub record_fulfillment: bool,
}

pub fn capabilities(integration: Integration, party: Role) -> Capabilities {
    let ok = |kind| may_cancel(integration, party, kind, Source::Api).is_ok();
    Capabilities {
        cancel_order: ok(CancellationKind::Order),
        cancel_items: ok(CancellationKind::Items),
        record_fulfillment: party == Role::Seller,
    }
}

/// How the partner of a cancelling party hears about it, besides email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// Refund in Shopify (buyer: customer notified, full refund archives).
    ShopifyRefund,
    /// Status "Cancelled" for whole orders, new line quantities otherwise.
    WooCommerceOrderUpdate,
    /// Status 5 for whole orders, new product quantities otherwise.
    BigCommerceOrderUpdate,
}

pub fn outbound_sync(integration: Integration, party: Role) -> Option<SyncKind> {
    match (integration, party) {
        (Integration::Shopify, _) => Some(SyncKind::ShopifyRefund),
        (Integration::Woocommerce, Role::Seller) => Some(SyncKind::WooCommerceOrderUpdate),
        (Integration::Bigcommerce, Role::Seller) => Some(SyncKind::BigCommerceOrderUpdate),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn edi_companies_cancel_through_their_own_documents_only() {
        for party in [Role::Buyer, Role::Seller] {
            for kind in [CancellationKind::Order, CancellationKind::Items] {
                assert_eq!(
                    may_cancel(Integration::Edi, party, kind, Source::Edi),
                    Ok(())
                );
                assert_eq!(
                    may_cancel(Integration::Api, party, kind, Source::Edi),
                    Err(NotPermitted::NoInboundSync),
                    "an EDI document from a company without EDI"
                );
            }
        }
        // Through the app and the API, the product page's rules stay.
        assert_eq!(
            may_cancel(
                Integration::Edi,
                Role::Buyer,
                CancellationKind::Order,
                Source::Api
            ),
            Err(NotPermitted::EdiBuyerCannotCancel)
        );
        assert_eq!(
            may_cancel(
                Integration::Edi,
                Role::Seller,
                CancellationKind::Items,
                Source::App
            ),
            Err(NotPermitted::EdiSellerWholeOrderOnly)
        );
    }

    use super::*;
    use CancellationKind::{Items, Order};

    const ALL: [Integration; 5] = [
        Integration::Shopify,
        Integration::Woocommerce,
        Integration::Bigcommerce,
        Integration::Edi,
        Integration::Api,
    ];

    #[test]
    fn app_and_api_follow_the_table() {
        for integration in ALL {
            for party in [Role::Buyer, Role::Seller] {
                for source in [Source::Api, Source::App] {
                    let whole = may_cancel(integration, party, Order, source);
                    let items = may_cancel(integration, party, Items, source);
                    match (integration, party) {
                        (Integration::Edi, Role::Buyer) => {
                            assert_eq!(whole, Err(NotPermitted::EdiBuyerCannotCancel));
                            assert_eq!(items, Err(NotPermitted::EdiBuyerCannotCancel));
                        }
                        (Integration::Edi, Role::Seller) => {
                            assert_eq!(whole, Ok(()));
                            assert_eq!(items, Err(NotPermitted::EdiSellerWholeOrderOnly));
                        }
                        _ => {
                            assert_eq!(whole, Ok(()));
                            assert_eq!(items, Ok(()));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn inbound_sync_only_from_the_companys_own_platform() {
        assert!(may_cancel(Integration::Shopify, Role::Buyer, Items, Source::Shopify).is_ok());
        assert!(may_cancel(Integration::Shopify, Role::Seller, Order, Source::Shopify).is_ok());
        assert!(
            may_cancel(
                Integration::Woocommerce,
                Role::Seller,
                Items,
                Source::Woocommerce
            )
            .is_ok()
        );
        assert!(
            may_cancel(
                Integration::Bigcommerce,
                Role::Seller,
                Order,
                Source::Bigcommerce
            )
            .is_ok()
        );
        assert_eq!(
            may_cancel(
                Integration::Woocommerce,
                Role::Buyer,
                Order,
                Source::Woocommerce
            ),
            Err(NotPermitted::NoInboundSync)
        );
        assert_eq!(
            may_cancel(Integration::Api, Role::Seller, Order, Source::Shopify),
            Err(NotPermitted::NoInboundSync)
        );
        assert_eq!(
            may_cancel(
                Integration::Shopify,
                Role::Seller,
                Order,
                Source::Bigcommerce
            ),
            Err(NotPermitted::NoInboundSync)
        );
    }

    #[test]
    fn outbound_sync_matches_the_table() {
        assert_eq!(
            outbound_sync(Integration::Shopify, Role::Buyer),
            Some(SyncKind::ShopifyRefund)
        );
        assert_eq!(
            outbound_sync(Integration::Woocommerce, Role::Seller),
            Some(SyncKind::WooCommerceOrderUpdate)
        );
        assert_eq!(
            outbound_sync(Integration::Bigcommerce, Role::Seller),
            Some(SyncKind::BigCommerceOrderUpdate)
        );
        assert_eq!(outbound_sync(Integration::Edi, Role::Seller), None);
        assert_eq!(outbound_sync(Integration::Api, Role::Buyer), None);
    }

    #[test]
    fn capabilities_summarise_the_rules() {
        let c = capabilities(Integration::Edi, Role::Seller);
        assert!(c.cancel_order && !c.cancel_items && c.record_fulfillment);
        let c = capabilities(Integration::Edi, Role::Buyer);
        assert!(!c.cancel_order && !c.cancel_items && !c.record_fulfillment);
        let c = capabilities(Integration::Api, Role::Buyer);
        assert!(c.cancel_order && c.cancel_items && !c.record_fulfillment);
    }
}
