use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dropship::DEMO_SEED;
use dropship::connect;
use dropship::server::{Host, Limits, serve};
use dynamodb::DynamoStore;
use local::seed::{self, SeedFile};
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::HttpPlatformReader;
use platforms::client::PlatformHttp;
use secretsmanager::SecretsManager;
use service::app::App;
use service::secrets::WithSecrets;
use service::store::Store;
use sqlite::EmbeddedStore;
use tokio::net::TcpListener;

/// Local stand-in for the order-cancellation service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on 127.0.0.1 with an embedded, persistent store.
    Serve {
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
        #[arg(long, default_value = ".dropship")]
        data_dir: PathBuf,
        /// Seed file applied at start (idempotent).
        #[arg(long)]
        seed: Option<PathBuf>,
        /// Use this DynamoDB table (standard AWS environment, AWS_ENDPOINT_URL
        /// included) instead of the embedded store.
        #[arg(long, env = "DROPSHIP_DYNAMODB_TABLE")]
        dynamodb_table: Option<String>,
        /// With --dynamodb-table: the companies' secrets are the Secrets
        /// Manager secrets named by this prefix and the company id.
        #[arg(long, env = "SECRETS_PREFIX", default_value = LOCAL_SECRETS_PREFIX)]
        secrets_prefix: String,
        /// `From` of notification emails (written to <data-dir>/outbox/).
        #[arg(long, env = "SENDER_EMAIL", default_value = service::notify::DEFAULT_LOCAL_SENDER)]
        sender_email: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Apply a seed file to the store (idempotent).
    Seed {
        file: PathBuf,
        #[arg(long, default_value = ".dropship")]
        data_dir: PathBuf,
        /// Seed this DynamoDB table instead of the embedded store; the
        /// companies' secrets go to Secrets Manager, never to the table.
        #[arg(long, env = "DROPSHIP_DYNAMODB_TABLE")]
        dynamodb_table: Option<String>,
        /// With --dynamodb-table: the secrets' name prefix (a stack's is its
        /// `SecretsPrefix` output, `dropship/<stack name>/companies/`).
        #[arg(long, env = "SECRETS_PREFIX", default_value = LOCAL_SECRETS_PREFIX)]
        secrets_prefix: String,
    },
    /// Register the company's store webhooks pointing at BASE_URL (idempotent).
    Connect(connect::ConnectArgs),
    /// Remove our webhooks (those under BASE_URL) from the company's store.
    Disconnect(connect::DisconnectArgs),
}

/// The secrets' name prefix when none is given (a local endpoint).
const LOCAL_SECRETS_PREFIX: &str = "dropship/local/companies/";

/// Limits on slow or many clients (see `server::Limits`).
#[derive(clap::Args)]
struct LimitArgs {
    /// Seconds a connection may take to send a request's headers, counted
    /// from when it opens or its last response went out (idle keep-alive).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = seconds)]
    header_timeout: f64,
    /// Seconds a request may take to send its body; then 408.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = seconds)]
    body_timeout: f64,
    /// Connections served at once; more wait until one ends.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: std::time::Duration::from_secs_f64(self.header_timeout),
            body_read_timeout: std::time::Duration::from_secs_f64(self.body_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

fn read_seed(path: &Path) -> anyhow::Result<SeedFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SeedFile::parse(&text).with_context(|| format!("parsing {}", path.display()))
}

fn print_keys(seed: &SeedFile) {
    println!("Demo companies and their API keys:");
    for c in &seed.companies {
        for key in &c.api_keys {
            println!(
                "  {:<16} {:<7} {:<12} {key}",
                c.id,
                c.role.as_str(),
                c.integration.as_str()
            );
        }
    }
}

/// The DynamoDB store with the companies' secrets in Secrets Manager;
/// against a local endpoint a missing table is created with the stack's
/// schema, against real AWS it must exist (the stack owns it).
async fn dynamodb(
    table: &str,
    secrets_prefix: &str,
) -> anyhow::Result<WithSecrets<DynamoStore, SecretsManager>> {
    let sdk = aws::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|e| !e.is_empty()) {
        store
            .ensure_table()
            .await
            .with_context(|| format!("creating table {table} at the local endpoint"))?;
    }
    let secrets = SecretsManager::on_first_use(&sdk, secrets_prefix);
    Ok(WithSecrets::new(store, secrets))
}

