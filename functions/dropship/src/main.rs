use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dropship::connect;
use dropship::server::{Host, Limits, serve};
use dropship::{DEMO_SEED, LOCAL_SECRETS_PREFIX, settings};
use dynamodb::DynamoStore;
use handlers::api::Api;
use local::seed::{self, SeedFile};
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::HttpPlatformReader;
use platforms::client::PlatformHttp;
use secretsmanager::SecretsManager;
use service::admin::AdminService;
use service::app::OrdersService;
use service::notify::Notifier;
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
        /// Let webhook endpoints use `http` and loopback addresses (local
        /// receivers and tests only; a deployed stack never allows them).
        #[arg(
            long,
            env = "DROPSHIP_ALLOW_INSECURE_WEBHOOK_URLS",
            action = clap::ArgAction::SetTrue,
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        allow_insecure_webhook_urls: bool,
        /// Our X12 interchange id (qualifier ZZ) in EDI documents.
        #[arg(long, env = "DROPSHIP_ISA_ID", default_value = "DROPSHIP")]
        isa_id: String,
        /// With --dynamodb-table (required there): the stack's delivery
        /// queue (its `WebhookDeliveryQueueUrl` output), where the API's
        /// endpoint tests queue their pings.
        #[arg(long, env = "WEBHOOK_QUEUE_URL")]
        webhook_queue_url: Option<String>,
        /// With --dynamodb-table: the signing key's secret, by default the
        /// one beside --secrets-prefix (`dropship/<stack>/webhook-signing-key`).
        #[arg(long, env = "WEBHOOK_SIGNING_KEY")]
        webhook_signing_key: Option<String>,
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
    /// Companies: add, update, list, show (secrets never printed).
    Companies {
        #[command(subcommand)]
        cmd: CompaniesCmd,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// API keys: create (printed once), list, revoke.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// Notifications: list (the failed ones), retry one, sweep since a time.
    Notifications {
        #[command(subcommand)]
        cmd: NotificationsCmd,
        #[command(flatten)]
        target: StoreArgs,
        /// `From` of the emails sent (on a stack: its SenderEmail).
        #[arg(long, global = true, env = "SENDER_EMAIL", default_value = service::notify::DEFAULT_LOCAL_SENDER)]
        sender_email: String,
        #[command(flatten)]
        edi: EdiArgs,
        #[command(flatten)]
        webhooks: WebhookArgs,
    },
    /// Reports over every company (operators).
    Report {
        #[command(subcommand)]
        cmd: ReportCmd,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// Register the company's store webhooks pointing at BASE_URL (idempotent).
    Connect(connect::ConnectArgs),
    /// Remove our webhooks (those under BASE_URL) from the company's store.
    Disconnect(connect::DisconnectArgs),
}

/// Where an operator's re-drive sends EDI documents from and to.
#[derive(clap::Args)]
struct EdiArgs {
    /// Our X12 interchange id (qualifier ZZ), as `serve` and the stack use.
    #[arg(
        long,
        global = true,
        env = "DROPSHIP_ISA_ID",
        default_value = "DROPSHIP"
    )]
    isa_id: String,
    /// With --dynamodb-table: the stack's EDI bucket (its `EdiBucketName`
    /// output); without it EDI documents are not re-sent.
    #[arg(long, global = true, env = "EDI_BUCKET")]
    edi_bucket: Option<String>,
}

/// Where an operator's re-drive queues event deliveries on a stack (the
/// running `dropship serve` delivers them locally).
#[derive(clap::Args)]
struct WebhookArgs {
    /// With --dynamodb-table: the stack's delivery queue (its
    /// `WebhookDeliveryQueueUrl` output); without it no event is queued.
    #[arg(long, global = true, env = "WEBHOOK_QUEUE_URL")]
    webhook_queue_url: Option<String>,
    /// With --dynamodb-table: the signing key's secret, by default the one
    /// beside --secrets-prefix (`dropship/<stack>/webhook-signing-key`).
    #[arg(long, global = true, env = "WEBHOOK_SIGNING_KEY")]
    webhook_signing_key: Option<String>,
    #[arg(
        long,
        global = true,
        env = "DROPSHIP_ALLOW_INSECURE_WEBHOOK_URLS",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    allow_insecure_webhook_urls: bool,
}

