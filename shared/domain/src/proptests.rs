//! Property tests for the quantity invariant.

use chrono::DateTime;
use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Cmd {
    CancelOrder(Role),
    CancelItems(Role, Vec<(usize, i64)>),
    Fulfill(Vec<(usize, i64)>),
    Reconcile(Role, bool, Vec<(usize, u32)>),
}

fn party() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Buyer), Just(Role::Seller)]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let picks = || prop::collection::vec((0usize..5, -1i64..8), 0..4);
    prop_oneof![
        party().prop_map(Cmd::CancelOrder),
        (party(), picks()).prop_map(|(p, l)| Cmd::CancelItems(p, l)),
        picks().prop_map(Cmd::Fulfill),
        (
            party(),
            any::<bool>(),
            prop::collection::vec((0usize..5, 0u32..10), 0..5)
        )
            .prop_map(|(p, w, l)| Cmd::Reconcile(p, w, l)),
    ]
}

fn initial(quantities: &[u32]) -> Order {
    Order {
        id: "ord".into(),
        buyer_id: "b".into(),
        seller_id: "s".into(),
        buyer_name: String::new(),
        seller_name: String::new(),
        buyer_order_ref: None,
        seller_order_ref: None,
        version: 1,
        created_at: DateTime::UNIX_EPOCH,
        updated_at: DateTime::UNIX_EPOCH,
        line_items: quantities
            .iter()
            .enumerate()
            .map(|(i, q)| LineItem {
                id: format!("li_{i}"),
                sku: format!("SKU{i}"),
                title: None,
                quantity: *q,
                fulfilled: 0,
                cancelled: 0,
                unit_price: None,
                buyer_line_ref: None,
                seller_line_ref: None,
                platform_shortfall: 0,
            })
            .collect(),
    }
}

fn line_id(i: usize) -> String {
    // Index 4 never exists on an order of at most 4 lines: an unknown line.
    format!("li_{i}")
}

fn actor(party: Role, source: Source) -> Actor {
    let integration = match source {
        Source::Store(Platform::Shopify) => Integration::Store(Platform::Shopify),
        _ => Integration::Api,
    };
    Actor {
        party,
        integration,
        source,
    }
}

fn apply(order: &Order, cmd: &Cmd) -> Option<Order> {
    step(order, cmd).map(|(next, _)| next)
}

/// The step as a store commits it: the order after it, and the
/// cancellation it records (if any).
fn step(order: &Order, cmd: &Cmd) -> Option<(Order, Option<Cancellation>)> {
    let t = DateTime::UNIX_EPOCH;
    match cmd {
        Cmd::CancelOrder(p) => cancel(
            order,
            actor(*p, Source::Api),
            &CancelRequest::WholeOrder {
                reason_code: None,
                reason: Some("r".into()),
            },
            "c".into(),
            t,
        )
        .ok()
        .map(|d| (d.order, Some(d.record))),
        Cmd::CancelItems(p, items) => cancel(
            order,
            actor(*p, Source::App),
            &CancelRequest::Items(
                items
                    .iter()
                    .map(|(i, q)| ItemRequest {
                        line_item_id: line_id(*i),
                        quantity: *q,
                        reason_code: Some(
                            ReasonCode::ALL[*i % ReasonCode::ALL.len()].as_str().into(),
                        ),
                        reason: Some("r".into()),
                    })
                    .collect(),
            ),
            "c".into(),
            t,
        )
        .ok()
        .map(|d| (d.order, Some(d.record))),
        Cmd::Fulfill(items) => fulfill(
            order,
            Role::Seller,
            &FulfillRequest {
                items: items.iter().map(|(i, q)| (line_id(*i), *q)).collect(),
                tracking_number: None,
                carrier: None,
            },
            "f".into(),
            t,
        )
        .ok()
        .map(|d| (d.order, None)),
        Cmd::Reconcile(p, whole, lines) => {
            let state = PlatformState {
                whole_order_cancelled: *whole,
                lines: lines
                    .iter()
                    .map(|(i, q)| PlatformLine {
                        line_item_id: line_id(*i),
                        quantity: *q,
                    })
                    .collect(),
                reason_code: crate::ReasonCode::Other,
                reason: "edited".into(),
            };
            let a = actor(*p, Source::Store(Platform::Shopify));
            let first = reconcile(order, a, &state, "c".into(), t).ok()?;
            let after = first.order.clone().unwrap_or_else(|| order.clone());
            // Reconciling twice to the same platform quantities changes nothing.
            let second = reconcile(&after, a, &state, "c".into(), t).ok()?;
            assert_eq!(second.order, None, "second reconcile changed the order");
            assert_eq!(
                second.cancellation, None,
                "second reconcile cancelled again"
            );
            first.order.map(|next| (next, first.cancellation))
        }
    }
}

