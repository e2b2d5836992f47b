//! The cancellation scorecard. Counts are kept per company pair and per UTC
//! day of the orders' creation, and every change to an order adds to them
//! (`ScoreChange::of`), so a scorecard is read from at most one row per
//! partner and day, however many orders there are. An order counts in the
//! window it was created in; so do the units later cancelled on it.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{Cancellation, Order, ReasonCode, Role};

/// The counters of one company pair over some days (or one week, or the
/// whole window). `by_buyer`, `by_seller` and `by_reason` count units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub orders: u64,
    pub orders_cancelled: u64,
    pub units: u64,
    pub units_cancelled: u64,
    pub by_buyer: u64,
    pub by_seller: u64,
    /// Units cancelled per code, in `ReasonCode::ALL` order.
    pub by_reason: [u64; ReasonCode::ALL.len()],
}

impl Counts {
    /// Adds `other` (counters only grow; saturating keeps a corrupt row
    /// from wrapping).
    pub fn add(&mut self, other: &Counts) {
        self.orders = self.orders.saturating_add(other.orders);
        self.orders_cancelled = self.orders_cancelled.saturating_add(other.orders_cancelled);
        self.units = self.units.saturating_add(other.units);
        self.units_cancelled = self.units_cancelled.saturating_add(other.units_cancelled);
        self.by_buyer = self.by_buyer.saturating_add(other.by_buyer);
        self.by_seller = self.by_seller.saturating_add(other.by_seller);
        for (mine, theirs) in self.by_reason.iter_mut().zip(other.by_reason) {
            *mine = mine.saturating_add(theirs);
        }
    }

    pub fn reason(&self, code: ReasonCode) -> u64 {
        self.by_reason[reason_index(code)]
    }

    /// Every counter with its name, as stores keep them in columns or
    /// attributes (`by_reason` one per code: `reason_<code>`).
    pub fn fields(&self) -> Vec<(String, u64)> {
        let mut out = vec![
            ("orders".to_owned(), self.orders),
            ("orders_cancelled".to_owned(), self.orders_cancelled),
            ("units".to_owned(), self.units),
            ("units_cancelled".to_owned(), self.units_cancelled),
            ("by_buyer".to_owned(), self.by_buyer),
            ("by_seller".to_owned(), self.by_seller),
        ];
        for code in ReasonCode::ALL {
            out.push((format!("reason_{code}"), self.reason(code)));
        }
        out
    }

    /// The counts `fields` named; names it does not know are ignored, and
    /// missing ones are zero.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, u64)>) -> Counts {
        let mut c = Counts::default();
        for (name, n) in fields {
            match name {
                "orders" => c.orders = n,
                "orders_cancelled" => c.orders_cancelled = n,
                "units" => c.units = n,
                "units_cancelled" => c.units_cancelled = n,
                "by_buyer" => c.by_buyer = n,
                "by_seller" => c.by_seller = n,
                other => {
                    if let Some(code) = other.strip_prefix("reason_").and_then(ReasonCode::parse) {
                        c.by_reason[reason_index(code)] = n;
                    }
                }
            }
        }
        c
    }

    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

fn reason_index(code: ReasonCode) -> usize {
    ReasonCode::ALL
        .iter()
        .position(|c| *c == code)
        .unwrap_or(ReasonCode::ALL.len() - 1)
}

/// What one change to an order adds to its pair's counts on the day the
/// order was created. Stores apply it in the same atomic write as the
/// change, once per side (each company reads its own rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreChange {
    pub buyer_id: String,
    pub seller_id: String,
    pub buyer_name: String,
    pub seller_name: String,
    pub day: NaiveDate,
    pub counts: Counts,
}