impl WebhookArgs {
    fn policy(&self) -> domain::events::UrlPolicy {
        domain::events::UrlPolicy {
            allow_insecure: self.allow_insecure_webhook_urls,
        }
    }

    /// The stack's delivery ports, when its queue is named.
    fn stack_ports(
        &self,
        sdk: &aws::SdkConfig,
        secrets_prefix: &str,
    ) -> anyhow::Result<Option<service::events::DeliveryPorts>> {
        let Some(queue_url) = &self.webhook_queue_url else {
            return Ok(None);
        };
        let key = signing_key_name(self.webhook_signing_key.as_deref(), secrets_prefix)?;
        let policy = self.policy();
        Ok(Some(service::events::DeliveryPorts {
            policy,
            sender: std::sync::Arc::new(
                event_sender::HttpSender::new(policy).map_err(anyhow::Error::msg)?,
            ),
            keys: std::sync::Arc::new(secretsmanager::SigningKeySecret::on_first_use(sdk, &key)),
            queue: std::sync::Arc::new(sqs::SqsQueue::on_first_use(sdk, queue_url)),
        }))
    }
}

/// The signing key's secret: the one given, else the stack's beside its
/// companies' secrets.
fn signing_key_name(given: Option<&str>, secrets_prefix: &str) -> anyhow::Result<String> {
    match given {
        Some(k) => Ok(k.to_owned()),
        None => Ok(format!(
            "{}webhook-signing-key",
            secrets_prefix.strip_suffix("companies/").ok_or_else(|| anyhow::anyhow!(
                "--webhook-signing-key: none given, and --secrets-prefix {secrets_prefix:?} is not a stack's"
            ))?
        )),
    }
}

/// Which store an operator command works on: the embedded one under
/// `--data-dir`, or a DynamoDB table with its secrets in Secrets Manager.
#[derive(clap::Args)]
struct StoreArgs {
    #[arg(long, global = true, default_value = ".dropship")]
    data_dir: PathBuf,
    #[arg(long, global = true, env = "DROPSHIP_DYNAMODB_TABLE")]
    dynamodb_table: Option<String>,
    #[arg(long, global = true, env = "SECRETS_PREFIX", default_value = LOCAL_SECRETS_PREFIX)]
    secrets_prefix: String,
    /// One JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum CompaniesCmd {
    /// Add the company in FILE (one Company object as in a seed file).
    Add {
        file: PathBuf,
    },
    /// Update a company from FILE; its API keys are kept, listed ones added.
    Update {
        file: PathBuf,
    },
    List,
    Show {
        id: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// A new API key for COMPANY, printed once.
    Create { company: String },
    /// The company's keys: ids and creation times.
    List { company: String },
    /// Refuse the key from now on.
    Revoke { company: String, key_id: String },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// Every company pair's cancellation scorecard: orders and units
    /// created in the window, and how many were cancelled, by whom and why.
    Cancellations {
        /// The window: 7, 30 or 90 days ending today (UTC).
        #[arg(long, default_value_t = 30, value_parser = window_days)]
        days: u32,
    },
}

fn window_days(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|d| domain::scorecard::Window::of_days(*d).is_some())
        .ok_or_else(|| format!("{s:?}: one of 7, 30, 90"))
}

