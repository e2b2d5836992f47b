//! Property tests: any valid order with any valid cancellation of it renders
//! its email and plans (and records) its store sync without panicking.

use chrono::DateTime;
use proptest::prelude::*;

use super::outbox::request_record;
use domain::sync::{SyncAction, plan};
use domain::{
    Cancellation, CancellationKind, CancelledItem, Company, Connection, Integration, LineItem,
    Order, Role, Source,
};
use email::Notice;
use platforms::outbound::OrderUpdate;

/// One line before the cancellation, and what the cancellation does to it.
#[derive(Debug, Clone)]
struct Line {
    quantity: u32,
    fulfilled: u32,
    cancelled: u32,
    /// Units this cancellation takes (0: not in it); at most the open ones.
    cancel: u32,
    sku: String,
    title: Option<String>,
    buyer_line_ref: Option<String>,
    seller_line_ref: Option<String>,
    reason: String,
}

fn quantity() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 1u32..=20,
        1 => Just(u32::MAX),
        1 => (u32::MAX - 3)..=u32::MAX,
        2 => 1u32..=u32::MAX,
    ]
}

/// What users and platforms type: markup, quotes, non-ASCII. Generated
/// strings are slow to make in a debug build: without `rich`, strings are
/// picked from a fixed set (for the cases with thousands of lines).
fn text(rich: bool) -> BoxedStrategy<String> {
    let fixed = prop::sample::select(vec![
        "Blue mug".to_owned(),
        "<b>Bold</b> & \"quoted\" 'too'".to_owned(),
        "漢字 🙂 e\u{301}\u{200b}".to_owned(),
        "{{ partner_name }}{% if %}".to_owned(),
    ]);
    if rich {
        prop_oneof![
            fixed,
            "[A-Za-z0-9 -]{1,16}",
            "[<>&\"'é漢🙂\u{200b} a-z]{1,12}",
        ]
        .boxed()
    } else {
        fixed.boxed()
    }
}

fn store_ref(rich: bool) -> BoxedStrategy<Option<String>> {
    let plain = prop_oneof![
        Just(None),
        any::<u64>().prop_map(|n| Some(n.to_string())),
        Just(Some("gid://shopify/LineItem/1".to_owned())),
        Just(Some("../1?x=".to_owned())),
    ];
    if rich {
        prop_oneof![plain, "[ -~]{0,12}".prop_map(Some)].boxed()
    } else {
        plain.boxed()
    }
}

