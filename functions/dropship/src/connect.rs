//! `dropship connect` and `dropship disconnect`: the company's platform
//! webhooks (`platforms::registration`), with the company read through the
//! store as `seed` opens it, so its connection's secrets are filled in.
//! Nothing printed holds a secret or a key.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use domain::{Company, Connection, Integration};
use dynamodb::DynamoStore;
use platforms::client::PlatformHttp;
use platforms::client::registration::{self, Target};
use platforms::registration::{Command, Platform, Report, State, base, redact};
use secretsmanager::SecretsManager;
use service::secrets::WithSecrets;
use service::store::Companies;
use sqlite::EmbeddedStore;

use crate::LOCAL_SECRETS_PREFIX;

/// Where the company is read from: as `dropship seed` writes it.
#[derive(clap::Args, Debug)]
pub struct StoreArgs {
    /// The embedded store's data directory.
    #[arg(long, default_value = ".dropship")]
    pub data_dir: PathBuf,
    /// Read the company from this DynamoDB table instead (standard AWS
    /// environment, AWS_ENDPOINT_URL included).
    #[arg(long, env = "DROPSHIP_DYNAMODB_TABLE")]
    pub dynamodb_table: Option<String>,
    /// With --dynamodb-table: the secrets' name prefix (a stack's is its
    /// `SecretsPrefix` output).
    #[arg(long, env = "SECRETS_PREFIX", default_value = LOCAL_SECRETS_PREFIX)]
    pub secrets_prefix: String,
}

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// The company whose store is connected.
    pub company: String,
    /// The base URL the webhooks point at: the stack's `ApiUrl`, or
    /// http://127.0.0.1:3000/ locally.
    #[arg(long = "url", value_name = "BASE_URL")]
    pub url: String,
    /// Report what is registered, missing, wrong or extra, and change
    /// nothing; fails unless everything is in place.
    #[arg(long)]
    pub check: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(clap::Args, Debug)]
pub struct DisconnectArgs {
    /// The company whose store is disconnected.
    pub company: String,
    /// Our webhooks are those whose address is under this base URL.
    #[arg(long = "url", value_name = "BASE_URL")]
    pub url: String,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `dropship connect [--check]`.
pub async fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    let command = if args.check {
        Command::Check
    } else {
        Command::Connect
    };
    run(command, &args.company, &args.url, args.json, &args.store).await
}

/// `dropship disconnect`.
pub async fn disconnect(args: DisconnectArgs) -> anyhow::Result<()> {
    run(
        Command::Disconnect,
        &args.company,
        &args.url,
        args.json,
        &args.store,
    )
    .await
}

async fn run(
    command: Command,
    company_id: &str,
    url: &str,
    json: bool,
    store: &StoreArgs,
) -> anyhow::Result<()> {
    let base = base(url)?;
    let company = read_company(store, company_id).await?;
    let (platform, connection) = target(&company)?;
    let secrets: Vec<&str> = [
        &connection.webhook_secret,
        &connection.access_token,
        &connection.consumer_key,
        &connection.consumer_secret,
    ]
    .into_iter()
    .filter_map(|s| s.as_deref())
    .collect();
    let target = Target {
        platform,
        company_id: &company.id,
        connection,
    };
    let report = registration::run(&PlatformHttp::default(), command, &target, &base)
        .await
        .map_err(|e| anyhow!(printable(&redact(&e.to_string(), &secrets))))?;
    if json {
        // JSON escapes every control character itself.
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    if command == Command::Check && !report.connected {
        bail!(
            "company {}'s webhooks are not in place: {} missing, {} wrong, {} extra",
            report.company_id,
            report.count(State::Missing),
            report.count(State::Wrong),
            report.count(State::Extra)
        );
    }
    Ok(())
}

async fn read_company(store: &StoreArgs, id: &str) -> anyhow::Result<Company> {
    let (found, place) = match &store.dynamodb_table {
        Some(table) => {
            let sdk = aws::sdk_config(crate::settings()).await;
            let s = WithSecrets::new(
                DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table),
                SecretsManager::on_first_use(&sdk, store.secrets_prefix.as_str()),
            );
            let place = format!("DynamoDB table {table}");
            let found = s
                .company(id)
                .await
                .with_context(|| format!("reading company {id:?} from {place}"))?;
            (found, place)
        }
        None => {
            let dir = &store.data_dir;
            if !dir.join("dropship.sqlite3").exists() {
                bail!(
                    "no store in {} (`dropship seed FILE --data-dir {0}` makes one)",
                    dir.display()
                );
            }
            let place = format!("the store in {}", dir.display());
            let found = EmbeddedStore::open_dir(dir)?
                .company(id)
                .await
                .with_context(|| format!("reading company {id:?} from {place}"))?;
            (found, place)
        }
    };
    found.with_context(|| format!("no company {id:?} in {place}"))
}