impl ScoreChange {
    /// The change `order` (as it stands after the write) and `cancellation`
    /// (the one the write records, if any) make; `created` when the write
    /// creates the order. `None` when nothing counted changes (a
    /// fulfilment, a reference update).
    pub fn of(order: &Order, created: bool, cancellation: Option<&Cancellation>) -> Option<Self> {
        let mut counts = Counts::default();
        if created {
            counts.orders = 1;
            counts.units = order
                .line_items
                .iter()
                .map(|l| u64::from(l.quantity))
                .fold(0, u64::saturating_add);
        }
        if let Some(c) = cancellation {
            let units = c
                .items
                .iter()
                .map(|i| u64::from(i.quantity))
                .fold(0, u64::saturating_add);
            counts.units_cancelled = units;
            match c.initiated_by {
                Role::Buyer => counts.by_buyer = units,
                Role::Seller => counts.by_seller = units,
            }
            for item in &c.items {
                let slot = &mut counts.by_reason[reason_index(item.reason_code)];
                *slot = slot.saturating_add(u64::from(item.quantity));
            }
            // The order's first cancelled units: after this write, all of
            // its cancelled units are this cancellation's.
            let cancelled_now = order
                .line_items
                .iter()
                .map(|l| u64::from(l.cancelled))
                .fold(0, u64::saturating_add);
            if units > 0 && cancelled_now == units {
                counts.orders_cancelled = 1;
            }
        }
        (!counts.is_zero()).then(|| ScoreChange {
            buyer_id: order.buyer_id.clone(),
            seller_id: order.seller_id.clone(),
            buyer_name: order.buyer_name.clone(),
            seller_name: order.seller_name.clone(),
            day: order.created_at.date_naive(),
            counts,
        })
    }

    /// The rows it adds to: (company, partner, partner's name), the
    /// buyer's then the seller's (one row when a company trades with
    /// itself).
    pub fn sides(&self) -> Vec<(&str, &str, &str)> {
        sides(
            &self.buyer_id,
            &self.seller_id,
            &self.buyer_name,
            &self.seller_name,
        )
    }
}

fn sides<'a>(
    buyer: &'a str,
    seller: &'a str,
    buyer_name: &'a str,
    seller_name: &'a str,
) -> Vec<(&'a str, &'a str, &'a str)> {
    let mut out = vec![(buyer, seller, seller_name)];
    if buyer != seller {
        out.push((seller, buyer, buyer_name));
    }
    out
}

/// The rows orders and their cancellations come to, counted from scratch:
/// how a store made before the scorecard fills it, and what tests hold the
/// kept counts to. One row per company, partner and day.
pub fn recount<'a>(
    orders: impl IntoIterator<Item = (&'a Order, &'a [Cancellation])>,
) -> Vec<DayCounts> {
    use std::collections::BTreeMap;
    let mut rows: BTreeMap<(String, String, NaiveDate), DayCounts> = BTreeMap::new();
    for (order, cancellations) in orders {
        // A creation always counts (1 order), so this is never the default.
        let mut counts = ScoreChange::of(order, true, None)
            .map(|c| c.counts)
            .unwrap_or_default();
        for c in cancellations {
            let mut of_c = ScoreChange::of(order, false, Some(c))
                .map(|c| c.counts)
                .unwrap_or_default();
            of_c.orders_cancelled = 0;
            counts.add(&of_c);
        }
        if counts.units_cancelled > 0 {
            counts.orders_cancelled = 1;
        }
        let day = order.created_at.date_naive();
        let sides = sides(
            &order.buyer_id,
            &order.seller_id,
            &order.buyer_name,
            &order.seller_name,
        );
        for (company, partner, name) in sides {
            let row = rows
                .entry((company.to_owned(), partner.to_owned(), day))
                .or_insert_with(|| DayCounts {
                    company_id: company.to_owned(),
                    partner_id: partner.to_owned(),
                    partner_name: String::new(),
                    day,
                    counts: Counts::default(),
                });
            if !name.is_empty() {
                row.partner_name = name.to_owned();
            }
            row.counts.add(&counts);
        }
    }
    rows.into_values().collect()
}

/// The windows a scorecard is read over, in days ending today (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    Days7,
    Days30,
    Days90,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::Days7, Window::Days30, Window::Days90];

    pub fn days(self) -> u32 {
        match self {
            Window::Days7 => 7,
            Window::Days30 => 30,
            Window::Days90 => 90,
        }
    }

    pub fn of_days(days: u32) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.days() == days)
    }

    /// The window's first day when it ends on `today`.
    pub fn first_day(self, today: NaiveDate) -> NaiveDate {
        today
            .checked_sub_days(Days::new(u64::from(self.days()) - 1))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// One stored row: a company's counts with one partner on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounts {
    pub company_id: String,
    pub partner_id: String,
    /// The partner's name as its latest order gave it (may be empty).
    pub partner_name: String,
    pub day: NaiveDate,
    pub counts: Counts,
}

/// A week of a partner's trend: the week starting on Monday `week_start`,
/// clipped to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    pub week_start: NaiveDate,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerScore {
    pub partner_id: String,
    pub partner_name: String,
    pub totals: Counts,
    /// Every week the window touches, oldest first (weeks without orders
    /// included, so a trend has no gaps).
    pub weekly: Vec<Week>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scorecard {
    pub company_id: String,
    pub window: Window,
    /// The window's last day.
    pub today: NaiveDate,
    /// Partners by id.
    pub partners: Vec<PartnerScore>,
}

