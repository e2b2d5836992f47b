//! Store references: the ids of an order and of its lines in a company's
//! store platform. Outbound sync acts on the store named by a reference with
//! the store owner's credentials, so only the owner sets its references, and
//! a store platform's references are its numeric ids and nothing else.

use chrono::{DateTime, Utc};

use super::error::{DomainError, NotPermitted};
pub use super::ids::*;
use super::model::{Integration, NewOrder, Order, next_version};
use crate::role::Role;

fn check(integration: Integration, field: RefField, r: &str) -> Result<(), DomainError> {
    if valid_store_ref(integration, r) {
        Ok(())
    } else {
        Err(DomainError::InvalidStoreRef { field, integration })
    }
}

/// Every reference of `order` checked against its owner's integration.
pub(crate) fn validate_order_refs(
    order: &Order,
    buyer: Integration,
    seller: Integration,
) -> Result<(), DomainError> {
    let top = [
        ("buyer_order_ref", buyer, &order.buyer_order_ref),
        ("seller_order_ref", seller, &order.seller_order_ref),
    ];
    for (name, integration, r) in top {
        if let Some(r) = r {
            let field = RefField {
                name,
                line_item_id: None,
            };
            check(integration, field, r)?;
        }
    }
    for line in &order.line_items {
        let refs = [
            ("buyer_line_ref", buyer, &line.buyer_line_ref),
            ("seller_line_ref", seller, &line.seller_line_ref),
        ];
        for (name, integration, r) in refs {
            if let Some(r) = r {
                let field = RefField {
                    name,
                    line_item_id: Some(line.id.clone()),
                };
                check(integration, field, r)?;
            }
        }
    }
    Ok(())
}

/// A buyer's new order may carry the buyer's own references only.
pub fn buyer_sets_own_refs(request: &NewOrder) -> Result<(), NotPermitted> {
    if request.seller_order_ref.is_some() {
        return Err(NotPermitted::SellerStoreRef {
            field: "seller_order_ref",
        });
    }
    if request
        .line_items
        .iter()
        .any(|l| l.seller_line_ref.is_some())
    {
        return Err(NotPermitted::SellerStoreRef {
            field: "line_items[].seller_line_ref",
        });
    }
    Ok(())
}

/// The caller's own references to set: the order's and some lines'.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreRefs {
    pub order_ref: Option<String>,
    /// (our line item id, the line's id in the caller's store).
    pub line_items: Vec<(String, String)>,
}