fn check_step(before: &Order, after: &Order) {
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.line_items.len(), before.line_items.len());
    for (b, a) in before.line_items.iter().zip(&after.line_items) {
        assert_eq!(a.quantity, b.quantity);
        assert!(
            a.fulfilled + a.cancelled <= a.quantity,
            "over-committed: {a:?}"
        );
        assert!(a.fulfilled >= b.fulfilled, "fulfilled decreased");
        assert!(a.cancelled >= b.cancelled, "cancelled decreased");
        // A cancelled unit is never fulfilled: fulfilment can only grow into
        // units that were open before the step.
        assert!(
            a.fulfilled - b.fulfilled <= b.open(),
            "fulfilled a unit that was not open"
        );
        assert!(
            a.cancelled - b.cancelled <= b.open(),
            "cancelled a unit that was not open"
        );
        // One step either fulfils or cancels a line, never both.
        assert!(a.fulfilled == b.fulfilled || a.cancelled == b.cancelled);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_sequence_keeps_the_invariant(
        quantities in prop::collection::vec(1u32..6, 1..5),
        cmds in prop::collection::vec(cmd(), 1..25),
    ) {
        let mut order = initial(&quantities);
        for c in &cmds {
            if let Some(next) = apply(&order, c) {
                check_step(&order, &next);
                order = next;
            }
        }
        let complete = order.is_complete();
        prop_assert_eq!(complete, order.line_items.iter().all(|l| l.open() == 0));
    }

    #[test]
    fn reconcile_lands_on_the_platform_quantity_or_the_shipped_floor(
        quantities in prop::collection::vec(1u32..6, 1..5),
        cmds in prop::collection::vec(cmd(), 0..10),
        targets in prop::collection::vec(0u32..7, 4),
    ) {
        let mut order = initial(&quantities);
        for c in &cmds {
            if let Some(next) = apply(&order, c) {
                order = next;
            }
        }
        let state = PlatformState {
            whole_order_cancelled: false,
            lines: order
                .line_items
                .iter()
                .zip(&targets)
                .map(|(l, q)| PlatformLine { line_item_id: l.id.clone(), quantity: *q })
                .collect(),
            reason_code: crate::ReasonCode::Other, reason: "edited".into(),
        };
        let r = reconcile(&order, actor(Role::Seller, Source::Store(Platform::Shopify)), &state, "c".into(), DateTime::UNIX_EPOCH)
            .expect("a Shopify seller may reconcile");
        let after = r.order.clone().unwrap_or_else(|| order.clone());
        for ((b, a), target) in order.line_items.iter().zip(&after.line_items).zip(&targets) {
            if *target >= b.active() {
                prop_assert_eq!(a.cancelled, b.cancelled, "an increase or equal quantity cancels nothing");
                prop_assert_eq!(a.platform_shortfall, 0, "and leaves no shortfall");
            } else {
                prop_assert_eq!(a.active(), (*target).max(a.fulfilled));
                prop_assert_eq!(a.platform_shortfall, a.fulfilled.saturating_sub(*target));
            }
        }
        let cancelled: u32 = r.cancellation.iter().flat_map(|c| &c.items).map(|i| i.quantity).sum();
        let before: u32 = order.line_items.iter().map(|l| l.cancelled).sum();
        let now: u32 = after.line_items.iter().map(|l| l.cancelled).sum();
        prop_assert_eq!(now - before, cancelled, "the record accounts for every cancelled unit");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The counts kept change by change equal a recount of the final
    /// order and its cancellations, whatever the sequence.
    #[test]
    fn kept_scorecard_counts_equal_a_recount(
        quantities in prop::collection::vec(1u32..6, 1..5),
        cmds in prop::collection::vec(cmd(), 0..20),
    ) {
        use crate::scorecard::{Counts, ScoreChange, recount};
        let mut order = initial(&quantities);
        let mut kept = ScoreChange::of(&order, true, None).map(|c| c.counts).unwrap_or_default();
        let mut cancellations = Vec::new();
        for c in &cmds {
            if let Some((next, record)) = step(&order, c) {
                if let Some(change) = ScoreChange::of(&next, false, record.as_ref()) {
                    kept.add(&change.counts);
                }
                cancellations.extend(record);
                order = next;
            }
        }
        let rows = recount([(&order, cancellations.as_slice())]);
        let buyer_side: Vec<&Counts> = rows.iter().filter(|r| r.company_id == "b").map(|r| &r.counts).collect();
        prop_assert_eq!(buyer_side, vec![&kept]);
        let cancelled: u64 = order.line_items.iter().map(|l| u64::from(l.cancelled)).sum();
        prop_assert_eq!(kept.units_cancelled, cancelled);
        prop_assert_eq!(kept.orders_cancelled, u64::from(cancelled > 0));
    }
}