/// The Monday starting `day`'s week.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
        .unwrap_or(day)
}

/// Every company's scorecard from its rows: rows outside the window ending
/// `today` are left out; companies by id. Rows of one company and partner
/// may come several per day (stores that spread a hot pair's counts over
/// several rows); they add up.
pub fn scorecards(
    window: Window,
    today: NaiveDate,
    rows: impl IntoIterator<Item = DayCounts>,
) -> Vec<Scorecard> {
    use std::collections::BTreeMap;
    let first = window.first_day(today);
    let weeks: Vec<NaiveDate> = {
        let mut w = Vec::new();
        let mut start = week_start(first);
        while start <= today {
            w.push(start);
            match start.checked_add_days(Days::new(7)) {
                Some(next) => start = next,
                None => break,
            }
        }
        w
    };
    let mut by_pair: BTreeMap<(String, String), PartnerScore> = BTreeMap::new();
    for row in rows {
        if row.day < first || row.day > today {
            continue;
        }
        let score = by_pair
            .entry((row.company_id.clone(), row.partner_id.clone()))
            .or_insert_with(|| PartnerScore {
                partner_id: row.partner_id.clone(),
                partner_name: String::new(),
                totals: Counts::default(),
                weekly: weeks
                    .iter()
                    .map(|w| Week {
                        week_start: *w,
                        counts: Counts::default(),
                    })
                    .collect(),
            });
        if !row.partner_name.is_empty() {
            score.partner_name = row.partner_name;
        }
        score.totals.add(&row.counts);
        let start = week_start(row.day);
        if let Some(week) = score.weekly.iter_mut().find(|w| w.week_start == start) {
            week.counts.add(&row.counts);
        }
    }
    let mut cards: Vec<Scorecard> = Vec::new();
    for ((company_id, _), mut partner) in by_pair {
        if partner.partner_name.is_empty() {
            partner.partner_name = partner.partner_id.clone();
        }
        match cards.last_mut() {
            Some(card) if card.company_id == company_id => card.partners.push(partner),
            _ => cards.push(Scorecard {
                company_id,
                window,
                today,
                partners: vec![partner],
            }),
        }
    }
    cards
}

