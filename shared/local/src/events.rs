//! Event webhooks for `dropship serve`: the signing key kept in the data
//! dir, the embedded store's delivery queue, and the HTTPS sender (with
//! `--allow-insecure-webhook-urls`, `http` and loopback too, for local
//! receivers and tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::events::UrlPolicy;
use event_sender::{HttpSender, PublicResolver};
use service::events::{
    DeliveryPorts, MIN_SIGNING_KEY_BYTES, SigningKeyError, StaticKey, WebhookPorts,
    checked_signing_key,
};
use sqlite::EmbeddedStore;
use thiserror::Error;

/// The file under the data dir holding the local signing key.
pub const KEY_FILE: &str = "webhook-signing.key";

/// Why the local signing key cannot be used.
#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Never replaced silently: every endpoint's secret derives from it.
    #[error(
        "{path}: {reason}; put at least {MIN_SIGNING_KEY_BYTES} random bytes there (64 hex digits), \
         or remove the file to have one made (every endpoint's secret then changes)"
    )]
    Weak {
        path: PathBuf,
        reason: SigningKeyError,
    },
}

/// The signing key in `dir/KEY_FILE`, created (32 random bytes, hex, mode
/// 0600) on first use. A key that is blank or shorter than
/// `MIN_SIGNING_KEY_BYTES` is refused, never used.
pub fn signing_key(dir: &Path) -> Result<Arc<[u8]>, KeyFileError> {
    let path = dir.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(dir, &path).map_err(io)?,
        Err(e) => return Err(io(e)),
    };
    checked_signing_key(&text).map_err(|reason| KeyFileError::Weak {
        path: path.clone(),
        reason,
    })
}

/// Write a new key to a private temporary file, then link it into place:
/// the key file never exists half written, and when another process made
/// one first, that one is the key.
fn create(dir: &Path, path: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let key = rand_hex();
    let tmp = dir.join(format!("{KEY_FILE}.{}.tmp", rand_hex()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(key.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::hard_link(&tmp, path));
    // The temporary name goes whatever happened; the key stays linked.
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path),
        Err(e) => Err(e),
    }
}

fn rand_hex() -> String {
    use std::fmt::Write as _;
    let bytes: [u8; 32] = service::events::random_bytes();
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Why the webhook ports could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PortsError {
    #[error(transparent)]
    Key(#[from] service::events::SigningKeyError),
    #[error(transparent)]
    Client(#[from] event_sender::ClientError),
}

/// What the API and the notifier need for webhooks, over the embedded
/// store's queue.
pub fn ports(
    store: &EmbeddedStore,
    key: Arc<[u8]>,
    policy: UrlPolicy,
) -> Result<(WebhookPorts, DeliveryPorts), PortsError> {
    let keys = Arc::new(StaticKey::new(key)?);
    let queue = Arc::new(store.clone());
    Ok((
        WebhookPorts {
            policy,
            resolver: Arc::new(PublicResolver { policy }),
            keys: keys.clone(),
            queue: queue.clone(),
        },
        DeliveryPorts {
            policy,
            sender: Arc::new(HttpSender::new(policy)?),
            keys,
            queue,
        },
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = super::signing_key(dir.path()).unwrap();
        let b = super::signing_key(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        // Written whole under its name: no temporary file is left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(super::KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_blank_or_short_key_is_refused_never_used() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(super::KEY_FILE);
        for (text, says) in [
            ("", "empty"),
            (" \n\t", "empty"),
            ("0123456789abcdef", "16 bytes"),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = super::signing_key(dir.path()).map(|k| k.len()).unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, super::KeyFileError::Weak { .. }), "{msg}");
            assert!(msg.contains(says) && msg.contains(super::KEY_FILE), "{msg}");
            assert_eq!(
                std::fs::read_to_string(&file).unwrap(),
                text,
                "left as it was"
            );
        }
        std::fs::write(&file, format!(" {}\n", "k".repeat(32))).unwrap();
        assert_eq!(
            &*super::signing_key(dir.path()).unwrap(),
            "k".repeat(32).as_bytes()
        );
    }
}
