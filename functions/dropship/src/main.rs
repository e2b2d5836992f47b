use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dropship::DEMO_SEED;
use dropship::server::{Host, serve};
use shared::app::App;
use shared::notify::local::{OutboxWorker, local_notifier};
use shared::platforms::PlatformHttp;
use shared::seed::{self, SeedFile};
use shared::store::embedded::EmbeddedStore;
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
        /// `From` of notification emails (written to <data-dir>/outbox/).
        #[arg(long, env = "SENDER_EMAIL", default_value = shared::notify::DEFAULT_LOCAL_SENDER)]
        sender_email: String,
    },
    /// Apply a seed file to the store (idempotent).
    Seed {
        file: PathBuf,
        #[arg(long, default_value = ".dropship")]
        data_dir: PathBuf,
    },
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Seed { file, data_dir } => {
            let seed = read_seed(&file)?;
            let store = EmbeddedStore::open_dir(&data_dir)?;
            let report = seed::apply(&store, &seed).await?;
            println!(
                "seeded {} companies; {} orders created, {} already present",
                report.companies, report.orders_created, report.orders_existing
            );
        }
        Command::Serve {
            port,
            data_dir,
            seed,
            sender_email,
        } => {
            let fresh = !data_dir.join("dropship.sqlite3").exists();
            let store = EmbeddedStore::open_dir(&data_dir)?;
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
            println!(
                "notification emails are written to {}",
                data_dir.join("outbox").display()
            );
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            println!(
                "dropship serving http://{} (data in {})",
                listener.local_addr()?,
                data_dir.display()
            );
            // The notifier, in-process over the store's outbox.
            let worker = OutboxWorker::new(local_notifier(
                store.clone(),
                &data_dir.join("outbox"),
                &sender_email,
                PlatformHttp::default(),
            ));
            let host = Arc::new(Host {
                app: App::new(store),
            });
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(worker.run(rx.clone()));
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down");
                let _ = tx.send(true);
            });
            serve(listener, host, rx).await?;
        }
    }
    Ok(())
}
