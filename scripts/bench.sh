#!/usr/bin/env bash
# Criterion benchmarks (bench/): the domain on a 50-line order, the
# Shopify HMAC check and parse, webhook handling through webhooks::handle and
# the cancellation API end to end in process, both on the embedded
# in-memory store. Prints each benchmark's median (criterion's estimate,
# with its 95% interval) as a Markdown table.
#
#   scripts/bench.sh [FILTER] [-- criterion options]
#   (default criterion options: --warm-up-time 1 --measurement-time 5)
set -euo pipefail
cd "$(dirname "$0")/.."
filter=()
if [[ $# -gt 0 && "$1" != "--" ]]; then filter=("$1"); shift; fi
[[ "${1:-}" == "--" ]] && shift
opts=("$@")
[[ ${#opts[@]} -gt 0 ]] || opts=(--warm-up-time 1 --measurement-time 5)
cargo bench --locked -p bench -- "${filter[@]}" "${opts[@]}" >&2
printf 'machine: %s cores, %s\n\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
python3 - "${filter[@]}" <<'PY'
import json, pathlib, sys
flt = sys.argv[1] if len(sys.argv) > 1 else ""
def fmt(ns):
    return f"{ns / 1000:.1f} µs" if ns < 1e6 else f"{ns / 1e6:.2f} ms"
print("| benchmark | median | 95% interval |")
print("|---|---|---|")
for est in sorted(pathlib.Path("target/criterion").glob("*/new/estimates.json")):
    name = json.loads((est.parent / "benchmark.json").read_text())["full_id"]
    if flt not in name:
        continue
    m = json.loads(est.read_text())["median"]
    ci = m["confidence_interval"]
    print(f"| {name} | {fmt(m['point_estimate'])} | {fmt(ci['lower_bound'])} to {fmt(ci['upper_bound'])} |")
PY
