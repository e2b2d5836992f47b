//! EDI on a local run: `<data-dir>/edi/inbound/<company>/` is watched; each
//! file is processed once (`EdiService::edi_file`), its answers (997, 824,
//! TA1) written to `<data-dir>/edi/outbound/<company>/`, and the file moved
//! to `<data-dir>/edi/processed/<company>/`. The notifier's 860s and 865s go
//! to the same outbound folders (`LocalEdiOutbox`).
//!
//! A file's size is checked before it is read: one over `edi::MAX_BYTES`
//! has only its ISA read (for a TA1). Companies' folders are worked on
//! side by side, each in name order, so one partner's large file does not
//! hold up another's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncReadExt;

use service::edi::{
    EdiError, EdiOutbox, EdiPorts, EdiService, Inbound, InterchangeReport, OutboxError,
};
use service::events::Pending;
use service::ledger::Ledger;
use service::store::Store;
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
    ) -> Pending<'a, String, OutboxError> {
        Box::pin(async move {
            if !folder_name_ok(company_id) || !folder_name_ok(name) {
                return Err(OutboxError::UnsafeName(format!(
                    "{company_id}/{name} is not a safe file name"
                )));
            }
            let dir = self.root.join("outbound").join(company_id);
            crate::outbox::write_whole(&dir, name, bytes.to_vec())
                .await
                .map(|p| p.display().to_string())
                .map_err(|e| OutboxError::Failed(format!("writing {name}: {e}")))
        })
    }
}

/// The EDI ports of a local run: `our_id`, the store's control numbers
/// and record of documents sent, the outbound folders under `edi_dir`.
pub fn ports(store: &sqlite::EmbeddedStore, edi_dir: &Path, our_id: edi::IsaId) -> EdiPorts {
    EdiPorts {
        our_id,
        numbers: Arc::new(store.clone()),
        outbox: Arc::new(LocalEdiOutbox::new(edi_dir)),
        sent: Arc::new(store.clone()),
        ack_window: service::edi::DEFAULT_ACK_WINDOW,
    }
}

/// A file's identity while it sits in the inbound folder: its name, size
/// and modification time. Processed again after a crash it is the same
/// file; uploaded again it is another.
fn source_of(name: &std::ffi::OsStr, meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    service::app::sha256_hex(
        format!("{}\0{}\0{modified}", name.to_string_lossy(), meta.len()).as_bytes(),
    )
}

/// An inbound file as read.
enum Read {
    Whole(Vec<u8>),
    /// Its first bytes and its size.
    TooLarge(Vec<u8>, u64),
}

/// Watches the inbound folders.
pub struct EdiWatcher<S> {
    app: EdiService<S>,
    root: PathBuf,
    outbox: LocalEdiOutbox,
    pub poll: Duration,
    /// A file younger than this may still be being written (an SFTP
    /// upload): it waits for the next pass.
    pub settle: Duration,
    /// How often our unacknowledged documents are checked for being overdue.
    pub overdue_every: Duration,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub processed: usize,
    /// Left for a later pass after a failure on our side.
    pub retried: usize,
}

impl<S: Store + Ledger> EdiWatcher<S> {
    pub fn new(app: EdiService<S>, edi_dir: &Path) -> Self {
        EdiWatcher {
            app,
            root: edi_dir.to_path_buf(),
            outbox: LocalEdiOutbox::new(edi_dir),
            poll: Duration::from_millis(500),
            settle: Duration::from_secs(1),
            overdue_every: Duration::from_secs(60),
        }
    }

