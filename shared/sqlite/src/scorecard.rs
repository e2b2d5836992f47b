//! The scorecard's counts: one row per company, partner and day of the
//! orders' creation, added to in the transaction of each commit.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use domain::scorecard::{Counts, DayCounts, ScoreChange, recount};
use domain::{Cancellation, Order};
use service::store::StoreError;

use crate::codec::{db, from_json, to_json};

const TABLE: &str = "CREATE TABLE scorecard (
    company_id   TEXT NOT NULL,
    day          TEXT NOT NULL,
    partner_id   TEXT NOT NULL,
    partner_name TEXT NOT NULL,
    counts       TEXT NOT NULL,
    PRIMARY KEY (company_id, day, partner_id)
)";

/// Creates the table in a file that has none, counting the orders it
/// holds already; under the write lock, so two processes opening an older
/// file count them once.
pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(db)?;
    let present: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'scorecard'",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if present == 0 {
        tx.execute_batch(TABLE).map_err(db)?;
        fill(&tx)?;
    }
    tx.commit().map_err(db)
}

/// Counts every stored order with its cancellations.
fn fill(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let mut orders: Vec<(Order, Vec<Cancellation>)> = Vec::new();
    {
        let mut stmt = tx
            .prepare("SELECT doc FROM orders ORDER BY id")
            .map_err(db)?;
        let docs = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        for doc in docs {
            orders.push((from_json(&doc.map_err(db)?)?, Vec::new()));
        }
        let mut stmt = tx
            .prepare("SELECT doc FROM cancellations WHERE order_id = ?1 ORDER BY seq")
            .map_err(db)?;
        for (order, cancellations) in &mut orders {
            let docs = stmt
                .query_map([&order.id], |r| r.get::<_, String>(0))
                .map_err(db)?;
            for doc in docs {
                cancellations.push(from_json(&doc.map_err(db)?)?);
            }
        }
    }
    let rows = recount(orders.iter().map(|(o, c)| (o, c.as_slice())));
    for row in rows {
        put(tx, &row)?;
    }
    Ok(())
}

/// Adds a commit's change to both sides' rows.
pub(crate) fn add(tx: &Transaction<'_>, change: &ScoreChange) -> Result<(), StoreError> {
    let day = change.day.to_string();
    for (company, partner, name) in change.sides() {
        let stored: Option<String> = tx
            .query_row(
                "SELECT counts FROM scorecard WHERE company_id = ?1 AND day = ?2 AND partner_id = ?3",
                params![company, day, partner],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        let mut counts = match stored {
            Some(doc) => decode(&doc)?,
            None => Counts::default(),
        };
        counts.add(&change.counts);
        put(
            tx,
            &DayCounts {
                company_id: company.to_owned(),
                partner_id: partner.to_owned(),
                partner_name: name.to_owned(),
                day: change.day,
                counts,
            },
        )?;
    }
    Ok(())
}

/// Writes a row whole; an empty name keeps the stored one.
fn put(tx: &Transaction<'_>, row: &DayCounts) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO scorecard (company_id, day, partner_id, partner_name, counts)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (company_id, day, partner_id) DO UPDATE SET counts = excluded.counts,
             partner_name = CASE WHEN excluded.partner_name = '' THEN partner_name
                                 ELSE excluded.partner_name END",
        params![
            row.company_id,
            row.day.to_string(),
            row.partner_id,
            row.partner_name,
            encode(&row.counts)?
        ],
    )
    .map_err(db)?;
    Ok(())
}

/// Rows of one company (or all, with `None`) for days `from..=to`.
pub(crate) fn rows(
    conn: &Connection,
    company_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayCounts>, StoreError> {
    let (from, to) = (from.to_string(), to.to_string());
    let sql = "SELECT company_id, day, partner_id, partner_name, counts FROM scorecard
               WHERE (?1 IS NULL OR company_id = ?1) AND day BETWEEN ?2 AND ?3
               ORDER BY company_id, day, partner_id";
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let found = stmt
        .query_map(params![company_id, from, to], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in found {
        let (company_id, day, partner_id, partner_name, counts) = row.map_err(db)?;
        out.push(DayCounts {
            company_id,
            partner_id,
            partner_name,
            day: day
                .parse()
                .map_err(|_| StoreError::Internal(format!("a scorecard row's day {day:?}")))?,
            counts: decode(&counts)?,
        });
    }
    Ok(out)
}

/// Counts as a JSON object of named counters, so a code added later reads
/// as zero in older rows.
fn encode(counts: &Counts) -> Result<String, StoreError> {
    to_json(&counts.fields().into_iter().collect::<BTreeMap<_, _>>())
}

fn decode(doc: &str) -> Result<Counts, StoreError> {
    let fields: BTreeMap<String, u64> = from_json(doc)?;
    Ok(Counts::from_fields(
        fields.iter().map(|(k, v)| (k.as_str(), *v)),
    ))
}
