//! How deliveries prove their origin (an HMAC of the body, or a token sent
//! back), and the digest delivery keys carry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// `base64(HMAC-SHA256(secret, body))`, compared in constant time. The MAC
/// is computed before the signature is looked at, so a malformed signature
/// costs the same work as a wrong one.
pub fn verify_hmac_sha256_base64(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let Ok(expected) = BASE64.decode(signature.trim()) else {
        return false;
    };
    mac.verify_slice(&expected).is_ok()
}

/// A token sent back verbatim (BigCommerce's `X-Webhook-Token`), compared
/// in constant time. Digests are compared, so neither the secret's length
/// nor a common prefix shows in the timing.
pub fn token_matches(secret: &str, token: &str) -> bool {
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let a = Sha256::digest(secret.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice())) && !token.is_empty()
}

/// Sign a body the way Shopify and WooCommerce do (for tests and samples).
pub fn sign_hmac_sha256_base64(secret: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            BASE64.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Lower-case hex SHA-256, as delivery keys carry it.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signatures() {
        let sig = sign_hmac_sha256_base64("secret", b"{}");
        assert!(verify_hmac_sha256_base64("secret", b"{}", &sig));
        assert!(!verify_hmac_sha256_base64("other", b"{}", &sig));
        assert!(!verify_hmac_sha256_base64("secret", b"{ }", &sig));
        assert!(!verify_hmac_sha256_base64("secret", b"{}", "not base64!"));
        assert!(!verify_hmac_sha256_base64("secret", b"{}", ""));
    }

    #[test]
    fn tokens() {
        assert!(token_matches("demo-bc-secret", "demo-bc-secret"));
        assert!(!token_matches("demo-bc-secret", "demo-bc-secreT"));
        assert!(!token_matches("demo-bc-secret", "demo-bc-secret "));
        assert!(!token_matches("demo-bc-secret", ""));
        assert!(!token_matches("", ""));
    }
}
