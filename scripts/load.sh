#!/usr/bin/env bash
# Load against `dropship serve` on loopback: builds dropship and
# the load tool in release, then `loadgen --spawn` starts a fresh server
# (--port 0, a temporary data directory), runs distinct-order, hot-order
# (cancel and fulfil) and hot-cancel (one unit each, own Idempotency-Key)
# cancellations at 1, 8 and 64 clients, checks the books and stops it.
# Bounded: --requests per level and mode (default 2000) and --max-secs per level.
# On DynamoDB (ministack): eval "$(scripts/ministack.sh start)", then add
# --dynamodb-table T --seed events/demo-seed.json.
#
#   scripts/load.sh [--levels 1,8,64] [--modes distinct,hot,hot-cancel] [--requests 2000]
#                   [--max-secs 20] [--json FILE] [--dynamodb-table T --seed FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p dropship
cargo build --release --locked -p perf --bins
data="$(mktemp -d "${TMPDIR:-/tmp}/dropship-load.XXXXXX")"
trap 'rm -rf "$data"' EXIT
printf 'machine: %s cores, %s\n\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
target/release/loadgen --spawn target/release/dropship --data-dir "$data" "$@"
