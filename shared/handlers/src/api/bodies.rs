//! The API's request bodies: strict shapes (unknown fields refused), the
//! checks that belong to the wire format, and their conversion to domain
//! requests.

use serde::Deserialize;

use super::{check_id, invalid_body, is_decimal};
use crate::response::Problem;
use domain::{CancelRequest, ItemRequest, NewLine, NewOrder, StoreRefs};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateOrderBody {
    seller_id: String,
    #[serde(default)]
    buyer_order_ref: Option<String>,
    #[serde(default)]
    seller_order_ref: Option<String>,
    line_items: Vec<LineBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LineBody {
    id: String,
    sku: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
    #[serde(default)]
    unit_price: Option<String>,
    #[serde(default)]
    buyer_line_ref: Option<String>,
    #[serde(default)]
    seller_line_ref: Option<String>,
}

impl CreateOrderBody {
    pub(super) fn into_request(self) -> Result<(String, NewOrder), Problem> {
        // References are checked by the domain, against their owner.
        check_id("seller_id", &self.seller_id)?;
        let mut lines = Vec::with_capacity(self.line_items.len());
        for l in self.line_items {
            check_id("line_items[].id", &l.id)?;
            check_id("line_items[].sku", &l.sku)?;
            if l.title.as_ref().is_some_and(|t| t.len() > 1024) {
                return Err(invalid_body(
                    "line_items[].title must be at most 1024 bytes",
                ));
            }
            if let Some(p) = &l.unit_price
                && !is_decimal(p)
            {
                return Err(invalid_body(format!(
                    "line_items[].unit_price must be a decimal string such as \"12.50\", got {p:?}"
                )));
            }
            lines.push(NewLine {
                id: l.id,
                sku: l.sku,
                title: l.title,
                quantity: l.quantity,
                unit_price: l.unit_price,
                buyer_line_ref: l.buyer_line_ref,
                seller_line_ref: l.seller_line_ref,
            });
        }
        Ok((
            self.seller_id,
            NewOrder {
                buyer_order_ref: self.buyer_order_ref,
                seller_order_ref: self.seller_order_ref,
                line_items: lines,
            },
        ))
    }
}

/// A quantity: a JSON number with no fractional part. `openapi.yaml` says
/// `integer`, which JSON Schema (and so many clients' serialisers) also
/// lets be written `4.0` or `4e0`; those are read as 4. `4.5`, strings and
/// numbers beyond `i64` are refused (400 `invalid_body`); zero and negative
/// ones reach the domain, which answers `invalid_quantity`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct WholeNumber;
    impl serde::de::Visitor<'_> for WholeNumber {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // Beyond 2^53 a float no longer holds every whole number exactly.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if v.fract() == 0.0 && v.abs() <= EXACT {
                Ok(v as i64)
            } else {
                Err(E::custom(format!("{v} is not a whole number")))
            }
        }
    }
    d.deserialize_any(WholeNumber)
}

/// Present-but-null is `Some(None)`; absent is `None` (via `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    #[serde(default)]
    reason_code: Option<String>,
    #[serde(default, deserialize_with = "present")]
    reason: Option<Option<String>>,
    #[serde(default)]
    items: Option<Vec<ItemBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ItemBody {
    line_item_id: String,
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
    #[serde(default)]
    reason_code: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl CancelBody {
    pub(super) fn into_request(self) -> Result<CancelRequest, Problem> {
        // A whole-order request gives a code or a reason (a null one
        // included, refused as missing); an items request gives neither.
        let whole = self.reason.is_some() || self.reason_code.is_some();
        match (whole, self.items) {
            (true, None) => Ok(CancelRequest::WholeOrder {
                reason_code: self.reason_code,
                reason: self.reason.flatten(),
            }),
            (false, Some(items)) => Ok(CancelRequest::Items(
                items
                    .into_iter()
                    .map(|i| ItemRequest {
                        line_item_id: i.line_item_id,
                        quantity: i.quantity,
                        reason_code: i.reason_code,
                        reason: i.reason,
                    })
                    .collect(),
            )),
            (true, Some(_)) => Err(invalid_body(
                "give either a whole-order {\"reason_code\", \"reason\"} or {\"items\": [...]}, not both",
            )),
            (false, None) => Err(invalid_body(
                "give either a whole-order {\"reason_code\", \"reason\"} or {\"items\": [...]}",
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FulfillBody {
    pub(super) items: Vec<FulfilledBody>,
    #[serde(default)]
    pub(super) tracking_number: Option<String>,
    #[serde(default)]
    pub(super) carrier: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FulfilledBody {
    pub(super) line_item_id: String,
    #[serde(deserialize_with = "whole_number")]
    pub(super) quantity: i64,
}

/// `PUT .../store-refs`: `order_ref`, `line_items` or both; neither (or
/// only an empty list) is a body that asks for nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoreRefsBody {
    #[serde(default, deserialize_with = "present")]
    order_ref: Option<Option<String>>,
    #[serde(default)]
    line_items: Vec<LineRefBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LineRefBody {
    id: String,
    #[serde(rename = "ref")]
    line_ref: String,
}

impl StoreRefsBody {
    pub(super) fn into_request(self) -> Result<StoreRefs, Problem> {
        let order_ref = match self.order_ref {
            Some(None) => return Err(invalid_body("order_ref must be a string")),
            Some(Some(r)) => Some(r),
            None => None,
        };
        if order_ref.is_none() && self.line_items.is_empty() {
            return Err(invalid_body(
                "give order_ref, a non-empty line_items list, or both",
            ));
        }
        let mut line_items = Vec::with_capacity(self.line_items.len());
        for l in self.line_items {
            check_id("line_items[].id", &l.id)?;
            line_items.push((l.id, l.line_ref));
        }
        Ok(StoreRefs {
            order_ref,
            line_items,
        })
    }
}