async fn seed_into<S: Store>(store: &S, file: &Path) -> anyhow::Result<()> {
    let seed = read_seed(file)?;
    let report = seed::apply(store, &seed).await?;
    println!(
        "seeded {} companies; {} orders created, {} already present",
        report.companies, report.orders_created, report.orders_existing
    );
    Ok(())
}

/// Apply the given seed, or the demo seed to a fresh store; then serve.
async fn run<S: Store>(
    store: S,
    port: u16,
    limits: Limits,
    seed: Option<PathBuf>,
    fresh: bool,
    data: String,
    background: impl FnOnce(tokio::sync::watch::Receiver<bool>),
) -> anyhow::Result<()> {
    match seed {
        Some(path) => {
            let s = read_seed(&path)?;
            let r = seed::apply(&store, &s).await?;
            println!(
                "applied {}: {} companies, {} new orders",
                path.display(),
                r.companies,
                r.orders_created
            );
        }
        None if fresh => {
            let s = SeedFile::parse(DEMO_SEED)?;
            seed::apply(&store, &s).await?;
            print_keys(&s);
        }
        None => {}
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    println!(
        "dropship serving http://{} ({data})",
        listener.local_addr()?
    );
    let host = Arc::new(Host {
        app: App::new(store).with_platform_reader(HttpPlatformReader::default()),
    });
    let (tx, rx) = tokio::sync::watch::channel(false);
    background(rx.clone());
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    serve(listener, host, limits, rx).await?;
    Ok(())
}

/// `dropship serve --dynamodb-table`: the handlers over a DynamoDB table.
async fn serve_dynamodb(
    table: &str,
    secrets_prefix: &str,
    port: u16,
    limits: Limits,
    seed: Option<PathBuf>,
) -> anyhow::Result<()> {
    let store = dynamodb(table, secrets_prefix).await?;
    if seed.is_none() {
        println!(
            "using DynamoDB table {table}; seed it with --seed FILE or `dropship seed FILE --dynamodb-table {table}`"
        );
    }
    // In AWS the notifier Lambda reads the table's stream; locally on
    // DynamoDB there is no outbox to drain.
    println!(
        "notifications are not sent locally on DynamoDB: the notifier function reads the table's stream"
    );
    let data = format!("DynamoDB table {table}");
    run(store, port, limits, seed, false, data, |_| {}).await
}

/// `dropship serve`: the handlers over the embedded store, with the
/// notifier in-process over the store's outbox.
async fn serve_embedded(
    data_dir: &Path,
    port: u16,
    limits: Limits,
    seed: Option<PathBuf>,
    sender_email: &str,
) -> anyhow::Result<()> {
    let fresh = !data_dir.join("dropship.sqlite3").exists();
    let store = EmbeddedStore::open_dir(data_dir)?;
    let outbox = data_dir.join("outbox");
    println!("notification emails are written to {}", outbox.display());
    let worker = OutboxWorker::new(local_notifier(
        store.clone(),
        &outbox,
        sender_email,
        PlatformHttp::default(),
    ));
    let data = format!("data in {}", data_dir.display());
    run(store, port, limits, seed, fresh, data, move |shutdown| {
        tokio::spawn(worker.run(shutdown));
    })
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Connect(args) => connect::connect(args).await?,
        Command::Disconnect(args) => connect::disconnect(args).await?,
        Command::Seed {
            file,
            dynamodb_table: Some(table),
            secrets_prefix,
            ..
        } => {
            seed_into(&dynamodb(&table, &secrets_prefix).await?, &file).await?;
        }
        Command::Seed {
            file,
            data_dir,
            dynamodb_table: None,
            ..
        } => {
            seed_into(&EmbeddedStore::open_dir(&data_dir)?, &file).await?;
        }
        Command::Serve {
            port,
            seed,
            dynamodb_table: Some(table),
            secrets_prefix,
            limits,
            ..
        } => serve_dynamodb(&table, &secrets_prefix, port, limits.limits(), seed).await?,
        Command::Serve {
            port,
            data_dir,
            seed,
            dynamodb_table: None,
            sender_email,
            limits,
            ..
        } => serve_embedded(&data_dir, port, limits.limits(), seed, &sender_email).await?,
    }
    Ok(())
}
