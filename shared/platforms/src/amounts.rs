//! Money on a partial cancellation in WooCommerce and BigCommerce: what a
//! line's amounts become when some of its units are cancelled, so the
//! remaining units keep the price (and discount) they were sold at.
//!
//! - WooCommerce's REST orders controller sets a line's `subtotal` and
//!   `total` only when they are posted, then recalculates the order (and
//!   its taxes) from the line totals (`prepare_line_items` and `save_object`
//!   of `WC_REST_Orders_V2_Controller`). A quantity sent alone leaves the
//!   line priced for the old quantity, so both are sent, scaled.
//! - BigCommerce's updateOrder reference: "the PUT request clears all
//!   discounts and promotions applied to the changed order line items". The
//!   line's unit prices are sent as what was paid per unit after its
//!   discounts, so the remaining units cost what they cost before.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::inbound::{id_string, quantity};

/// An amount a platform sent that is not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?} is not a decimal amount")]
pub struct AmountError {
    pub field: &'static str,
    pub value: String,
}

/// Decimal places of a currency's minor unit (ISO 4217); 2 when unknown.
pub fn currency_decimals(code: &str) -> u32 {
    match code.trim().to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

fn amount(field: &'static str, raw: &str) -> Result<Decimal, AmountError> {
    raw.trim().parse::<Decimal>().map_err(|_| AmountError {
        field,
        value: raw.chars().take(40).collect(),
    })
}

/// `total * new / old`, rounded half away from zero to `dp` places, as
/// a string (`old` > 0).
fn scaled(total: Decimal, new: u32, old: u32, dp: u32) -> Option<String> {
    let v = total
        .checked_mul(Decimal::from(new))?
        .checked_div(Decimal::from(old))?
        .round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    Some(format!("{v:.prec$}", prec = dp as usize))
}

/// Amounts are strings in both platforms' JSON; numbers are accepted too,
/// and `null` reads as no amount (refused only where it is needed).
fn amount_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum A {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Option::<A>::deserialize(d)? {
        Some(A::S(s)) => s,
        Some(A::N(n)) => n.to_string(),
        None => String::new(),
    })
}

