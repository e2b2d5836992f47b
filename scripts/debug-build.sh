#!/usr/bin/env bash
# The workspace's debug build, binaries included, made exactly as `cargo test
# --workspace` makes it (cargo builds a package's binaries for its
# integration tests): the binaries the deployed-stack, sam local, browser and
# API-fuzzing steps run. A narrower `cargo build -p ...` resolves the
# dependencies' features without the dev-dependencies, so after the test
# step it compiled about a hundred crates a second time.
#
#   scripts/debug-build.sh [CARGO-ARGS...]   e.g. --quiet
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --locked --no-run "$@"