    fn settled(&self, meta: &std::fs::Metadata) -> bool {
        meta.modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age >= self.settle)
    }

    /// Every settled file in every company's inbound folder, oldest name
    /// first per company, with its size and identity.
    fn inbound(&self) -> BTreeMap<String, Vec<(PathBuf, u64, String)>> {
        let mut out = BTreeMap::new();
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
            let mut files: Vec<(PathBuf, u64, String)> = files
                .flatten()
                .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|f| {
                    let m = f.metadata().ok()?;
                    (m.is_file() && self.settled(&m))
                        .then(|| (f.path(), m.len(), source_of(&f.file_name(), &m)))
                })
                .collect();
            files.sort();
            if !files.is_empty() {
                out.insert(id, files);
            }
        }
        out
    }

    /// The file's bytes, or, over the limit, only its first ones: the
    /// size is what the directory said, and the read stops one byte past
    /// the limit whatever the file has become since.
    async fn read(file: &Path, size: u64) -> std::io::Result<Read> {
        let limit = u64::try_from(edi::MAX_BYTES).unwrap_or(u64::MAX);
        let head_only = size > limit;
        let take = if head_only {
            106
        } else {
            limit.saturating_add(1)
        };
        let mut bytes = Vec::new();
        tokio::fs::File::open(file)
            .await?
            .take(take)
            .read_to_end(&mut bytes)
            .await?;
        if head_only || u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
            bytes.truncate(106);
            return Ok(Read::TooLarge(bytes, size.max(limit.saturating_add(1))));
        }
        Ok(Read::Whole(bytes))
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

    /// Process each settled inbound file once: companies side by side,
    /// each company's files one after another in name order.
    pub async fn pass(&self) -> Pass {
        let companies = self.inbound();
        let passes = futures::future::join_all(
            companies
                .into_iter()
                .map(|(c, files)| self.company_pass(c, files)),
        )
        .await;
        passes.into_iter().fold(Pass::default(), |a, p| Pass {
            processed: a.processed + p.processed,
            retried: a.retried + p.retried,
        })
    }

    async fn company_pass(&self, company: String, files: Vec<(PathBuf, u64, String)>) -> Pass {
        let mut pass = Pass::default();
        for (file, size, source) in files {
            // Names are the partner's: logged escaped, never raw.
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let result = match Self::read(&file, size).await {
                Err(_) => {
                    pass.retried += 1;
                    continue;
                }
                Ok(Read::Whole(bytes)) => {
                    self.app
                        .edi_file(&company, &source, Inbound::Whole(&bytes))
                        .await
                }
                Ok(Read::TooLarge(head, size)) => {
                    self.app
                        .edi_file(&company, &source, Inbound::TooLarge(&head, size))
                        .await
                }
            };
            match result {
                Ok(report) => {
                    if let Err(e) = self.answer(&company, &report).await {
                        tracing::warn!(company_id = %company, file = ?name, error = %e, "could not write the answers; the file is processed again later");
                        pass.retried += 1;
                        continue;
                    }
                    tracing::info!(company_id = %company, file = ?name, refused = ?report.refused, sets = report.sets.len(), replies = report.replies.len(), "EDI file processed");
                }
                Err(e @ (EdiError::Unavailable(_) | EdiError::App(_))) => {
                    tracing::warn!(company_id = %company, file = ?name, error = %e, "EDI file not processed; tried again later");
                    pass.retried += 1;
                    continue;
                }
                Err(e) => {
                    // Nothing to answer (no such EDI company, unusable
                    // settings): set aside, not retried.
                    tracing::error!(company_id = %company, file = ?name, error = %e, "EDI file refused");
                }
            }
            if let Err(e) = self.done_with(&company, &file).await {
                tracing::warn!(company_id = %company, file = ?name, error = %e, "could not move the processed file");
            }
            pass.processed += 1;
        }
        pass
    }

    async fn answer(&self, company: &str, report: &InterchangeReport) -> Result<(), OutboxError> {
        for reply in &report.replies {
            self.outbox.put(company, &reply.name, &reply.bytes).await?;
        }
        Ok(())
    }

    /// Settle our documents whose acknowledgment is overdue (what the
    /// deployed stack's hourly schedule does); how many were settled.
    pub async fn overdue(&self) -> usize {
        match self.app.edi_overdue(chrono::Utc::now()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not check for overdue acknowledgments; tried again later");
                0
            }
        }
    }

    /// Pass every `poll` until `shutdown`; check for overdue
    /// acknowledgments every `overdue_every`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut checked: Option<tokio::time::Instant> = None;
        loop {
            self.pass().await;
            if checked.is_none_or(|t| t.elapsed() >= self.overdue_every) {
                self.overdue().await;
                checked = Some(tokio::time::Instant::now());
            }
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
