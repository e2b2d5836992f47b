#!/usr/bin/env bash
# The long fuzzing run: libFuzzer through cargo-fuzz on the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets stable take the -Z flags cargo-fuzz
# passes). The short run is `cargo test -p e2e --test e2e fuzz::` (in scripts/test).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=300] [TARGET...]
#
# Targets: shopify_parse woocommerce_parse bigcommerce_parse edi_parse api_body.
# cargo-fuzz is installed (pinned) into target/tools when missing. New corpus
# entries go to target/fuzz-corpus/TARGET (seeds: fuzz/seeds/TARGET); a crash
# leaves its input in fuzz/artifacts/TARGET/: copy it to
# fuzz/regressions/TARGET/ so the test suite replays it, and fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION="0.13.2"
secs="${1:-300}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(shopify_parse woocommerce_parse bigcommerce_parse edi_parse api_body)

tools="$PWD/target/tools"
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install --locked --root "$tools" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export PATH="$tools/bin:$PATH" RUSTC_BOOTSTRAP=1

# ASan needs nothing from nightly but the -Z flag; the targets are safe Rust
# over a bundled SQLite, so it mostly guards the C side.
for t in "${targets[@]}"; do
    corpus="target/fuzz-corpus/$t"
    mkdir -p "$corpus"
    echo "==> $t for ${secs}s"
    cargo fuzz run --fuzz-dir fuzz --target-dir target/fuzz "$t" "$corpus" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1
done