#[derive(Subcommand)]
enum NotificationsCmd {
    /// Notification records, newest last: all, or only those failed for good.
    List {
        #[arg(long)]
        failed: bool,
        #[arg(long, value_name = "RFC3339")]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Send a cancellation's failed notifications again (sent ones never).
    Retry {
        cancellation_id: String,
        #[arg(long, value_parser = channel)]
        channel: Option<service::ledger::Channel>,
    },
    /// Notify every cancellation since T on each channel not done yet.
    Sweep {
        #[arg(long, value_name = "RFC3339")]
        since: chrono::DateTime<chrono::Utc>,
    },
}

fn channel(s: &str) -> Result<service::ledger::Channel, String> {
    let all = service::ledger::Channel::ALL;
    all.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        format!("{s:?}: one of {}", names.join(", "))
    })
}

enum Ops {
    Companies(CompaniesCmd),
    Keys(KeysCmd),
    Report(ReportCmd),
}

async fn run_notifications<S, M, Y>(
    n: Notifier<S, M, Y>,
    cmd: NotificationsCmd,
    json: bool,
) -> anyhow::Result<()>
where
    S: Store + service::ledger::Ledger + service::events::WebhookStore,
    M: service::email::Mailer,
    Y: service::sync::StoreSync,
{
    use dropship::ops;
    let report = match cmd {
        NotificationsCmd::List { failed, since } => {
            let overdue = n.overdue_documents(ops::OVERDUE_LISTED).await?;
            ops::list_notifications(&n.store, &overdue, failed, since).await?
        }
        NotificationsCmd::Retry {
            cancellation_id,
            channel,
        } => ops::retry(&n, &cancellation_id, channel).await?,
        NotificationsCmd::Sweep { since } => ops::sweep(&n, since).await?,
    };
    report.print(json);
    Ok(())
}

/// The notifier an operator's re-drive runs: on a stack's table SES and the
/// platforms, as the notifier function does; locally the outbox.
async fn notifications(
    target: StoreArgs,
    sender_email: String,
    edi_args: EdiArgs,
    webhook_args: WebhookArgs,
    cmd: NotificationsCmd,
) -> anyhow::Result<()> {
    let our_id = edi::IsaId::new("ZZ", &edi_args.isa_id)
        .map_err(|e| anyhow::anyhow!("DROPSHIP_ISA_ID {:?}: {e}", edi_args.isa_id))?;
    match &target.dynamodb_table {
        Some(table) => {
            let sdk = aws::sdk_config(settings()).await;
            let store = WithSecrets::cached(
                DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table),
                SecretsManager::on_first_use(&sdk, &target.secrets_prefix),
                service::CacheLimits::default(),
            );
            let table_store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
            let mut n = Notifier::new(
                store,
                ses::SesMailer::on_first_use(&sdk),
                email::Letters,
                platforms::client::HttpStoreSync::new(PlatformHttp::default()),
                service::notify::NotifierConfig::new(&sender_email),
            );
            if let Some(bucket) = &edi_args.edi_bucket {
                n = n.with_edi(service::edi::EdiPorts {
                    our_id,
                    numbers: std::sync::Arc::new(table_store.clone()),
                    outbox: std::sync::Arc::new(s3::S3Edi::on_first_use(&sdk, bucket)),
                    sent: std::sync::Arc::new(table_store),
                    ack_window: service::edi::DEFAULT_ACK_WINDOW,
                });
            }
            if let Some(ports) = webhook_args.stack_ports(&sdk, &target.secrets_prefix)? {
                n = n.with_webhooks(ports);
            }
            run_notifications(n, cmd, target.json).await
        }
        None => {
            let store = EmbeddedStore::open_dir(&target.data_dir)?;
            let outbox = target.data_dir.join("outbox");
            let edi_ports =
                local::edi::ports(&store, &local::edi::edi_dir(&target.data_dir), our_id);
            // Deliveries are queued in the store; `dropship serve` sends them.
            let key = local::events::signing_key(&target.data_dir).with_context(|| {
                format!(
                    "reading the webhook signing key in {}",
                    target.data_dir.display()
                )
            })?;
            let (_, delivery) = local::events::ports(&store, key, webhook_args.policy())
                .map_err(anyhow::Error::msg)?;
            let n = local_notifier(store, &outbox, &sender_email, PlatformHttp::default())
                .with_edi(edi_ports)
                .with_webhooks(delivery);
            run_notifications(n, cmd, target.json).await
        }
    }
}

