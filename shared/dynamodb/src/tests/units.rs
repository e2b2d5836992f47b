//! What commits cost in write units, measured on ministack.

use super::*;

/// DynamoDB's item size: attribute names plus values (numbers roughly
/// one byte per two digits plus one; lists and maps 3 bytes plus one per
/// element).
fn size_of_value(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            let digits = n.trim_start_matches('-').replace('.', "");
            let digits = digits.trim_start_matches('0').trim_end_matches('0');
            1 + digits.len().div_ceil(2)
        }
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + size_of_value(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + size_of_value(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

fn size_of(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + size_of_value(v)).sum()
}

/// The order item as stored.
pub(super) async fn raw_order_item(s: &DynamoStore, id: &str) -> Item {
    s.get(key(keys::order(id), keys::ORDER_SK))
        .await
        .unwrap()
        .expect("order item")
}

/// What a commit sends and costs: the operations and their write units.
pub(super) async fn cost(
    s: &DynamoStore,
    counter: &crate::testing::Counter,
    c: &Commit,
) -> (Vec<String>, f64) {
    counter.take();
    s.commit(c).await.unwrap();
    let calls = counter.take();
    (
        calls.iter().map(|c| c.op.clone()).collect(),
        calls.iter().filter_map(|c| c.units).sum(),
    )
}

/// What one cancellation costs, measured by `ReturnConsumedCapacity`
/// (see docs/dynamodb.md): a partial one without a key is a transaction of
/// the order item and the two sides' scorecard counters (2 WCU each under
/// 1 KB); with a key or a delivery record, one item more; one that
/// completes the order also marks both listing items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_units_of_one_cancellation() {
    let (s, counter) = crate::testing::counted_store().await;
    let mut o = fixtures::order(
        "ord_01JZ8Q4K3M5N6P7R8S9T0V1W2X",
        "buyer_acme",
        "seller_globex",
        0,
    );
    o.line_items.push(LineItemExt::third(&o));
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let created = size_of(&raw_order_item(&s, &o.id).await);

    let (next, can) = fixtures::cancel_one(&o, "li_1", "can_01JZ8Q4K3M5N6P7R8S9T0V1W2Y");
    let mut c = Commit::update(next.clone());
    c.cancellation = Some(can);
    let (ops, units) = cost(&s, &counter, &c).await;
    let after = size_of(&raw_order_item(&s, &o.id).await);
    eprintln!(
        "3-line order item: {created} bytes, {after} after a partial cancellation; {ops:?} {units} WCU"
    );
    assert!(after <= 1024, "{after} bytes: over one write unit");
    assert_eq!((ops, units), (vec!["TransactWriteItems".to_owned()], 6.0));

    // The same on another order with an Idempotency-Key (the record holds
    // the response): four items of under 1 KB in a transaction.
    let mut o2 = o.clone();
    o2.id = "ord_01JZ8Q4K3M5N6P7R8S9T0V1W2W".into();
    s.commit(&Commit::create(o2.clone())).await.unwrap();
    let (keyed, can) = fixtures::cancel_one(&o2, "li_2", "can_01JZ8Q4K3M5N6P7R8S9T0V1W2Z");
    let mut c = Commit::update(keyed);
    let mut idem = fixtures::idem(
        "buyer_acme",
        "8b1d2c43-5f0e-4a57-9a51-2f7de4c0a9e1",
        ChronoDuration::hours(24),
    );
    idem.body = serde_json::to_string(&can).unwrap();
    c.cancellation = Some(can);
    c.idempotency = Some(idem);
    let (ops, units) = cost(&s, &counter, &c).await;
    eprintln!("the same with a key: {ops:?} {units} WCU");
    assert_eq!((ops, units), (vec!["TransactWriteItems".to_owned()], 8.0));

    // From a platform webhook, the order's second cancellation: a delivery
    // record instead, and the order item is now over 1 KB.
    let (next3, can) = fixtures::cancel_one(&next, "li_3", "can_01JZ8Q4K3M5N6P7R8S9T0V1W3A");
    let mut c = Commit::update(next3.clone());
    c.cancellation = Some(can);
    c.delivery = Some(delivery(
        "shopify:b6a1f0c2-6f3e-4f0e-9d55-0d7c0a6a9c11",
        ChronoDuration::days(7),
    ));
    let (ops, units) = cost(&s, &counter, &c).await;
    let after = size_of(&raw_order_item(&s, &o.id).await);
    eprintln!("from a webhook: {ops:?} {units} WCU; the item is now {after} bytes");
    assert_eq!(ops, ["TransactWriteItems"]);

    // A whole-order cancellation completes the order: its listing items
    // are marked too.
    let mut done = next3.clone();
    done.version += 1;
    for l in &mut done.line_items {
        l.cancelled = l.quantity - l.fulfilled;
    }
    let (_, mut whole) = fixtures::cancel_one(&next3, "li_1", "can_01JZ8Q4K3M5N6P7R8S9T0V1W3B");
    whole.kind = domain::CancellationKind::Order;
    let mut c = Commit::update(done);
    c.cancellation = Some(whole);
    let (ops, units) = cost(&s, &counter, &c).await;
    eprintln!("whole-order cancellation (no key): {ops:?} {units} WCU");
    assert_eq!(ops, ["TransactWriteItems"]);
    let rec = s.order_record(&o.id).await.unwrap().unwrap();
    assert_eq!(rec.cancellations.len(), 3);
    let listed = s
        .list_orders("seller_globex", StatusFilter::Complete, 10, None)
        .await
        .unwrap();
    assert_eq!(listed.orders.len(), 1);
}

/// A third line for the cost test's order, a bit bigger than the fixtures.
struct LineItemExt;
impl LineItemExt {
    fn third(o: &Order) -> domain::LineItem {
        let mut l = o.line_items[0].clone();
        l.id = "li_3".into();
        l.sku = "SKU-LONGER-0003".into();
        l.title = Some("Organic cotton T-shirt, navy, size M".into());
        l.buyer_line_ref = Some("gid://shopify/LineItem/13371337".into());
        l
    }
}