fn line(rich: bool) -> impl Strategy<Value = Line> {
    (
        (
            quantity(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
        ),
        (text(rich), proptest::option::of(text(rich)), text(rich)),
        (store_ref(rich), store_ref(rich)),
    )
        .prop_map(
            |((quantity, f, c, pick, included), (sku, title, reason), (b, s))| {
                // fulfilled + cancelled <= quantity; the cancellation takes
                // 1..=open units of an included line with open units.
                let q = u64::from(quantity);
                let fulfilled = u64::from(f) % (q + 1);
                let cancelled = u64::from(c) % (q - fulfilled + 1);
                let open = q - fulfilled - cancelled;
                let cancel = if included && open > 0 {
                    1 + u64::from(pick) % open
                } else {
                    0
                };
                let narrow = |n: u64| u32::try_from(n).unwrap();
                Line {
                    quantity,
                    fulfilled: narrow(fulfilled),
                    cancelled: narrow(cancelled),
                    cancel: narrow(cancel),
                    sku,
                    title,
                    buyer_line_ref: b,
                    seller_line_ref: s,
                    reason,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct Case {
    lines: Vec<Line>,
    whole: bool,
    initiator: Role,
    source: Source,
    buyer_order_ref: Option<String>,
    seller_order_ref: Option<String>,
    name: String,
}

fn case(lines: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Case> {
    let rich = *lines.end() <= 100;
    (
        prop::collection::vec(line(rich), lines),
        any::<bool>(),
        prop_oneof![Just(Role::Buyer), Just(Role::Seller)],
        prop_oneof![
            Just(Source::App),
            Just(Source::Api),
            Just(Source::Store(domain::Platform::Shopify)),
            Just(Source::Store(domain::Platform::WooCommerce)),
            Just(Source::Store(domain::Platform::BigCommerce)),
            Just(Source::Edi),
        ],
        (store_ref(true), store_ref(true), text(true)),
    )
        .prop_map(|(lines, whole, initiator, source, (b, s, name))| Case {
            lines,
            whole,
            initiator,
            source,
            buyer_order_ref: b,
            seller_order_ref: s,
            name,
        })
}

/// The order as committed with its cancellation; `None` when the order has
/// nothing this cancellation could take.
fn committed(case: &Case) -> Option<(Order, Cancellation)> {
    let mut items = Vec::new();
    let mut line_items = Vec::with_capacity(case.lines.len());
    for (i, l) in case.lines.iter().enumerate() {
        let id = format!("li_{i}");
        let open = l.quantity - l.fulfilled - l.cancelled;
        // A whole-order cancellation takes every open unit.
        let take = if case.whole { open } else { l.cancel };
        if take > 0 {
            items.push(CancelledItem {
                line_item_id: id.clone(),
                quantity: take,
                reason_code: domain::ReasonCode::Other,
                reason: Some(l.reason.clone()),
            });
        }
        line_items.push(LineItem {
            id,
            sku: l.sku.clone(),
            title: l.title.clone(),
            quantity: l.quantity,
            fulfilled: l.fulfilled,
            cancelled: l.cancelled + take,
            unit_price: Some("9.99".into()),
            buyer_line_ref: l.buyer_line_ref.clone(),
            seller_line_ref: l.seller_line_ref.clone(),
            platform_shortfall: 0,
        });
    }
    if items.is_empty() {
        return None;
    }
    let t = DateTime::UNIX_EPOCH;
    let order = Order {
        id: "ord_p".into(),
        buyer_id: "b".into(),
        seller_id: "s".into(),
        buyer_name: case.name.clone(),
        seller_name: String::new(),
        buyer_order_ref: case.buyer_order_ref.clone(),
        seller_order_ref: case.seller_order_ref.clone(),
        version: 2,
        created_at: t,
        updated_at: t,
        line_items,
    };
    let cancellation = Cancellation {
        id: "can_p".into(),
        order_id: order.id.clone(),
        initiated_by: case.initiator,
        source: case.source,
        kind: if case.whole {
            CancellationKind::Order
        } else {
            CancellationKind::Items
        },
        items,
        created_at: t,
    };
    Some((order, cancellation))
}

fn partner(integration: Integration, role: Role, name: &str) -> Company {
    Company {
        id: match role {
            Role::Buyer => "b".into(),
            Role::Seller => "s".into(),
        },
        name: name.to_owned(),
        role,
        integration,
        email: "partner@example.com".into(),
        api_keys: vec![],
        connection: Some(Connection {
            shop_domain: Some("shop.myshopify.com".into()),
            site_url: Some("https://shop.example".into()),
            store_hash: Some("abc123".into()),
            webhook_secret: Some("whsec".into()),
            access_token: Some("token".into()),
            consumer_key: Some("ck".into()),
            consumer_secret: Some("cs".into()),
            api_base_url: None,
        }),
        webhook_endpoints: Vec::new(),
        edi: None,
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Buyer => Role::Seller,
        Role::Seller => Role::Buyer,
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let Some((order, cancellation)) = committed(case) else {
        return Ok(());
    };
    // The email, to the partner of whoever cancelled.
    let party = other(case.initiator);
    let to = partner(Integration::Api, party, &case.name);
    let notice = Notice::new(&order, &cancellation, &to, party, "Initiator & Co");
    let email = notice.email("from@example.com", &to.email);
    prop_assert!(email.is_ok(), "{:?}", email.err());
    let email = email.unwrap_or_else(|_| unreachable!());
    let units: u64 = cancellation
        .items
        .iter()
        .map(|i| u64::from(i.quantity))
        .sum();
    if !case.whole {
        let count = format!(": {units} unit");
        prop_assert!(email.subject.contains(&count), "{}", email.subject);
    }
    let listed = cancellation.items.len();
    prop_assert_eq!(email.text.matches("Quantity cancelled: ").count(), listed);
    prop_assert_eq!(email.html.matches("<tr><td>").count(), listed);

    // The store sync of every kind of store partner.
    for (integration, role) in [
        (Integration::Store(domain::Platform::Shopify), Role::Buyer),
        (Integration::Store(domain::Platform::Shopify), Role::Seller),
        (
            Integration::Store(domain::Platform::WooCommerce),
            Role::Seller,
        ),
        (
            Integration::Store(domain::Platform::BigCommerce),
            Role::Seller,
        ),
    ] {
        let mut c = cancellation.clone();
        c.initiated_by = other(role);
        let Ok(Some(p)) = plan(&partner(integration, role, &case.name), role, &order, &c) else {
            continue;
        };
        match &p.action {
            SyncAction::ShopifyRefund { lines, .. } => {
                prop_assert!(!lines.is_empty());
                for l in lines {
                    prop_assert!(l.cancelled >= 1);
                }
            }
            SyncAction::Update(u) => {
                prop_assert_eq!(case.whole, *u == OrderUpdate::CancelOrder);
            }
        }
        if let Ok(record) = request_record(&p) {
            prop_assert_eq!(record["requests"].as_array().map(Vec::len), Some(1));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn small_orders_render_and_plan(case in case(1..=12)) {
        check(&case)?;
    }
}

proptest! {
    // Few cases: each is thousands of lines in a debug build.
    #![proptest_config(ProptestConfig { cases: 3, max_shrink_iters: 64, ..ProptestConfig::default() })]
    #[test]
    fn orders_of_up_to_5000_lines_render_and_plan(case in case(4000..=5000)) {
        check(&case)?;
    }
}
