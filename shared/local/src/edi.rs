//! EDI on a local run: `<data-dir>/edi/inbound/<company>/` is watched; each
//! file is processed once (`App::edi_interchange`), its 997 written to
//! `<data-dir>/edi/outbound/<company>/`, and the file moved to
//! `<data-dir>/edi/processed/<company>/`. The notifier's 860s and 865s go
//! to the same outbound folders (`LocalEdiOutbox`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use service::App;
use service::edi::{EdiError, EdiOutbox, EdiPorts, InterchangeReport};
use service::store::Store;
use service::webhooks::Pending;
use tokio::sync::watch;

/// The EDI folder under a data dir.
pub fn edi_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("edi")
}

/// A company id usable as one folder name (as the company's S3 prefix on
/// AWS): letters, digits, `-`, `_`, `.`, not only dots.
pub fn folder_name_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !id.bytes().all(|b| b == b'.')
}

/// Documents as files under `<edi dir>/outbound/<company>/`.
#[derive(Debug, Clone)]
pub struct LocalEdiOutbox {
    root: PathBuf,
}

impl LocalEdiOutbox {
    pub fn new(edi_dir: impl Into<PathBuf>) -> Self {
        LocalEdiOutbox {
            root: edi_dir.into(),
        }
    }
}

impl EdiOutbox for LocalEdiOutbox {
    fn put<'a>(
        &'a self,
        company_id: &'a str,
        name: &'a str,
        bytes: &'a [u8],
    ) -> Pending<'a, String, String> {
        Box::pin(async move {
            if !folder_name_ok(company_id) || !folder_name_ok(name) {
                return Err(format!("{company_id}/{name} is not a safe file name"));
            }
            let dir = self.root.join("outbound").join(company_id);
            crate::outbox::write_whole(&dir, name, bytes.to_vec())
                .await
                .map(|p| p.display().to_string())
                .map_err(|e| format!("writing {name}: {e}"))
        })
    }
}

/// The EDI ports of a local run: `our_id`, the store's control numbers,
/// the outbound folders under `edi_dir`.
pub fn ports(store: &sqlite::EmbeddedStore, edi_dir: &Path, our_id: edi::IsaId) -> EdiPorts {
    EdiPorts {
        our_id,
        numbers: Arc::new(store.clone()),
        outbox: Arc::new(LocalEdiOutbox::new(edi_dir)),
    }
}

/// Watches the inbound folders.
pub struct EdiWatcher<S> {
    app: App<S>,
    root: PathBuf,
    outbox: LocalEdiOutbox,
    pub poll: Duration,
    /// A file younger than this may still be being written (an SFTP
    /// upload): it waits for the next pass.
    pub settle: Duration,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub processed: usize,
    /// Left for a later pass after a failure on our side.
    pub retried: usize,
}

impl<S: Store> EdiWatcher<S> {
    /// `app` must have EDI set up (`App::with_edi`).
    pub fn new(app: App<S>, edi_dir: &Path) -> Self {
        EdiWatcher {
            app,
            root: edi_dir.to_path_buf(),
            outbox: LocalEdiOutbox::new(edi_dir),
            poll: Duration::from_millis(500),
            settle: Duration::from_secs(1),
        }
    }

    fn settled(&self, meta: &std::fs::Metadata) -> bool {
        meta.modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age >= self.settle)
    }

    /// Every settled file in every company's inbound folder, oldest name
    /// first per company.
    fn inbound(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let Ok(companies) = std::fs::read_dir(self.root.join("inbound")) else {
            return out;
        };
        for company in companies.flatten() {
            let id = company.file_name().to_string_lossy().into_owned();
            if !folder_name_ok(&id) || !company.path().is_dir() {
                continue;
            }
            let Ok(files) = std::fs::read_dir(company.path()) else {
                continue;
            };
            let mut files: Vec<PathBuf> = files
                .flatten()
                .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
                .filter(|f| f.metadata().is_ok_and(|m| m.is_file() && self.settled(&m)))
                .map(|f| f.path())
                .collect();
            files.sort();
            out.extend(files.into_iter().map(|f| (id.clone(), f)));
        }
        out
    }

    async fn done_with(&self, company: &str, file: &Path) -> std::io::Result<()> {
        let dir = self.root.join("processed").join(company);
        tokio::fs::create_dir_all(&dir).await?;
        let name = file
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let mut to = dir.join(&name);
        let mut n = 1u32;
        while to.exists() {
            n = n.saturating_add(1);
            to = dir.join(format!("{}.{n}", name.to_string_lossy()));
        }
        tokio::fs::rename(file, to).await
    }

    /// Process each settled inbound file once.
    pub async fn pass(&self) -> Pass {
        let mut pass = Pass::default();
        for (company, file) in self.inbound() {
            let Ok(bytes) = tokio::fs::read(&file).await else {
                pass.retried += 1;
                continue;
            };
            match self.app.edi_interchange(&company, &bytes).await {
                Ok(report) => {
                    if let Err(e) = self.answer(&company, &report).await {
                        tracing::warn!(company_id = %company, file = %file.display(), error = %e, "could not write the 997; the file is processed again later");
                        pass.retried += 1;
                        continue;
                    }
                    tracing::info!(company_id = %company, file = %file.display(), refused = ?report.refused, sets = report.sets.len(), "EDI file processed");
                }
                Err(
                    e @ (EdiError::Unavailable(_) | EdiError::App(_) | EdiError::NotConfigured),
                ) => {
                    tracing::warn!(company_id = %company, file = %file.display(), error = %e, "EDI file not processed; tried again later");
                    pass.retried += 1;
                    continue;
                }
                Err(e) => {
                    // Nothing to answer (not an interchange, no such EDI
                    // company): set aside, not retried.
                    tracing::error!(company_id = %company, file = %file.display(), error = %e, "EDI file refused");
                }
            }
            if let Err(e) = self.done_with(&company, &file).await {
                tracing::warn!(company_id = %company, file = %file.display(), error = %e, "could not move the processed file");
            }
            pass.processed += 1;
        }
        pass
    }

    async fn answer(&self, company: &str, report: &InterchangeReport) -> Result<(), String> {
        if let Some(ack) = &report.ack {
            self.outbox.put(company, &ack.name, &ack.bytes).await?;
        }
        Ok(())
    }

    /// Pass every `poll` until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.pass().await;
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    }
}
