//! Event webhooks for `dropship serve`: the signing key kept in the data
//! dir, the embedded store's delivery queue, and the HTTPS sender (with
//! `--allow-insecure-webhook-urls`, `http` and loopback too, for local
//! receivers and tests).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use domain::webhooks::UrlPolicy;
use hooks::{HttpSender, PublicResolver};
use service::webhooks::{DeliveryPorts, StaticKey, WebhookPorts};
use sqlite::EmbeddedStore;

/// The file under the data dir holding the local signing key.
pub const KEY_FILE: &str = "webhook-signing.key";

/// The signing key in `dir/KEY_FILE`, created (32 random bytes, hex, mode
/// 0600) on first use.
pub fn signing_key(dir: &Path) -> std::io::Result<Arc<[u8]>> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(hex) => Ok(hex.trim().as_bytes().into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            let key: String = rand_hex();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut f) => {
                    f.write_all(key.as_bytes())?;
                    Ok(key.as_bytes().into())
                }
                // Another process made it first: that one is the key.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(std::fs::read_to_string(&path)?.trim().as_bytes().into())
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

fn rand_hex() -> String {
    use std::fmt::Write as _;
    let bytes: [u8; 32] = service::webhooks::random_bytes();
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What the API and the notifier need for webhooks, over the embedded
/// store's queue.
pub fn ports(
    store: &EmbeddedStore,
    key: Arc<[u8]>,
    policy: UrlPolicy,
) -> Result<(WebhookPorts, DeliveryPorts), String> {
    let keys = Arc::new(StaticKey(key));
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
}
