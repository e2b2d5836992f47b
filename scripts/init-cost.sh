#!/usr/bin/env bash
# What a Lambda binary's init costs in CPU and page faults, without a
# Runtime API: `perf stat -r RUNS` of each binary started with a
# Lambda-like environment whose Runtime API and AWS endpoint are a closed
# loopback port, so each run does the whole init, fails its first poll at
# once and exits. Steadier than wall-clock init (scripts/coldstart.sh) on a
# noisy machine; includes process exit. Interleaved rounds; needs perf
# (Debian: linux-perf).
#
#   scripts/init-cost.sh [--runs 300] BINARY...
#   e.g. scripts/init-cost.sh target/release/{hello-lambda,cancellation-api,notifier}
#        (after scripts/coldstart.sh, which builds them position-independent, as shipped)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=300
if [[ "${1:-}" == "--runs" ]]; then runs="$2"; shift 2; fi
[[ $# -gt 0 ]] || { sed -n '2,11p' "$0"; exit 2; }
command -v perf >/dev/null || { echo "init-cost.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }

lambda_env=(
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 AWS_ENDPOINT_URL=http://127.0.0.1:9
    TABLE_NAME=t SENDER_EMAIL=notifier@example.com SECRETS_PREFIX=dropship/t/companies/ AWS_REGION=us-east-1
    WEBHOOK_QUEUE_URL=http://127.0.0.1:9/000000000000/t WEBHOOK_SIGNING_KEY=dropship/t/webhook-signing-key EDI_BUCKET=t-edi
    AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_SESSION_TOKEN=z
    AWS_LAMBDA_FUNCTION_NAME=f AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128
)
# Interleaved: ROUNDS rounds over all binaries, RUNS/ROUNDS starts each per
# round; the figure is the median of the rounds' means (a noisy machine
# slows each binary alike).
rounds=10
per=$(( (runs + rounds - 1) / rounds ))
declare -A clocks faults
for ((r = 0; r < rounds; r++)); do
    for bin in "$@"; do
        out=$(env -i "${lambda_env[@]}" perf stat -x, -e task-clock,page-faults -r "$per" "$bin" 2>&1 >/dev/null || true)
        c=$(awk -F, '$3 == "task-clock" {printf "%.4f", $1}' <<<"$out")
        f=$(awk -F, '$3 == "page-faults" {printf "%d", $1}' <<<"$out")
        [[ -n "$c" ]] || { echo "init-cost.sh: perf stat gave nothing for $bin:" >&2; echo "$out" >&2; exit 1; }
        clocks[$bin]+="$c "
        faults[$bin]+="$f "
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%s starts each, %s rounds, interleaved; medians of the rounds\n\n' "$(( per * rounds ))" "$rounds"
printf '| binary | size (KiB) | task-clock (ms) | ratio to the first | page faults |\n|---|---|---|---|---|\n'
base=""
for bin in "$@"; do
    clock=$(median <<<"${clocks[$bin]}")
    [[ -n "$base" ]] || base=$clock
    printf '| %s | %d | %.2f | %sx | %s |\n' "$bin" "$(( $(stat -c %s "$bin") / 1024 ))" "$clock" \
        "$(awk -v a="$clock" -v b="$base" 'BEGIN {printf "%.2f", a / b}')" "$(median <<<"${faults[$bin]}")"
done
