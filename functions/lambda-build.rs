//! Build script shared by the Lambda function crates (and the cold-start
//! baseline in tools/perf, built the same way): link the binaries as
//! position-dependent executables on Linux.
//!
//! Why (issue #7, measured in BENCHMARKS.md): a position-independent
//! executable carries ~21,000 relative relocations (vtables, static tables,
//! panic locations of the AWS SDK, hyper, h2, aws-lc) that the dynamic
//! loader applies at every start, writing to ~80 pages of `.data.rel.ro`
//! (~300 KiB of private memory per instance). Linked without PIE the linker
//! resolves them once, at build time: init is ~0.3 ms (~20%) shorter, with
//! ~85 fewer page faults. The code is still compiled position-independent;
//! only the final link changes.
//!
//! The price is that the executable's own image is not randomised (ASLR
//! still places the stack, heap, mappings and shared libraries); this is
//! the default for Go's Lambda binaries too. The crates are safe Rust apart
//! from the TLS and crypto libraries, and each Lambda execution environment
//! is a single-tenant microVM. `DROPSHIP_PIE=1` at build time keeps the
//! platform default (PIE) instead.

fn main() {
    println!("cargo::rerun-if-env-changed=DROPSHIP_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let pie = std::env::var("DROPSHIP_PIE").is_ok_and(|v| v == "1");
    if linux && !pie {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
