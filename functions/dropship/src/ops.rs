//! Operator commands on companies and API keys: `dropship companies` and
//! `dropship keys`. Each answers with one JSON document (`--json`) or the
//! same in lines of text. Secrets and keys are never printed, except a new
//! key, once.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use domain::{ApiKey, Company};
use local::seed::SeedCompany;
use service::admin::AdminService;
use service::store::Store;

/// What a command prints.
#[derive(Debug)]
pub struct Report {
    pub json: Value,
    pub text: String,
}

impl Report {
    pub fn print(&self, as_json: bool) {
        if as_json {
            println!("{}", self.json);
        } else {
            println!("{}", self.text.trim_end());
        }
    }
}

/// One Company object as in a seed file, with its id checked: an id names
/// the company's secret and appears in webhook URLs, so it is kept to a
/// plain alphabet.
pub fn read_company(path: &Path) -> anyhow::Result<Company> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let c: SeedCompany =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"_.-@+=".contains(&b);
    if c.id.is_empty() || c.id.len() > 128 || !c.id.bytes().all(plain) {
        anyhow::bail!("company id {:?}: 1 to 128 of A-Z a-z 0-9 _ . - @ + =", c.id);
    }
    if c.name.trim().is_empty() || c.email.trim().is_empty() {
        anyhow::bail!("company {}: name and email must not be blank", c.id);
    }
    if let Some(conn) = &c.connection {
        conn.check_transport(c.integration)
            .with_context(|| format!("company {}", c.id))?;
    }
    Ok(c.to_company())
}

fn key_json(k: &ApiKey) -> Value {
    json!({"id": k.id, "created_at": k.created_at})
}

/// A company as an operator sees it: no secret, no key digest; which
/// secret fields are set, by name.
pub fn company_json(c: &Company) -> Value {
    let (public, secrets) = c.split_secrets();
    let set: Vec<&str> = [
        ("webhook_secret", &secrets.webhook_secret),
        ("access_token", &secrets.access_token),
        ("consumer_key", &secrets.consumer_key),
        ("consumer_secret", &secrets.consumer_secret),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(n, _)| n)
    .collect();
    json!({
        "id": public.id,
        "name": public.name,
        "role": public.role,
        "integration": public.integration,
        "email": public.email,
        "connection": public.connection,
        "secrets": set,
        "api_keys": public.api_keys.iter().map(key_json).collect::<Vec<_>>(),
    })
}

pub async fn add<S: Store>(app: &AdminService<S>, file: &Path) -> anyhow::Result<Report> {
    let c = read_company(file)?;
    app.add_company(&c).await?;
    Ok(Report {
        json: json!({"id": c.id, "added": true}),
        text: format!("added company {}", c.id),
    })
}

pub async fn update<S: Store>(app: &AdminService<S>, file: &Path) -> anyhow::Result<Report> {
    let c = read_company(file)?;
    app.update_company(&c).await?;
    Ok(Report {
        json: json!({"id": c.id, "updated": true}),
        text: format!("updated company {} (its API keys are kept)", c.id),
    })
}

pub async fn list<S: Store>(app: &AdminService<S>) -> anyhow::Result<Report> {
    let all = app.companies().await?;
    let mut text = String::new();
    for c in &all {
        text.push_str(&format!(
            "{:<20} {:<7} {:<12} {:<32} {} key(s){}\n",
            c.id,
            c.role.as_str(),
            c.integration.as_str(),
            c.name,
            c.api_keys.len(),
            if c.connection.is_some() {
                ", store connected"
            } else {
                ""
            }
        ));
    }
    let rows: Vec<Value> = all
        .iter()
        .map(|c| {
            json!({"id": c.id, "name": c.name, "role": c.role, "integration": c.integration,
                   "email": c.email, "connected": c.connection.is_some(), "keys": c.api_keys.len()})
        })
        .collect();
    Ok(Report {
        json: json!({ "companies": rows }),
        text,
    })
}

pub async fn show<S: Store>(app: &AdminService<S>, id: &str) -> anyhow::Result<Report> {
    let c = app.company_record(id).await?;
    let json = company_json(&c);
    let text = serde_json::to_string_pretty(&json)?;
    Ok(Report { json, text })
}