async fn run_ops<S: Store>(app: AdminService<S>, ops: Ops, json: bool) -> anyhow::Result<()> {
    use dropship::ops;
    let report = match ops {
        Ops::Companies(CompaniesCmd::Add { file }) => ops::add(&app, &file).await?,
        Ops::Companies(CompaniesCmd::Update { file }) => ops::update(&app, &file).await?,
        Ops::Companies(CompaniesCmd::List) => ops::list(&app).await?,
        Ops::Companies(CompaniesCmd::Show { id }) => ops::show(&app, &id).await?,
        Ops::Keys(KeysCmd::Create { company }) => ops::create_key(&app, &company).await?,
        Ops::Keys(KeysCmd::List { company }) => ops::list_keys(&app, &company).await?,
        Ops::Keys(KeysCmd::Revoke { company, key_id }) => {
            ops::revoke_key(&app, &company, &key_id).await?
        }
        Ops::Report(ReportCmd::Cancellations { days }) => {
            ops::report_cancellations(&app, days).await?
        }
    };
    report.print(json);
    Ok(())
}

async fn operate(target: StoreArgs, ops: Ops) -> anyhow::Result<()> {
    match &target.dynamodb_table {
        Some(table) => {
            let store = dynamodb(table, &target.secrets_prefix).await?;
            run_ops(AdminService::new(store), ops, target.json).await
        }
        None => {
            let store = EmbeddedStore::open_dir(&target.data_dir)?;
            run_ops(AdminService::new(store), ops, target.json).await
        }
    }
}

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
    let sdk = aws::sdk_config(settings()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    if settings().endpoint_url.is_some() {
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
#[allow(clippy::too_many_arguments)]
async fn run<S: Store + service::events::WebhookStore>(
    store: S,
    port: u16,
    limits: Limits,
    seed: Option<PathBuf>,
    fresh: bool,
    data: String,
    webhooks: service::events::WebhookPorts,
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
    let app = OrdersService::new(store);
    let host = Arc::new(Host {
        intake: service::IntakeService::new(app.core(), HttpPlatformReader::default()),
        api: Api::new(app, webhooks),
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

/// What `serve --dynamodb-table` needs for the API's webhook endpoint
/// routes: the stack's delivery queue and signing key.
struct StackWebhooks {
    queue_url: Option<String>,
    signing_key: Option<String>,
    policy: domain::events::UrlPolicy,
}

impl StackWebhooks {
    async fn ports(self, secrets_prefix: &str) -> anyhow::Result<service::events::WebhookPorts> {
        let queue_url = self.queue_url.ok_or_else(|| {
            anyhow::anyhow!(
                "serve --dynamodb-table needs the stack's webhook delivery queue, where endpoint \
                 tests queue their pings: --webhook-queue-url or WEBHOOK_QUEUE_URL (the stack's \
                 WebhookDeliveryQueueUrl output)"
            )
        })?;
        let key = signing_key_name(self.signing_key.as_deref(), secrets_prefix)?;
        let sdk = aws::sdk_config(settings()).await;
        let policy = self.policy;
        Ok(service::events::WebhookPorts {
            policy,
            resolver: Arc::new(event_sender::PublicResolver { policy }),
            keys: Arc::new(secretsmanager::SigningKeySecret::on_first_use(&sdk, &key)),
            queue: Arc::new(sqs::SqsQueue::on_first_use(&sdk, &queue_url)),
        })
    }
}

/// `dropship serve --dynamodb-table`: the handlers over a DynamoDB table,
/// wired as the stack's API function is.
async fn serve_dynamodb(
    table: &str,
    secrets_prefix: &str,
    port: u16,
    limits: Limits,
    seed: Option<PathBuf>,
    webhooks: StackWebhooks,
) -> anyhow::Result<()> {
    let webhooks = webhooks.ports(secrets_prefix).await?;
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
    run(store, port, limits, seed, false, data, webhooks, |_| {}).await
}

/// `dropship serve`: the handlers over the embedded store, with the
/// notifier in-process over the store's outbox.
async fn serve_embedded(
    data_dir: &Path,
    port: u16,
    limits: Limits,
    seed: Option<PathBuf>,
    sender_email: &str,
    allow_insecure_webhook_urls: bool,
    isa_id: &str,
) -> anyhow::Result<()> {
    let fresh = !data_dir.join("dropship.sqlite3").exists();
    let store = EmbeddedStore::open_dir(data_dir)?;
    let outbox = data_dir.join("outbox");
    println!("notification emails are written to {}", outbox.display());
    let policy = domain::events::UrlPolicy {
        allow_insecure: allow_insecure_webhook_urls,
    };
    if policy.allow_insecure {
        println!(
            "webhook endpoints may use http and loopback addresses (--allow-insecure-webhook-urls)"
        );
    }
    let key = local::events::signing_key(data_dir)
        .with_context(|| format!("reading the webhook signing key in {}", data_dir.display()))?;
    let (api_hooks, delivery) =
        local::events::ports(&store, key, policy).map_err(anyhow::Error::msg)?;
    let our_id = edi::IsaId::new("ZZ", isa_id)
        .map_err(|e| anyhow::anyhow!("DROPSHIP_ISA_ID {isa_id:?}: {e}"))?;
    let edi_dir = local::edi::edi_dir(data_dir);
    let edi_ports = local::edi::ports(&store, &edi_dir, our_id);
    println!(
        "EDI files are read from {} and written to {}",
        edi_dir.join("inbound/<company>").display(),
        edi_dir.join("outbound/<company>").display()
    );
    let worker = OutboxWorker::new(
        local_notifier(
            store.clone(),
            &outbox,
            sender_email,
            PlatformHttp::default(),
        )
        .with_webhooks(delivery)
        .with_edi(edi_ports.clone()),
    );
    let watcher = local::edi::EdiWatcher::new(
        service::edi::EdiService::new(service::Core::new(store.clone()), edi_ports),
        &edi_dir,
    );
    let data = format!("data in {}", data_dir.display());
    run(
        store,
        port,
        limits,
        seed,
        fresh,
        data,
        api_hooks,
        move |shutdown| {
            tokio::spawn(worker.run(shutdown.clone()));
            tokio::spawn(watcher.run(shutdown));
        },
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Companies { cmd, target } => operate(target, Ops::Companies(cmd)).await?,
        Command::Keys { cmd, target } => operate(target, Ops::Keys(cmd)).await?,
        Command::Report { cmd, target } => operate(target, Ops::Report(cmd)).await?,
        Command::Notifications {
            cmd,
            target,
            sender_email,
            edi,
            webhooks,
        } => notifications(target, sender_email, edi, webhooks, cmd).await?,
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
            webhook_queue_url,
            webhook_signing_key,
            allow_insecure_webhook_urls,
            ..
        } => {
            let webhooks = StackWebhooks {
                queue_url: webhook_queue_url,
                signing_key: webhook_signing_key,
                policy: domain::events::UrlPolicy {
                    allow_insecure: allow_insecure_webhook_urls,
                },
            };
            let limits = limits.limits();
            serve_dynamodb(&table, &secrets_prefix, port, limits, seed, webhooks).await?
        }
        Command::Serve {
            port,
            data_dir,
            seed,
            dynamodb_table: None,
            sender_email,
            allow_insecure_webhook_urls,
            isa_id,
            limits,
            ..
        } => {
            serve_embedded(
                &data_dir,
                port,
                limits.limits(),
                seed,
                &sender_email,
                allow_insecure_webhook_urls,
                &isa_id,
            )
            .await?
        }
    }
    Ok(())
}
