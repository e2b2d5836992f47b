//! Writes the Mozilla root certificates of `webpki-root-certs` as one PEM
//! bundle into OUT_DIR, for `http_client`: the AWS SDK's trust store
//! takes PEM, and encoding ~150 certificates at run time cost the first
//! AWS request of every Lambda instance ~0.1-0.2 ms (see BENCHMARKS.md).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let mut pem = String::new();
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = STANDARD.encode(der.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        // 64 columns, as RFC 7468 writes it.
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("webpki-roots.pem"), pem).expect("write OUT_DIR/webpki-roots.pem");
}
