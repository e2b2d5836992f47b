//! Who may do what: the integration table of docs/domain.md, as code.

use super::error::NotPermitted;
use super::model::{CancellationKind, Integration, Source};
pub use crate::platform::SyncKind;
use crate::role::Role;

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
            if Integration::Store(platform) == integration && syncs_inbound(integration, party) {
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
    integration
        .platform()
        .is_some_and(|p| p.syncs_inbound(party))
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
pub fn outbound_sync(integration: Integration, party: Role) -> Option<SyncKind> {
    integration.platform()?.outbound_sync(party)
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
        Integration::Store(crate::Platform::Shopify),
        Integration::Store(crate::Platform::WooCommerce),
        Integration::Store(crate::Platform::BigCommerce),
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
        assert!(
            may_cancel(
                Integration::Store(crate::Platform::Shopify),
                Role::Buyer,
                Items,
                Source::Store(crate::Platform::Shopify)
            )
            .is_ok()
        );
        assert!(
            may_cancel(
                Integration::Store(crate::Platform::Shopify),
                Role::Seller,
                Order,
                Source::Store(crate::Platform::Shopify)
            )
            .is_ok()
        );
        assert!(
            may_cancel(
                Integration::Store(crate::Platform::WooCommerce),
                Role::Seller,
                Items,
                Source::Store(crate::Platform::WooCommerce)
            )
            .is_ok()
        );
        assert!(
            may_cancel(
                Integration::Store(crate::Platform::BigCommerce),
                Role::Seller,
                Order,
                Source::Store(crate::Platform::BigCommerce)
            )
            .is_ok()
        );
        assert_eq!(
            may_cancel(
                Integration::Store(crate::Platform::WooCommerce),
                Role::Buyer,
                Order,
                Source::Store(crate::Platform::WooCommerce)
            ),
            Err(NotPermitted::NoInboundSync)
        );
        assert_eq!(
            may_cancel(
                Integration::Api,
                Role::Seller,
                Order,
                Source::Store(crate::Platform::Shopify)
            ),
            Err(NotPermitted::NoInboundSync)
        );
        assert_eq!(
            may_cancel(
                Integration::Store(crate::Platform::Shopify),
                Role::Seller,
                Order,
                Source::Store(crate::Platform::BigCommerce)
            ),
            Err(NotPermitted::NoInboundSync)
        );
    }

    #[test]
    fn outbound_sync_matches_the_table() {
        assert_eq!(
            outbound_sync(Integration::Store(crate::Platform::Shopify), Role::Buyer),
            Some(SyncKind::ShopifyRefund)
        );
        assert_eq!(
            outbound_sync(
                Integration::Store(crate::Platform::WooCommerce),
                Role::Seller
            ),
            Some(SyncKind::OrderUpdate)
        );
        assert_eq!(
            outbound_sync(
                Integration::Store(crate::Platform::BigCommerce),
                Role::Seller
            ),
            Some(SyncKind::OrderUpdate)
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