pub async fn create_key<S: Store>(
    app: &AdminService<S>,
    company_id: &str,
) -> anyhow::Result<Report> {
    let new = app.create_key(company_id).await?;
    Ok(Report {
        json: json!({"id": new.key.id, "key": new.secret, "company_id": company_id}),
        text: format!(
            "created {} for {company_id}; the key (shown this once, only its SHA-256 is kept):\n{}",
            new.key.id, new.secret
        ),
    })
}

pub async fn list_keys<S: Store>(
    app: &AdminService<S>,
    company_id: &str,
) -> anyhow::Result<Report> {
    let c = app.company_record(company_id).await?;
    let mut text = String::new();
    for k in &c.api_keys {
        let when = k
            .created_at
            .map_or_else(|| "from a seed file".to_owned(), |t| t.to_rfc3339());
        text.push_str(&format!("{}  {when}\n", k.id));
    }
    Ok(Report {
        json: json!({"company_id": company_id,
                     "keys": c.api_keys.iter().map(key_json).collect::<Vec<_>>()}),
        text,
    })
}

pub async fn revoke_key<S: Store>(
    app: &AdminService<S>,
    company_id: &str,
    key_id: &str,
) -> anyhow::Result<Report> {
    let k = app.revoke_key(company_id, key_id).await?;
    Ok(Report {
        json: json!({"company_id": company_id, "id": k.id, "revoked": true}),
        text: format!(
            "revoked {} of {company_id}: it is refused from now on",
            k.id
        ),
    })
}

/// A ledger record as an operator reads it.
fn entry_json(e: &service::ledger::LedgerEntry) -> Value {
    use service::ledger::{LedgerStatus, Outcome};
    let status = match (e.status, e.outcome) {
        (LedgerStatus::Completed, Some(Outcome::Failed)) => "failed",
        (LedgerStatus::Completed, _) => "sent",
        (LedgerStatus::InProgress, _) => "pending",
    };
    let reason = match status {
        "failed" => e.detail.as_deref(),
        "pending" => e.last_error.as_deref(),
        _ => None,
    };
    json!({"cancellation_id": e.cancellation_id, "order_id": e.order_id,
           "channel": e.channel.as_str(), "endpoint_id": e.endpoint_id,
           "status": status, "attempts": e.attempts,
           "updated_at": e.updated_at, "reason": reason})
}

fn is_failed(e: &service::ledger::LedgerEntry) -> bool {
    e.status == service::ledger::LedgerStatus::Completed
        && e.outcome == Some(service::ledger::Outcome::Failed)
}

/// The most overdue EDI documents `notifications list` shows.
pub const OVERDUE_LISTED: usize = 1000;

/// An EDI document overdue for its 997, as an operator reads it: failed
/// in all but name (the hourly check records it so; a retry re-sends it).
fn overdue_json(d: &service::edi::SentDocument) -> Value {
    json!({"cancellation_id": d.cancellation_id, "order_id": d.order_id,
           "channel": d.ledger_key().channel.as_str(), "endpoint_id": null,
           "status": "overdue", "attempts": d.attempt,
           "updated_at": d.sent_at,
           "reason": format!("X12 {} {:09} sent, no 997 yet", d.set, d.control_number)})
}