/// A WooCommerce order as `GET /wc/v3/orders/{id}` returns it (the fields
/// a partial cancellation needs).
#[derive(Debug, Clone, Deserialize)]
pub struct WooOrder {
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub line_items: Vec<WooLine>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WooLine {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    #[serde(deserialize_with = "quantity")]
    pub quantity: u32,
    #[serde(deserialize_with = "amount_string")]
    pub subtotal: String,
    #[serde(deserialize_with = "amount_string")]
    pub total: String,
}

/// The `PUT` body setting each `(line id, new quantity)` with its subtotal
/// and total scaled to the new quantity, rounded to the currency's
/// decimals. Quantity 0 removes the line. Lines the order no longer has
/// are left out and returned: WooCommerce refuses an update naming a line
/// that is not on the order. `None` when no line is left to send.
pub fn woocommerce_partial_body(
    targets: &[(u64, u32)],
    order: &WooOrder,
) -> Result<(Option<Value>, Vec<u64>), AmountError> {
    let dp = currency_decimals(&order.currency);
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for &(id, q) in targets {
        let key = id.to_string();
        let Some(line) = order.line_items.iter().find(|l| l.id == key) else {
            missing.push(id);
            continue;
        };
        // Already at the target (a repeat after a cut attempt): sending it
        // again would overwrite amounts the merchant may have changed since.
        if line.quantity == q {
            continue;
        }
        if q == 0 || line.quantity == 0 {
            lines.push(json!({ "id": id, "quantity": q }));
            continue;
        }
        let subtotal = amount("subtotal", &line.subtotal)?;
        let total = amount("total", &line.total)?;
        let overflow = |field| AmountError {
            field,
            value: format!("{total} x {q}"),
        };
        lines.push(json!({
            "id": id,
            "quantity": q,
            "subtotal": scaled(subtotal, q, line.quantity, dp).ok_or_else(|| overflow("subtotal"))?,
            "total": scaled(total, q, line.quantity, dp).ok_or_else(|| overflow("total"))?,
        }));
    }
    let body = (!lines.is_empty()).then(|| json!({ "line_items": lines }));
    Ok((body, missing))
}

/// A BigCommerce order product as `GET /v2/orders/{id}/products` returns
/// it (the fields a partial cancellation needs).
#[derive(Debug, Clone, Deserialize)]
pub struct BcProduct {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    #[serde(deserialize_with = "quantity")]
    pub quantity: u32,
    #[serde(default, deserialize_with = "quantity")]
    pub quantity_refunded: u32,
    /// Read only when the product has discounts.
    #[serde(default, deserialize_with = "amount_string")]
    pub price_ex_tax: String,
    #[serde(default, deserialize_with = "amount_string")]
    pub price_inc_tax: String,
    #[serde(default)]
    pub applied_discounts: Vec<BcDiscount>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BcDiscount {
    #[serde(deserialize_with = "amount_string")]
    pub amount: String,
}

/// BigCommerce keeps prices to 4 decimal places.
const BC_DP: u32 = 4;

/// The `PUT` body setting each `(product id, new quantity)`. A product with
/// discounts also gets its unit prices (ex and inc tax) as paid after its
/// discounts (the discounts' share taken off both in proportion), since the
/// update clears the discounts of the lines it changes. Quantity 0 removes
/// the product. Products the order does not have are left out and
/// returned. `None` when nothing is left to send.
pub fn bigcommerce_partial_body(
    targets: &[(u64, u32)],
    products: &[BcProduct],
) -> Result<(Option<Value>, Vec<u64>), AmountError> {
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for &(id, q) in targets {
        let key = id.to_string();
        let Some(p) = products.iter().find(|p| p.id == key) else {
            missing.push(id);
            continue;
        };
        // Already at the target: a repeat would clear the discounts and
        // prices the merchant may have set since.
        if p.quantity == q {
            continue;
        }
        let mut discount = Decimal::ZERO;
        for d in &p.applied_discounts {
            discount = discount.saturating_add(amount("applied_discounts.amount", &d.amount)?);
        }
        if q == 0 || p.quantity == 0 || discount <= Decimal::ZERO {
            lines.push(json!({ "id": id, "quantity": q }));
            continue;
        }
        let ex = amount("price_ex_tax", &p.price_ex_tax)?;
        let inc = amount("price_inc_tax", &p.price_inc_tax)?;
        let overflow = || AmountError {
            field: "price_inc_tax",
            value: format!("{inc} x {}", p.quantity),
        };
        // The share of the line's price that was paid: discounts are taken
        // off the line's total including tax (`discounted_total_inc_tax`).
        let line_inc = inc
            .checked_mul(Decimal::from(p.quantity))
            .ok_or_else(overflow)?;
        if line_inc <= Decimal::ZERO {
            lines.push(json!({ "id": id, "quantity": q }));
            continue;
        }
        let paid = line_inc.saturating_sub(discount).max(Decimal::ZERO);
        let unit = |price: Decimal| -> Option<String> {
            let v = price
                .checked_mul(paid)?
                .checked_div(line_inc)?
                .round_dp_with_strategy(BC_DP, RoundingStrategy::MidpointAwayFromZero);
            Some(format!("{v:.4}"))
        };
        lines.push(json!({
            "id": id,
            "quantity": q,
            "price_ex_tax": unit(ex).ok_or_else(overflow)?,
            "price_inc_tax": unit(inc).ok_or_else(overflow)?,
        }));
    }
    let body = (!lines.is_empty()).then(|| json!({ "products": lines }));
    Ok((body, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn woo(currency: &str, lines: Value) -> WooOrder {
        serde_json::from_value(json!({ "currency": currency, "line_items": lines })).unwrap()
    }

    #[test]
    fn woocommerce_lines_keep_their_unit_price_and_discount() {
        // 3 units sold at 10.00 with 1.00 off the line: 2 remain.
        let o = woo(
            "USD",
            json!([{"id": 41, "quantity": 3, "subtotal": "30.00", "total": "29.00"},
                   {"id": 42, "quantity": 2, "subtotal": "5.00", "total": "5.00"}]),
        );
        let (body, missing) = woocommerce_partial_body(&[(41, 2), (42, 0), (43, 1)], &o).unwrap();
        assert_eq!(
            body.unwrap(),
            json!({"line_items": [
                {"id": 41, "quantity": 2, "subtotal": "20.00", "total": "19.33"},
                {"id": 42, "quantity": 0}
            ]})
        );
        assert_eq!(missing, [43], "a line the order does not have is not sent");
        // Repeating it against the updated order sends nothing, even when
        // the merchant has changed the line's amounts since.
        let after = woo(
            "USD",
            json!([{"id": 41, "quantity": 2, "subtotal": "20.00", "total": "15.00"}]),
        );
        let (again, _) = woocommerce_partial_body(&[(41, 2)], &after).unwrap();
        assert_eq!(again, None);
    }

    #[test]
    fn woocommerce_rounds_to_the_currencys_decimals() {
        let o = woo(
            "JPY",
            json!([{"id": 1, "quantity": 3, "subtotal": "1000", "total": "1000"}]),
        );
        let (body, _) = woocommerce_partial_body(&[(1, 1)], &o).unwrap();
        assert_eq!(body.unwrap()["line_items"][0]["total"], "333");
        let o = woo(
            "KWD",
            json!([{"id": 1, "quantity": 3, "subtotal": "1", "total": "1"}]),
        );
        let (body, _) = woocommerce_partial_body(&[(1, 2)], &o).unwrap();
        assert_eq!(body.unwrap()["line_items"][0]["total"], "0.667");
        assert_eq!(currency_decimals("usd"), 2);
        let bad = woo(
            "USD",
            json!([{"id": 1, "quantity": 3, "subtotal": "ten", "total": "1"}]),
        );
        assert_eq!(
            woocommerce_partial_body(&[(1, 2)], &bad).unwrap_err().field,
            "subtotal"
        );
        let (none, missing) = woocommerce_partial_body(&[(9, 1)], &bad).unwrap();
        assert_eq!((none, missing), (None, vec![9]));
    }

    #[test]
    fn bigcommerce_discounted_lines_keep_what_was_paid() {
        // BigCommerce's own example product: 1 x 65.23 inc tax, 1.59 off.
        let p: Vec<BcProduct> = serde_json::from_value(json!([
            {"id": 65, "quantity": 2, "price_ex_tax": "55.9900", "price_inc_tax": "65.2300",
             "applied_discounts": [{"id": "manual-discount", "amount": "3.1800"}]},
            {"id": 66, "quantity": 4, "price_ex_tax": "10.0000", "price_inc_tax": "11.0000",
             "applied_discounts": []}
        ]))
        .unwrap();
        let (body, missing) = bigcommerce_partial_body(&[(65, 1), (66, 3), (67, 0)], &p).unwrap();
        assert_eq!(
            body.unwrap(),
            json!({"products": [
                {"id": 65, "quantity": 1, "price_ex_tax": "54.6252", "price_inc_tax": "63.6400"},
                {"id": 66, "quantity": 3}
            ]})
        );
        assert_eq!(missing, [67]);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the amounts and quantities, a WooCommerce body never
            /// raises a line's amounts, keeps every id it sends on the order,
            /// and sending it again to the updated order changes nothing.
            #[test]
            fn woocommerce_bodies_scale_down_and_settle(
                cents in 0u64..10_000_000_000,
                discount in 0u64..100,
                old in 1u32..10_000,
                new_frac in 0u32..=100,
                currency in prop_oneof![Just("USD"), Just("JPY"), Just("KWD"), Just("XYZ")],
            ) {
                let new = old / 100 * new_frac / 100 + (old % 100) * new_frac / 100;
                let subtotal = Decimal::new(i64::try_from(cents).unwrap(), 2);
                let total = subtotal - subtotal * Decimal::from(discount) / Decimal::from(100);
                let dp = currency_decimals(currency);
                let round = |d: Decimal| format!("{:.prec$}", d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero), prec = dp as usize);
                let order = woo(currency, json!([{"id": 7, "quantity": old,
                    "subtotal": round(subtotal), "total": round(total)}]));
                let (body, missing) = woocommerce_partial_body(&[(7, new)], &order).unwrap();
                prop_assert!(missing.is_empty());
                if new == old {
                    prop_assert!(body.is_none(), "a line at its target is not sent");
                    return Ok(());
                }
                let line = body.unwrap()["line_items"][0].clone();
                prop_assert_eq!(&line["id"], &json!(7));
                prop_assert_eq!(&line["quantity"], &json!(new));
                if new == 0 {
                    prop_assert!(line.get("total").is_none());
                } else {
                    let t: Decimal = line["total"].as_str().unwrap().parse().unwrap();
                    let st: Decimal = line["subtotal"].as_str().unwrap().parse().unwrap();
                    prop_assert!(t <= round(total).parse::<Decimal>().unwrap());
                    prop_assert!(st <= round(subtotal).parse::<Decimal>().unwrap());
                    let after = woo(currency, json!([{"id": 7, "quantity": new,
                        "subtotal": line["subtotal"], "total": line["total"]}]));
                    let (again, _) = woocommerce_partial_body(&[(7, new)], &after).unwrap();
                    prop_assert!(again.is_none(), "sent again: {:?}", again);
                }
            }

            /// A BigCommerce body never prices a unit above its price, and
            /// never below zero.
            #[test]
            fn bigcommerce_prices_stay_between_zero_and_the_price(
                price in 0u64..100_000_000,
                discount in 0u64..200_000_000,
                old in 1u32..1000,
                new in 0u32..1000,
            ) {
                let p: Vec<BcProduct> = serde_json::from_value(json!([{
                    "id": 1, "quantity": old,
                    "price_ex_tax": Decimal::new(i64::try_from(price).unwrap(), 4).to_string(),
                    "price_inc_tax": Decimal::new(i64::try_from(price).unwrap(), 4).to_string(),
                    "applied_discounts": [{"amount": Decimal::new(i64::try_from(discount).unwrap(), 4).to_string()}]
                }])).unwrap();
                let (body, _) = bigcommerce_partial_body(&[(1, new)], &p).unwrap();
                if new == old {
                    prop_assert!(body.is_none(), "a product at its target is not sent");
                    return Ok(());
                }
                let line = body.unwrap()["products"][0].clone();
                prop_assert_eq!(&line["quantity"], &json!(new));
                if let Some(inc) = line.get("price_inc_tax") {
                    let inc: Decimal = inc.as_str().unwrap().parse().unwrap();
                    prop_assert!(inc >= Decimal::ZERO);
                    prop_assert!(inc <= Decimal::new(i64::try_from(price).unwrap(), 4));
                }
            }
        }
    }
}
