//! The cancellation domain: pure rules, no I/O, no AWS types.

pub mod addresses;
mod commands;
mod error;
pub mod events;
mod ids;
pub mod inbound;
mod model;
mod platform;
mod reasons;
pub mod refs;
mod role;
pub mod rules;
pub mod scorecard;
pub mod sync;
pub mod transport;

#[cfg(test)]
mod proptests;

pub use commands::{
    Actor, CancelRequest, Decision, FulfillRequest, Increase, ItemRequest, PlatformLine,
    PlatformState, Reconciled, Shortfall, cancel, create_order, fulfill, reconcile,
};
pub use error::{DomainError, NotPermitted};
pub use model::*;
pub use platform::{Platform, SyncKind};
pub use reasons::ReasonCode;
pub use refs::{PlatformId, StoreRefs, set_store_refs, valid_store_ref};
pub use role::Role;

/// The longest reason accepted, in characters.
pub(crate) const MAX_REASON_CHARS: usize = 500;

/// Characters that show nothing: Unicode White_Space and format (Cf)
/// characters such as U+200B, U+2060 and U+FEFF.
pub(crate) fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.is_whitespace() || c.general_category() == GeneralCategory::Format
}

/// `s` without invisible characters at either end; empty when `s` is blank.
pub fn trim_blank(s: &str) -> &str {
    s.trim_matches(is_invisible)
}

