//! Companies' platform secrets, apart from the data: a JSON file of their
//! own beside the database, readable by its owner only (mode 0600), written
//! whole to a temporary file and renamed into place. The company records in
//! the database hold none. A private in-memory store keeps them in memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use domain::ConnectionSecrets;
use service::store::StoreError;

type Secrets = BTreeMap<String, ConnectionSecrets>;

pub(crate) enum SecretFile {
    File(PathBuf),
    Memory(Mutex<Secrets>),
}

impl SecretFile {
    /// The secrets of the database at `db`: `<db stem>.secrets.json`.
    pub(crate) fn beside(db: &Path) -> Self {
        SecretFile::File(db.with_extension("secrets.json"))
    }

    pub(crate) fn memory() -> Self {
        SecretFile::Memory(Mutex::default())
    }

    /// Read on every use, so that a `dropship seed` run by another process
    /// is seen at once.
    fn load(path: &Path) -> Result<Secrets, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Internal(format!("{} is unreadable: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Secrets::new()),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    pub(crate) fn get(&self, company_id: &str) -> Result<ConnectionSecrets, StoreError> {
        let found = match self {
            SecretFile::File(path) => Self::load(path)?.remove(company_id),
            SecretFile::Memory(m) => m
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(company_id)
                .cloned(),
        };
        Ok(found.unwrap_or_default())
    }

    /// Set a company's secrets. Called inside the database's write
    /// transaction, which serialises writers across processes too.
    pub(crate) fn put(&self, company_id: &str, s: &ConnectionSecrets) -> Result<(), StoreError> {
        match self {
            SecretFile::Memory(m) => {
                let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
                set(&mut m, company_id, s);
                Ok(())
            }
            SecretFile::File(path) => {
                let mut all = Self::load(path)?;
                if all.get(company_id).unwrap_or(&ConnectionSecrets::default()) == s {
                    return Ok(());
                }
                set(&mut all, company_id, s);
                write_private(path, &all)
            }
        }
    }
}

fn set(all: &mut Secrets, company_id: &str, s: &ConnectionSecrets) {
    if s.is_empty() {
        all.remove(company_id);
    } else {
        all.insert(company_id.to_owned(), s.clone());
    }
}

fn write_private(path: &Path, all: &Secrets) -> Result<(), StoreError> {
    let tmp = path.with_extension("secrets.json.tmp");
    let bytes = serde_json::to_vec_pretty(all).map_err(StoreError::backend)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(StoreError::backend)?;
    // A file left by an older run may have wider permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::backend)?;
    }
    f.write_all(&bytes).map_err(StoreError::backend)?;
    f.sync_all().map_err(StoreError::backend)?;
    std::fs::rename(&tmp, path).map_err(StoreError::backend)
}
