//! The scorecard as clients read it: the JSON of `GET /v1/scorecard`, and
//! the same figures as CSV (the API's export and the operator's report).

use chrono::Days;
use serde::Serialize;
use serde::ser::SerializeMap;

use domain::ReasonCode;
use domain::scorecard::{Counts, PartnerScore, Scorecard};

#[derive(Serialize)]
pub struct ScorecardView<'a> {
    pub company_id: &'a str,
    pub days: u32,
    pub partners: Vec<PartnerView<'a>>,
}

#[derive(Serialize)]
pub struct PartnerView<'a> {
    pub partner_id: &'a str,
    pub partner_name: &'a str,
    pub orders: u64,
    pub orders_cancelled: u64,
    pub units: u64,
    pub units_cancelled: u64,
    pub by_initiator: Initiators,
    pub by_reason: ByReason<'a>,
    pub weekly: Vec<WeekView>,
}

#[derive(Serialize)]
pub struct Initiators {
    pub buyer: u64,
    pub seller: u64,
}

/// Units per reason code, every code present, in the codes' own order.
pub struct ByReason<'a>(&'a Counts);

impl Serialize for ByReason<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(ReasonCode::ALL.len()))?;
        for code in ReasonCode::ALL {
            map.serialize_entry(code.as_str(), &self.0.reason(code))?;
        }
        map.end()
    }
}

#[derive(Serialize)]
pub struct WeekView {
    pub week_start: String,
    pub orders: u64,
    pub orders_cancelled: u64,
    pub units_cancelled: u64,
}

impl<'a> ScorecardView<'a> {
    pub fn of(card: &'a Scorecard) -> Self {
        ScorecardView {
            company_id: &card.company_id,
            days: card.window.days(),
            partners: card.partners.iter().map(PartnerView::of).collect(),
        }
    }
}

impl<'a> PartnerView<'a> {
    fn of(p: &'a PartnerScore) -> Self {
        let t = &p.totals;
        PartnerView {
            partner_id: &p.partner_id,
            partner_name: &p.partner_name,
            orders: t.orders,
            orders_cancelled: t.orders_cancelled,
            units: t.units,
            units_cancelled: t.units_cancelled,
            by_initiator: Initiators {
                buyer: t.by_buyer,
                seller: t.by_seller,
            },
            by_reason: ByReason(t),
            weekly: p
                .weekly
                .iter()
                .map(|w| WeekView {
                    week_start: w.week_start.to_string(),
                    orders: w.counts.orders,
                    orders_cancelled: w.counts.orders_cancelled,
                    units_cancelled: w.counts.units_cancelled,
                })
                .collect(),
        }
    }
}

/// The CSV columns: the pair, the days a row covers, then every counter.
fn header() -> Vec<String> {
    let mut h: Vec<String> = [
        "company_id",
        "partner_id",
        "partner_name",
        "from",
        "to",
        "orders",
        "orders_cancelled",
        "units",
        "units_cancelled",
        "cancelled_by_buyer",
        "cancelled_by_seller",
    ]
    .map(String::from)
    .into();
    h.extend(ReasonCode::ALL.iter().map(|c| format!("reason_{c}")));
    h
}

/// Scorecards as CSV: per partner, a row for the whole window, then one
/// per week (clipped to the window), every counter in its own column.
pub fn csv(cards: &[Scorecard]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header())?;
    for card in cards {
        let today = card.today;
        let first = card.window.first_day(today);
        for p in &card.partners {
            let mut rows = vec![(first, today, &p.totals)];
            for week in &p.weekly {
                let end = week
                    .week_start
                    .checked_add_days(Days::new(6))
                    .unwrap_or(today)
                    .min(today);
                rows.push((week.week_start.max(first), end, &week.counts));
            }
            for (from, to, c) in rows {
                let mut record = vec![
                    cell(&card.company_id),
                    cell(&p.partner_id),
                    cell(&p.partner_name),
                    from.to_string(),
                    to.to_string(),
                ];
                record.extend(
                    [
                        c.orders,
                        c.orders_cancelled,
                        c.units,
                        c.units_cancelled,
                        c.by_buyer,
                        c.by_seller,
                    ]
                    .iter()
                    .map(u64::to_string),
                );
                record.extend(
                    ReasonCode::ALL
                        .iter()
                        .map(|code| c.reason(*code).to_string()),
                );
                w.write_record(&record)?;
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A text cell as a spreadsheet will not run it: one a spreadsheet would
/// read as a formula gets a leading apostrophe (names are chosen by
/// companies, and the file is opened by their partners).
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::scorecard::{DayCounts, Window, scorecard};

    use chrono::NaiveDate;

    fn card() -> (Scorecard, NaiveDate) {
        let today: NaiveDate = "2026-12-07".parse().unwrap();
        let mut counts = Counts {
            orders: 4,
            orders_cancelled: 1,
            units: 10,
            units_cancelled: 3,
            by_buyer: 1,
            by_seller: 2,
            ..Counts::default()
        };
        counts.by_reason[1] = 3; // out_of_stock
        let rows = vec![DayCounts {
            company_id: "buyer-1".into(),
            partner_id: "seller-1".into(),
            partner_name: "=HYPERLINK(\"x\")".into(),
            day: "2026-12-02".parse().unwrap(),
            counts,
        }];
        (scorecard("buyer-1", Window::Days7, today, rows), today)
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let (card, _) = card();
        let v = serde_json::to_value(ScorecardView::of(&card)).unwrap();
        assert_eq!(v["company_id"], "buyer-1");
        assert_eq!(v["days"], 7);
        let p = &v["partners"][0];
        assert_eq!(p["orders"], 4);
        assert_eq!(p["units_cancelled"], 3);
        assert_eq!(
            p["by_initiator"],
            serde_json::json!({"buyer": 1, "seller": 2})
        );
        assert_eq!(p["by_reason"]["out_of_stock"], 3);
        assert_eq!(p["by_reason"].as_object().unwrap().len(), 10);
        assert_eq!(
            p["weekly"],
            serde_json::json!([
                {"week_start": "2026-11-30", "orders": 4, "orders_cancelled": 1, "units_cancelled": 3},
                {"week_start": "2026-12-07", "orders": 0, "orders_cancelled": 0, "units_cancelled": 0}
            ])
        );
    }

    #[test]
    fn the_csv_has_a_window_row_then_weeks_and_defuses_formulas() {
        let (card, _) = card();
        let text = csv(&[card]).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[0][2], "'=HYPERLINK(\"x\")");
        assert_eq!(
            (&rows[0][3], &rows[0][4], &rows[0][5]),
            ("2026-12-01", "2026-12-07", "4")
        );
        assert_eq!((&rows[1][3], &rows[1][4]), ("2026-12-01", "2026-12-06"));
        assert_eq!(
            (&rows[2][3], &rows[2][4], &rows[2][5]),
            ("2026-12-07", "2026-12-07", "0")
        );
        let headers = r.headers().unwrap();
        assert_eq!(&headers[12], "reason_out_of_stock");
    }
}