fn target(c: &Company) -> anyhow::Result<(Platform, &Connection)> {
    let platform = match c.integration {
        Integration::Store(p) => p,
        other @ (Integration::Api | Integration::Edi) => bail!(
            "company {} integrates by {}, not through a store platform: there is nothing to connect",
            c.id,
            other.as_str()
        ),
    };
    let connection = c.connection.as_ref().with_context(|| {
        format!(
            "company {} ({}) has no store connection: there is nothing to connect",
            c.id,
            c.integration.as_str()
        )
    })?;
    connection
        .check_transport(c.integration)
        .with_context(|| format!("company {}", c.id))?;
    Ok((platform, connection))
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Registered => "registered",
        State::Missing => "missing",
        State::Wrong => "wrong",
        State::Extra => "extra",
        State::Created => "created",
        State::Repaired => "repaired",
        State::Removed => "removed",
    }
}

/// `s` with control characters (escape sequences, CR, LF, ...) escaped:
/// a store's strings never steer the operator's terminal.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The report for a person: one line per webhook, its problems under it,
/// then a summary. Every string a store provided is `printable`.
pub fn text(r: &Report) -> String {
    let mut out = format!(
        "{} ({}), webhooks under {}:\n",
        r.company_id, r.platform, r.base_url
    );
    if let Some(d) = &r.api_drift {
        let _ = writeln!(
            out,
            "  warning: {}; docs/platforms.md says how to move to the next version",
            printable(&d.describe())
        );
    }
    if r.webhooks.is_empty() {
        out.push_str("  none of ours\n");
    }
    for e in &r.webhooks {
        let id =
            e.id.as_deref()
                .map(|i| format!("  (id {})", printable(i)))
                .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<10}  {:<27} {}{id}",
            state_word(e.state),
            printable(&e.topic),
            printable(&e.address)
        );
        for p in &e.problems {
            let _ = writeln!(out, "              - {}", printable(p));
        }
    }
    let others = match r.other_webhooks {
        0 => String::new(),
        1 => "1 other webhook of the store left alone. ".to_owned(),
        n => format!("{n} other webhooks of the store left alone. "),
    };
    let n = |s| r.count(s);
    let summary = match r.command {
        Command::Connect => format!(
            "Connected: {} created, {} repaired, {} removed, {} already registered.",
            n(State::Created),
            n(State::Repaired),
            n(State::Removed),
            n(State::Registered)
        ),
        Command::Check if r.connected => {
            format!("In place: {} registered.", n(State::Registered))
        }
        Command::Check => format!(
            "Not in place: {} missing, {} wrong, {} extra; `dropship connect` creates, repairs and removes them.",
            n(State::Missing),
            n(State::Wrong),
            n(State::Extra)
        ),
        Command::Disconnect => format!("Disconnected: {} removed.", n(State::Removed)),
    };
    let _ = writeln!(out, "{others}{summary}");
    out
}