/// Set `party`'s references on the order (the buyer's when the buyer
/// calls, the seller's when the seller does); lines left out keep theirs.
/// A versioned change like every other command, even when nothing differs.
pub fn set_store_refs(
    order: &Order,
    party: Role,
    integration: Integration,
    request: &StoreRefs,
    now: DateTime<Utc>,
) -> Result<Order, DomainError> {
    if let Some(r) = &request.order_ref {
        let field = RefField {
            name: "order_ref",
            line_item_id: None,
        };
        check(integration, field, r)?;
    }
    let mut seen = std::collections::HashSet::new();
    for (id, r) in &request.line_items {
        if order.line(id).is_none() {
            return Err(DomainError::UnknownLineItem {
                line_item_id: id.clone(),
            });
        }
        if !seen.insert(id.as_str()) {
            return Err(DomainError::DuplicateLineItem {
                line_item_id: id.clone(),
            });
        }
        let field = RefField {
            name: "ref",
            line_item_id: Some(id.clone()),
        };
        check(integration, field, r)?;
    }
    let mut next = next_version(order, now);
    if let Some(r) = &request.order_ref {
        match party {
            Role::Buyer => next.buyer_order_ref = Some(r.clone()),
            Role::Seller => next.seller_order_ref = Some(r.clone()),
        }
    }
    for line in &mut next.line_items {
        if let Some((_, r)) = request.line_items.iter().find(|(id, _)| *id == line.id) {
            match party {
                Role::Buyer => line.buyer_line_ref = Some(r.clone()),
                Role::Seller => line.seller_line_ref = Some(r.clone()),
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LineItem;
    use proptest::prelude::*;

    #[test]
    fn platform_ids() {
        for ok in ["1", "731", "9223372036854775807", "1000000000000000000"] {
            assert!(PlatformId::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "0",
            "007",
            "-1",
            "+1",
            " 1",
            "1 ",
            "9223372036854775808",
            "18446744073709551616",
            "99999999999999999999",
            "1e3",
            "731/../../../../wp/v2/users/1?force=true&x=",
            "gid://shopify/Order/1",
            "١٢",
        ] {
            assert!(PlatformId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn references_follow_the_owners_integration() {
        for p in [
            Integration::Store(crate::Platform::Shopify),
            Integration::Store(crate::Platform::WooCommerce),
            Integration::Store(crate::Platform::BigCommerce),
        ] {
            assert!(valid_store_ref(p, "731"));
            assert!(!valid_store_ref(p, "W-1"));
        }
        for other in [Integration::Api, Integration::Edi] {
            assert!(valid_store_ref(other, "PO-55120"));
            assert!(valid_store_ref(other, &"x".repeat(MAX_REF_LEN)));
            assert!(!valid_store_ref(other, &"x".repeat(MAX_REF_LEN + 1)));
            assert!(!valid_store_ref(other, ""));
            assert!(!valid_store_ref(other, "has space"));
            assert!(!valid_store_ref(other, "caf\u{e9}"));
            assert!(!valid_store_ref(other, "a\nb"));
        }
    }

    /// A two-line order (li_1 x3, li_2 x2) between b and s.
    fn order() -> Order {
        let line = |id: &str, quantity| LineItem {
            id: id.into(),
            sku: format!("SKU-{id}"),
            title: None,
            quantity,
            fulfilled: 0,
            cancelled: 0,
            unit_price: None,
            buyer_line_ref: None,
            seller_line_ref: None,
            platform_shortfall: 0,
        };
        let mut o = Order {
            id: "o1".into(),
            buyer_id: "b".into(),
            seller_id: "s".into(),
            buyer_name: String::new(),
            seller_name: String::new(),
            buyer_order_ref: Some("B-o1".into()),
            seller_order_ref: None,
            version: 1,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            line_items: vec![line("li_1", 3), line("li_2", 2)],
        };
        o.buyer_order_ref = Some("5001".into());
        o.line_items[0].buyer_line_ref = Some("13001".into());
        o
    }

    fn refs(order_ref: Option<&str>, lines: &[(&str, &str)]) -> StoreRefs {
        StoreRefs {
            order_ref: order_ref.map(str::to_owned),
            line_items: lines
                .iter()
                .map(|(i, r)| ((*i).to_owned(), (*r).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn each_party_sets_its_own_refs() {
        let o = order();
        let t = DateTime::UNIX_EPOCH + chrono::Duration::hours(1);
        let woo = Integration::Store(crate::Platform::WooCommerce);
        let next = set_store_refs(
            &o,
            Role::Seller,
            woo,
            &refs(Some("731"), &[("li_2", "42")]),
            t,
        )
        .unwrap();
        assert_eq!((next.version, next.updated_at), (o.version + 1, t));
        assert_eq!(next.seller_order_ref.as_deref(), Some("731"));
        assert_eq!(next.buyer_order_ref.as_deref(), Some("5001"));
        assert_eq!(next.line_items[1].seller_line_ref.as_deref(), Some("42"));
        assert_eq!(next.line_items[0].seller_line_ref, None, "left out: kept");
        assert_eq!(next.line_items[0].buyer_line_ref.as_deref(), Some("13001"));
        let by_buyer = set_store_refs(
            &next,
            Role::Buyer,
            Integration::Store(crate::Platform::Shopify),
            &refs(None, &[("li_1", "13009")]),
            t,
        )
        .unwrap();
        assert_eq!(
            by_buyer.line_items[0].buyer_line_ref.as_deref(),
            Some("13009")
        );
        assert_eq!(by_buyer.seller_order_ref.as_deref(), Some("731"));
        assert_eq!(by_buyer.buyer_order_ref.as_deref(), Some("5001"));
        let code = |r: StoreRefs| {
            set_store_refs(&o, Role::Seller, woo, &r, t)
                .unwrap_err()
                .code()
        };
        assert_eq!(code(refs(Some("7/../1"), &[])), "invalid_store_ref");
        assert_eq!(code(refs(None, &[("li_1", "x")])), "invalid_store_ref");
        assert_eq!(code(refs(None, &[("nope", "1")])), "unknown_line_item");
        assert_eq!(
            code(refs(None, &[("li_1", "1"), ("li_1", "2")])),
            "duplicate_line_item"
        );
    }

    #[test]
    fn a_new_order_of_a_buyer_carries_buyer_refs_only() {
        let line = |seller_ref: Option<&str>| super::super::NewLine {
            id: "li_1".into(),
            sku: "S".into(),
            title: None,
            quantity: 1,
            unit_price: None,
            buyer_line_ref: Some("B".into()),
            seller_line_ref: seller_ref.map(str::to_owned),
        };
        let new = |seller_order_ref: Option<&str>, seller_line: Option<&str>| NewOrder {
            buyer_order_ref: Some("PO".into()),
            seller_order_ref: seller_order_ref.map(str::to_owned),
            line_items: vec![line(seller_line)],
        };
        assert_eq!(buyer_sets_own_refs(&new(None, None)), Ok(()));
        assert_eq!(
            buyer_sets_own_refs(&new(Some("731"), None)),
            Err(NotPermitted::SellerStoreRef {
                field: "seller_order_ref"
            })
        );
        assert_eq!(
            buyer_sets_own_refs(&new(None, Some("41"))),
            Err(NotPermitted::SellerStoreRef {
                field: "line_items[].seller_line_ref"
            })
        );
    }

    proptest! {
        #[test]
        fn every_u63_round_trips(n in 1u64..=MAX_PLATFORM_ID) {
            let id = PlatformId::parse(&n.to_string());
            prop_assert_eq!(id.map(PlatformId::get), Some(n));
        }

        #[test]
        fn an_accepted_id_is_its_own_decimal_form(s in "\\PC{0,24}") {
            if let Some(id) = PlatformId::parse(&s) {
                prop_assert_eq!(id.to_string(), s);
            }
        }
    }
}