/// A request's reason: its code (`other` when none is given; an unknown
/// one is refused) and its note, trimmed (`None` when blank). A note is
/// required with `other` and at most `MAX_REASON_CHARS` characters.
pub(crate) fn validate_reason(
    code: Option<&str>,
    reason: Option<&str>,
    line_item_id: Option<&str>,
) -> Result<(ReasonCode, Option<String>), DomainError> {
    let line_item_id = || line_item_id.map(str::to_owned);
    let code = match code {
        None => ReasonCode::Other,
        Some(c) => ReasonCode::parse(c).ok_or_else(|| DomainError::InvalidReasonCode {
            line_item_id: line_item_id(),
            code: c.chars().take(64).collect(),
        })?,
    };
    let trimmed = reason.map(trim_blank).unwrap_or_default();
    if trimmed.is_empty() {
        return match code {
            ReasonCode::Other => Err(DomainError::ReasonRequired {
                line_item_id: line_item_id(),
            }),
            code => Ok((code, None)),
        };
    }
    let chars = trimmed.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(DomainError::ReasonTooLong {
            line_item_id: line_item_id(),
            chars,
        });
    }
    Ok((code, Some(trimmed.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    pub(crate) fn company(id: &str, role: Role, integration: Integration) -> Company {
        Company {
            id: id.into(),
            name: id.into(),
            role,
            integration,
            email: format!("{id}@example.com"),
            api_keys: vec![],
            connection: None,
            webhook_endpoints: Vec::new(),
            edi: None,
        }
    }

    fn order() -> Order {
        let buyer = company("b", Role::Buyer, Integration::Api);
        let seller = company("s", Role::Seller, Integration::Api);
        let line = |id: &str, q| NewLine {
            id: id.into(),
            sku: format!("SKU-{id}"),
            title: None,
            quantity: q,
            unit_price: None,
            buyer_line_ref: None,
            seller_line_ref: None,
        };
        create_order(
            &buyer,
            &seller,
            NewOrder {
                buyer_order_ref: None,
                seller_order_ref: None,
                line_items: vec![line("li_1", 3), line("li_2", 2)],
            },
            "ord_1".into(),
            DateTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    const API_BUYER: Actor = Actor {
        party: Role::Buyer,
        integration: Integration::Api,
        source: Source::Api,
    };
    const API_SELLER: Actor = Actor {
        party: Role::Seller,
        integration: Integration::Api,
        source: Source::Api,
    };

    fn items(list: &[(&str, i64, Option<&str>)]) -> CancelRequest {
        CancelRequest::Items(
            list.iter()
                .map(|(id, q, r)| ItemRequest {
                    line_item_id: (*id).into(),
                    quantity: *q,
                    reason_code: None,
                    reason: r.map(Into::into),
                })
                .collect(),
        )
    }

    fn err(r: Result<Decision<Cancellation>, DomainError>) -> &'static str {
        r.unwrap_err().code()
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(
            validate_reason(None, Some("  out of stock "), None)
                .unwrap()
                .1
                .unwrap(),
            "out of stock"
        );
        assert_eq!(
            validate_reason(None, None, None).unwrap_err().code(),
            "reason_required"
        );
        assert_eq!(
            validate_reason(None, Some(" \t\n"), None)
                .unwrap_err()
                .code(),
            "reason_required"
        );
        // Format characters and Unicode white space are blank too.
        for blank in [
            "\u{200b}\u{200b}",
            "\u{feff}\u{2060}",
            " \u{00a0}\u{3000}\u{2028}\u{180e}\u{200d}\u{00ad}",
        ] {
            assert_eq!(
                validate_reason(None, Some(blank), Some("li_1")).unwrap_err(),
                DomainError::ReasonRequired {
                    line_item_id: Some("li_1".into())
                },
                "{blank:?}"
            );
        }
        assert_eq!(
            validate_reason(
                None,
                Some("\u{feff}\u{200b} out of stock\u{2060}\u{00a0}"),
                None
            )
            .unwrap()
            .1
            .unwrap(),
            "out of stock",
            "trimmed of invisible characters at both ends"
        );
        assert_eq!(
            validate_reason(None, Some("out\u{200b}of stock"), None)
                .unwrap()
                .1
                .unwrap(),
            "out\u{200b}of stock",
            "inner characters are kept"
        );
        // The limit counts what is kept.
        let padded = format!("\u{200b}{}\u{200b}", "x".repeat(MAX_REASON_CHARS));
        assert!(validate_reason(None, Some(&padded), None).is_ok());
        let long = "é".repeat(MAX_REASON_CHARS);
        assert!(
            validate_reason(None, Some(&long), None).is_ok(),
            "counts characters, not bytes"
        );
        let longer = "x".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            validate_reason(None, Some(&longer), None)
                .unwrap_err()
                .code(),
            "reason_too_long"
        );
    }

    #[test]
    fn a_code_stands_alone_except_other_and_an_unknown_one_is_refused() {
        for code in ReasonCode::ALL {
            let r = validate_reason(Some(code.as_str()), None, Some("li_1"));
            if code == ReasonCode::Other {
                assert_eq!(r.unwrap_err().code(), "reason_required");
            } else {
                assert_eq!(r.unwrap(), (code, None), "{code}");
            }
            // A note beside it is kept, trimmed; a blank one is none.
            assert_eq!(
                validate_reason(Some(code.as_str()), Some(" damaged "), None).unwrap(),
                (code, Some("damaged".to_owned()))
            );
        }
        assert_eq!(
            validate_reason(Some("out_of_stock"), Some(" \u{200b} "), None).unwrap(),
            (ReasonCode::OutOfStock, None)
        );
        // No code: `other`, so the text is required (old clients).
        assert_eq!(
            validate_reason(None, Some("gone"), None).unwrap(),
            (ReasonCode::Other, Some("gone".to_owned()))
        );
        for bad in ["OUT_OF_STOCK", "stock", ""] {
            assert_eq!(
                validate_reason(Some(bad), Some("note"), Some("li_2")).unwrap_err(),
                DomainError::InvalidReasonCode {
                    line_item_id: Some("li_2".into()),
                    code: bad.into()
                }
            );
        }
        // A code is checked before the note's length.
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            validate_reason(Some("nope"), Some(&long), None)
                .unwrap_err()
                .code(),
            "invalid_reason_code"
        );
        assert_eq!(
            validate_reason(Some("fraud"), Some(&long), None)
                .unwrap_err()
                .code(),
            "reason_too_long"
        );
    }

    #[test]
    fn whole_order_cancels_every_open_unit() {
        let o = order();
        let d = fulfill(
            &o,
            Role::Seller,
            &FulfillRequest {
                items: vec![("li_1".into(), 1)],
                tracking_number: None,
                carrier: None,
            },
            "ful_1".into(),
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let o = d.order;
        let d = cancel(
            &o,
            API_SELLER,
            &CancelRequest::WholeOrder {
                reason_code: None,
                reason: Some("Items are out of stock".into()),
            },
            "can_1".into(),
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(d.order.version, o.version + 1);
        assert_eq!(d.record.kind, CancellationKind::Order);
        assert_eq!(d.record.initiated_by, Role::Seller);
        let q: Vec<_> = d
            .record
            .items
            .iter()
            .map(|i| (i.line_item_id.as_str(), i.quantity))
            .collect();
        assert_eq!(q, vec![("li_1", 2), ("li_2", 2)]);
        assert!(d.order.is_complete());
        assert_eq!(d.order.fulfillment_status(), FulfillmentStatus::Fulfilled);
        assert_eq!(d.order.cancellation_status(), CancellationStatus::Partial);
        let again = cancel(
            &d.order,
            API_BUYER,
            &CancelRequest::WholeOrder {
                reason_code: None,
                reason: Some("again".into()),
            },
            "can_2".into(),
            DateTime::UNIX_EPOCH,
        );
        assert_eq!(err(again), "nothing_to_cancel");
    }

    #[test]
    fn item_cancellation_checks_each_rule() {
        let o = order();
        let t = DateTime::UNIX_EPOCH;
        let run = |r: CancelRequest| cancel(&o, API_BUYER, &r, "c".into(), t);
        assert_eq!(err(run(items(&[]))), "empty_items");
        assert_eq!(
            err(run(items(&[("li_1", 0, Some("r"))]))),
            "invalid_quantity"
        );
        assert_eq!(
            err(run(items(&[("li_1", -3, Some("r"))]))),
            "invalid_quantity"
        );
        assert_eq!(err(run(items(&[("li_1", 1, None)]))), "reason_required");
        assert_eq!(
            err(run(items(&[("li_1", 1, Some("  "))]))),
            "reason_required"
        );
        let long = "x".repeat(501);
        assert_eq!(
            err(run(items(&[("li_1", 1, Some(&long))]))),
            "reason_too_long"
        );
        assert_eq!(
            err(run(items(&[("nope", 1, Some("r"))]))),
            "unknown_line_item"
        );
        assert_eq!(
            err(run(items(&[
                ("li_1", 1, Some("r")),
                ("li_1", 1, Some("r"))
            ]))),
            "duplicate_line_item"
        );
        assert_eq!(
            err(run(items(&[("li_1", 4, Some("r"))]))),
            "quantity_exceeds_open"
        );
        assert_eq!(
            err(run(items(&[("li_1", i64::MAX, Some("r"))]))),
            "quantity_exceeds_open"
        );
        // A malformed item anywhere wins over a state conflict earlier in the list.
        assert_eq!(
            err(run(items(&[("li_1", 9, Some("r")), ("li_2", 1, None)]))),
            "reason_required"
        );
        let d = run(items(&[
            ("li_1", 2, Some(" broken ")),
            ("li_2", 2, Some("gone")),
        ]))
        .unwrap();
        assert_eq!(d.record.kind, CancellationKind::Items);
        assert_eq!(d.record.items[0].reason.as_deref(), Some("broken"));
        assert_eq!(d.order.line("li_1").unwrap().cancelled, 2);
        assert_eq!(d.order.line("li_1").unwrap().open(), 1);
        // Nothing on the input order changed.
        assert_eq!(o.line("li_1").unwrap().cancelled, 0);
    }

    #[test]
    fn exceeding_open_names_line_requested_and_open() {
        let o = order();
        let e = cancel(
            &o,
            API_BUYER,
            &items(&[("li_2", 5, Some("r"))]),
            "c".into(),
            DateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("li_2") && msg.contains("requested 5") && msg.contains("2 open"),
            "{msg}"
        );
    }

    #[test]
    fn edi_rules_apply() {
        let o = order();
        let t = DateTime::UNIX_EPOCH;
        let edi_buyer = Actor {
            party: Role::Buyer,
            integration: Integration::Edi,
            source: Source::App,
        };
        let edi_seller = Actor {
            party: Role::Seller,
            integration: Integration::Edi,
            source: Source::App,
        };
        let whole = CancelRequest::WholeOrder {
            reason_code: None,
            reason: Some("r".into()),
        };
        assert_eq!(
            err(cancel(&o, edi_buyer, &whole, "c".into(), t)),
            "not_permitted"
        );
        assert_eq!(
            err(cancel(
                &o,
                edi_seller,
                &items(&[("li_1", 1, Some("r"))]),
                "c".into(),
                t
            )),
            "not_permitted"
        );
        assert!(cancel(&o, edi_seller, &whole, "c".into(), t).is_ok());
    }

    #[test]
    fn fulfillment_rules() {
        let o = order();
        let t = DateTime::UNIX_EPOCH;
        let req = |items: Vec<(&str, i64)>| FulfillRequest {
            items: items.into_iter().map(|(i, q)| (i.to_owned(), q)).collect(),
            tracking_number: Some("1Z".into()),
            carrier: None,
        };
        let f =
            |party, r: &FulfillRequest| fulfill(&o, party, r, "f".into(), t).map_err(|e| e.code());
        assert_eq!(
            f(Role::Buyer, &req(vec![("li_1", 1)])).unwrap_err(),
            "not_permitted"
        );
        assert_eq!(f(Role::Seller, &req(vec![])).unwrap_err(), "empty_items");
        assert_eq!(
            f(Role::Seller, &req(vec![("li_1", 0)])).unwrap_err(),
            "invalid_quantity"
        );
        assert_eq!(
            f(Role::Seller, &req(vec![("x", 1)])).unwrap_err(),
            "unknown_line_item"
        );
        assert_eq!(
            f(Role::Seller, &req(vec![("li_1", 4)])).unwrap_err(),
            "quantity_exceeds_open"
        );
        assert_eq!(
            f(Role::Seller, &req(vec![("li_1", 1), ("li_1", 1)])).unwrap_err(),
            "duplicate_line_item"
        );
        // Cancelled units cannot be fulfilled.
        let c = cancel(
            &o,
            API_BUYER,
            &items(&[("li_2", 2, Some("r"))]),
            "c".into(),
            t,
        )
        .unwrap();
        let e = fulfill(
            &c.order,
            Role::Seller,
            &req(vec![("li_2", 1)]),
            "f".into(),
            t,
        )
        .unwrap_err();
        assert_eq!(e.code(), "quantity_exceeds_open");
    }

    #[test]
    fn create_order_validates_lines() {
        let buyer = company("b", Role::Buyer, Integration::Api);
        let seller = company("s", Role::Seller, Integration::Api);
        let line = |id: &str, q| NewLine {
            id: id.into(),
            sku: "S".into(),
            title: None,
            quantity: q,
            unit_price: None,
            buyer_line_ref: None,
            seller_line_ref: None,
        };
        let mk = |lines| NewOrder {
            buyer_order_ref: None,
            seller_order_ref: None,
            line_items: lines,
        };
        let t = DateTime::UNIX_EPOCH;
        let c = |b: &Company, o| create_order(b, &seller, o, "o".into(), t).map_err(|e| e.code());
        assert_eq!(c(&buyer, mk(vec![])).unwrap_err(), "empty_items");
        assert_eq!(
            c(&buyer, mk(vec![line("a", 0)])).unwrap_err(),
            "invalid_quantity"
        );
        assert_eq!(
            c(&buyer, mk(vec![line("a", 1), line("a", 1)])).unwrap_err(),
            "duplicate_line_item"
        );
        assert_eq!(
            c(&seller, mk(vec![line("a", 1)])).unwrap_err(),
            "not_permitted"
        );
        let o = c(&buyer, mk(vec![line("a", 2)])).unwrap();
        assert_eq!(o.version, 1);
        assert_eq!(o.line_items[0].open(), 2);
    }

    fn shopify_seller() -> Actor {
        Actor {
            party: Role::Seller,
            integration: Integration::Store(Platform::Shopify),
            source: Source::Store(Platform::Shopify),
        }
    }

    fn state(whole: bool, lines: &[(&str, u32)]) -> PlatformState {
        PlatformState {
            whole_order_cancelled: whole,
            lines: lines
                .iter()
                .map(|(id, q)| PlatformLine {
                    line_item_id: (*id).into(),
                    quantity: *q,
                })
                .collect(),
            reason_code: crate::ReasonCode::Other,
            reason: "Order edited in Shopify".into(),
        }
    }

    #[test]
    fn reconcile_cancels_the_difference_once() {
        let o = order();
        let t = DateTime::UNIX_EPOCH;
        let r = reconcile(
            &o,
            shopify_seller(),
            &state(false, &[("li_1", 1)]),
            "c1".into(),
            t,
        )
        .unwrap();
        let c = r.cancellation.unwrap();
        assert_eq!(c.kind, CancellationKind::Items);
        assert_eq!(c.source, Source::Store(Platform::Shopify));
        assert_eq!(
            (c.items[0].line_item_id.as_str(), c.items[0].quantity),
            ("li_1", 2)
        );
        let o2 = r.order.unwrap();
        // The same state again (a replay, or the echo of our own change) is a no-op.
        let again = reconcile(
            &o2,
            shopify_seller(),
            &state(false, &[("li_1", 1)]),
            "c2".into(),
            t,
        )
        .unwrap();
        assert_eq!(again.order, None);
        assert_eq!(again.cancellation, None);
        // A stale snapshot (higher quantity than active) is an increase: ignored.
        let stale = reconcile(
            &o2,
            shopify_seller(),
            &state(false, &[("li_1", 3)]),
            "c3".into(),
            t,
        )
        .unwrap();
        assert_eq!(stale.order, None);
        assert_eq!(stale.increases.len(), 1);
    }

    #[test]
    fn reconcile_records_shortfall_for_fulfilled_units() {
        let o = order();
        let t = DateTime::UNIX_EPOCH;
        let shipped = fulfill(
            &o,
            Role::Seller,
            &FulfillRequest {
                items: vec![("li_1".into(), 2)],
                tracking_number: None,
                carrier: None,
            },
            "f".into(),
            t,
        )
        .unwrap()
        .order;
        let r = reconcile(&shipped, shopify_seller(), &state(true, &[]), "c".into(), t).unwrap();
        let c = r.cancellation.unwrap();
        assert_eq!(c.kind, CancellationKind::Order);
        let q: Vec<_> = c
            .items
            .iter()
            .map(|i| (i.line_item_id.as_str(), i.quantity))
            .collect();
        assert_eq!(q, vec![("li_1", 1), ("li_2", 2)]);
        assert_eq!(
            r.shortfalls,
            vec![Shortfall {
                line_item_id: "li_1".into(),
                units: 2
            }]
        );
        let o2 = r.order.unwrap();
        assert_eq!(o2.line("li_1").unwrap().platform_shortfall, 2);
        assert!(o2.is_complete());
        // Replayed: nothing more to do, and no error loop.
        let again = reconcile(&o2, shopify_seller(), &state(true, &[]), "c".into(), t).unwrap();
        assert_eq!((again.order, again.cancellation), (None, None));
    }

    #[test]
    fn reconcile_refuses_companies_without_inbound_sync() {
        let o = order();
        let woo_buyer = Actor {
            party: Role::Buyer,
            integration: Integration::Store(Platform::WooCommerce),
            source: Source::Store(Platform::WooCommerce),
        };
        let e = reconcile(
            &o,
            woo_buyer,
            &state(true, &[]),
            "c".into(),
            DateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(e, DomainError::NotPermitted(NotPermitted::NoInboundSync));
    }

    #[test]
    fn blank_platform_reason_gets_a_fixed_one() {
        let o = order();
        let mut s = state(true, &[]);
        for blank in ["   ", "\u{200b}\u{200b}", "\u{feff}\u{2060} \u{3000}"] {
            s.reason = blank.into();
            let r = reconcile(&o, shopify_seller(), &s, "c".into(), DateTime::UNIX_EPOCH).unwrap();
            assert_eq!(
                r.cancellation.unwrap().items[0].reason.as_deref(),
                Some("Cancelled in the store platform"),
                "{blank:?}"
            );
        }
        s.reason = "\u{feff} Refunded in Shopify: damaged\u{200b}\n".into();
        let r = reconcile(&o, shopify_seller(), &s, "c".into(), DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            r.cancellation.unwrap().items[0].reason.as_deref(),
            Some("Refunded in Shopify: damaged")
        );
    }
}