/// One company's scorecard from its rows (rows of other companies are left
/// out); a company with no rows in the window has no partners.
pub fn scorecard(
    company_id: &str,
    window: Window,
    today: NaiveDate,
    rows: impl IntoIterator<Item = DayCounts>,
) -> Scorecard {
    scorecards(
        window,
        today,
        rows.into_iter().filter(|r| r.company_id == company_id),
    )
    .pop()
    .unwrap_or_else(|| Scorecard {
        company_id: company_id.to_owned(),
        window,
        today,
        partners: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CancellationKind, CancelledItem, LineItem, Source};
    use chrono::{TimeZone, Utc};

    fn order(quantities: &[(u32, u32)]) -> Order {
        let at = Utc.with_ymd_and_hms(2026, 11, 18, 23, 59, 0).unwrap();
        Order {
            id: "o1".into(),
            buyer_id: "b".into(),
            seller_id: "s".into(),
            buyer_name: "Buyer".into(),
            seller_name: "Seller".into(),
            buyer_order_ref: None,
            seller_order_ref: None,
            version: 1,
            created_at: at,
            updated_at: at,
            line_items: quantities
                .iter()
                .enumerate()
                .map(|(i, (q, c))| LineItem {
                    id: format!("l{i}"),
                    sku: "sku".into(),
                    title: None,
                    quantity: *q,
                    fulfilled: 0,
                    cancelled: *c,
                    unit_price: None,
                    buyer_line_ref: None,
                    seller_line_ref: None,
                    platform_shortfall: Default::default(),
                })
                .collect(),
        }
    }

    fn cancellation(by: Role, items: &[(usize, u32, ReasonCode)]) -> Cancellation {
        Cancellation {
            id: "c".into(),
            order_id: "o1".into(),
            initiated_by: by,
            source: Source::Api,
            kind: CancellationKind::Items,
            items: items
                .iter()
                .map(|(l, q, code)| CancelledItem {
                    line_item_id: format!("l{l}"),
                    quantity: *q,
                    reason_code: *code,
                    reason: None,
                })
                .collect(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_new_order_counts_once_with_its_units_on_its_creation_day() {
        let change = ScoreChange::of(&order(&[(3, 0), (2, 0)]), true, None).unwrap();
        assert_eq!(change.day, NaiveDate::from_ymd_opt(2026, 11, 18).unwrap());
        assert_eq!((change.counts.orders, change.counts.units), (1, 5));
        assert_eq!(change.counts.units_cancelled, 0);
        assert_eq!(
            change.sides(),
            vec![("b", "s", "Seller"), ("s", "b", "Buyer")]
        );
    }

    #[test]
    fn the_first_cancellation_counts_the_order_and_later_ones_only_units() {
        let first = cancellation(
            Role::Seller,
            &[
                (0, 2, ReasonCode::OutOfStock),
                (1, 1, ReasonCode::Discontinued),
            ],
        );
        let after_first = order(&[(3, 2), (2, 1)]);
        let c = ScoreChange::of(&after_first, false, Some(&first))
            .unwrap()
            .counts;
        assert_eq!((c.orders, c.orders_cancelled, c.units_cancelled), (0, 1, 3));
        assert_eq!((c.by_buyer, c.by_seller), (0, 3));
        assert_eq!(c.reason(ReasonCode::OutOfStock), 2);
        assert_eq!(c.reason(ReasonCode::Discontinued), 1);

        let second = cancellation(Role::Buyer, &[(0, 1, ReasonCode::CustomerRequest)]);
        let after_second = order(&[(3, 3), (2, 1)]);
        let c = ScoreChange::of(&after_second, false, Some(&second))
            .unwrap()
            .counts;
        assert_eq!(
            (c.orders_cancelled, c.units_cancelled, c.by_buyer),
            (0, 1, 1)
        );
    }

    #[test]
    fn changes_that_count_nothing_write_nothing() {
        assert_eq!(ScoreChange::of(&order(&[(1, 0)]), false, None), None);
    }

    #[test]
    fn counts_round_trip_through_their_fields() {
        let mut c = Counts {
            orders: 4,
            orders_cancelled: 2,
            units: 9,
            units_cancelled: 3,
            by_buyer: 1,
            by_seller: 2,
            ..Counts::default()
        };
        c.by_reason[reason_index(ReasonCode::Fraud)] = 3;
        let fields = c.fields();
        let back = Counts::from_fields(fields.iter().map(|(k, v)| (k.as_str(), *v)));
        assert_eq!(back, c);
        assert!(fields.iter().any(|(k, v)| k == "reason_fraud" && *v == 3));
    }

    fn row(company: &str, partner: &str, day: (i32, u32, u32), orders: u64) -> DayCounts {
        DayCounts {
            company_id: company.into(),
            partner_id: partner.into(),
            partner_name: String::new(),
            day: NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap(),
            counts: Counts {
                orders,
                ..Counts::default()
            },
        }
    }

    #[test]
    fn a_window_keeps_its_days_and_fills_every_week() {
        // Monday 2026-12-07; a 7-day window starts Tuesday 2026-12-01.
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let card = scorecard(
            "b",
            Window::Days7,
            today,
            vec![
                row("b", "s", (2026, 11, 30), 100), // outside
                row("b", "s", (2026, 12, 1), 1),
                row("b", "s", (2026, 12, 1), 2), // a second row of the same day adds up
                row("b", "s", (2026, 12, 7), 4),
                row("b", "t", (2026, 12, 3), 8),
                row("x", "s", (2026, 12, 3), 16), // another company's
            ],
        );
        assert_eq!(card.partners.len(), 2);
        let s = &card.partners[0];
        assert_eq!((s.partner_id.as_str(), s.partner_name.as_str()), ("s", "s"));
        assert_eq!(s.totals.orders, 7);
        let weeks: Vec<(String, u64)> = s
            .weekly
            .iter()
            .map(|w| (w.week_start.to_string(), w.counts.orders))
            .collect();
        assert_eq!(
            weeks,
            vec![("2026-11-30".to_owned(), 3), ("2026-12-07".to_owned(), 4)]
        );
        assert_eq!(card.partners[1].totals.orders, 8);
        assert!(
            scorecard("nobody", Window::Days90, today, vec![])
                .partners
                .is_empty()
        );
    }

    #[test]
    fn windows_are_7_30_and_90_days() {
        assert_eq!(Window::of_days(30), Some(Window::Days30));
        assert_eq!(Window::of_days(31), None);
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(
            Window::Days90.first_day(today),
            NaiveDate::from_ymd_opt(2026, 9, 9).unwrap()
        );
    }
}