/// `dropship notifications list [--failed] [--since T]`: ledger records,
/// then EDI documents whose 997 is overdue (listed with `--failed` too).
pub async fn list_notifications<L: service::ledger::Ledger>(
    ledger: &L,
    overdue: &[service::edi::SentDocument],
    failed_only: bool,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<Report> {
    let since = since.unwrap_or(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH);
    let entries: Vec<_> = ledger
        .entries_since(since)
        .await?
        .into_iter()
        .filter(|e| !failed_only || is_failed(e))
        .collect();
    let mut rows: Vec<Value> = entries.iter().map(entry_json).collect();
    rows.extend(overdue.iter().map(overdue_json));
    let mut text = String::new();
    for r in &rows {
        text.push_str(&format!(
            "{} {:<10} {:<8} {} attempt(s)  {}  {}\n",
            r["cancellation_id"].as_str().unwrap_or_default(),
            r["channel"].as_str().unwrap_or_default(),
            r["status"].as_str().unwrap_or_default(),
            r["attempts"],
            r["updated_at"].as_str().unwrap_or_default(),
            r["reason"].as_str().unwrap_or_default(),
        ));
    }
    Ok(Report {
        json: json!({ "notifications": rows }),
        text,
    })
}

fn report_json(cancellation_id: &str, r: &service::notify::Report) -> Value {
    let mut channels = serde_json::Map::new();
    for (ch, result) in r.summary() {
        channels.insert(ch.as_str().into(), result.into());
    }
    json!({"cancellation_id": cancellation_id, "channels": channels})
}

/// `dropship notifications retry CANCELLATION_ID [--channel NAME]`.
pub async fn retry<S, M, Y>(
    n: &service::notify::Notifier<S, M, Y>,
    cancellation_id: &str,
    channel: Option<service::ledger::Channel>,
) -> anyhow::Result<Report>
where
    S: Store + service::ledger::Ledger + service::events::WebhookStore,
    M: service::email::Mailer,
    Y: service::sync::StoreSync,
{
    let r = n.retry(cancellation_id, channel).await?;
    let json = report_json(cancellation_id, &r);
    let text = format!("{cancellation_id}: {}", json["channels"]);
    Ok(Report { json, text })
}

/// `dropship notifications sweep --since T`.
pub async fn sweep<S, M, Y>(
    n: &service::notify::Notifier<S, M, Y>,
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Report>
where
    S: Store + service::ledger::Ledger + service::events::WebhookStore,
    M: service::email::Mailer,
    Y: service::sync::StoreSync,
{
    let mut rows = Vec::new();
    let mut text = String::new();
    for (c, r) in n.sweep(since).await? {
        let row = match &r {
            Ok(report) => report_json(&c.id, report),
            Err(e) => json!({"cancellation_id": c.id, "error": e.to_string()}),
        };
        text.push_str(&format!(
            "{}: {}\n",
            c.id,
            match &r {
                Ok(_) => row["channels"].to_string(),
                Err(e) => format!("not done, run the sweep again: {e}"),
            }
        ));
        rows.push(row);
    }
    Ok(Report {
        json: json!({"since": since, "cancellations": rows}),
        text,
    })
}

/// `dropship report cancellations`: every company pair's scorecard over the
/// last `days` days; JSON as `GET /v1/scorecard` answers, one document per
/// company, or a line per pair.
pub async fn report_cancellations<S: service::store::Orders>(
    app: &AdminService<S>,
    days: u32,
) -> anyhow::Result<Report> {
    use domain::scorecard::Window;
    use handlers::scorecard::ScorecardView;
    let window = Window::of_days(days)
        .ok_or_else(|| anyhow::anyhow!("--days must be 7, 30 or 90, got {days}"))?;
    let cards = app.scorecards(window).await?;
    let views: Vec<ScorecardView<'_>> = cards.iter().map(ScorecardView::of).collect();
    let mut text = format!(
        "{:<20} {:<20} {:>7} {:>9} {:>7} {:>8} {:>7} {:>7}  top reason\n",
        "company", "partner", "orders", "cancelled", "units", "cancelled", "buyer", "seller"
    );
    for card in &cards {
        for p in &card.partners {
            let t = &p.totals;
            let top = domain::ReasonCode::ALL
                .into_iter()
                .filter(|c| t.reason(*c) > 0)
                .max_by_key(|c| t.reason(*c))
                .map(|c| format!("{} ({})", c.label(), t.reason(c)))
                .unwrap_or_else(|| "-".into());
            text.push_str(&format!(
                "{:<20} {:<20} {:>7} {:>9} {:>7} {:>8} {:>7} {:>7}  {top}\n",
                card.company_id,
                p.partner_id,
                t.orders,
                format!(
                    "{} {}",
                    t.orders_cancelled,
                    rate(t.orders_cancelled, t.orders)
                ),
                t.units,
                format!("{} {}", t.units_cancelled, rate(t.units_cancelled, t.units)),
                t.by_buyer,
                t.by_seller,
            ));
        }
    }
    if cards.is_empty() {
        text.push_str(&format!("no orders in the last {days} days\n"));
    }
    Ok(Report {
        json: serde_json::to_value(&views)?,
        text,
    })
}

/// A share as a whole percentage, or a dash when there is nothing to share.
fn rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let pct = (part as f64) * 100.0 / (whole as f64);
    format!("{pct:.0}%")
}
