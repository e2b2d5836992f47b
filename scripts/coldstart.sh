#!/usr/bin/env bash
# Cold start of the Lambda binaries: builds them and the tools in
# release, runs `coldstart` (tools/perf) which plays the Lambda Runtime API
# on loopback, against a hello-world lambda_runtime binary built the same way.
#
#   scripts/coldstart.sh [--runs 15] [--warm 20] [--no-ministack] [--json FILE] [FUNCTION...]
#
# FUNCTION defaults to every Lambda crate in functions/ except dropship (the
# local host): cancellation-api, webhook-intake, and notifier once it exists.
# Each gets the sample event named below (edit EVENTS to add one). With
# ministack (default) the table is seeded with the demo seed, so invocations
# really read and write; with --no-ministack AWS_ENDPOINT_URL is an unused
# loopback port and only init is meaningful. The functions and hello are
# position-independent executables, as they ship (ASLR for the image too).
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A EVENTS=(
    [cancellation-api]=events/api/get-order.json
    [webhook-intake]=events/webhooks/woocommerce-order-updated.json
    [notifier]=events/notifier/cancellation-from-api.json
    [edi-intake]=events/edi-intake/object-created.json
)

runs=15 warm=20 ministack=1 json="" functions=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --warm) warm="$2"; shift 2 ;;
    --json) json="$2"; shift 2 ;;
    --no-ministack) ministack=0; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) functions+=("$1"); shift ;;
    esac
done
if [[ ${#functions[@]} -eq 0 ]]; then
    for d in functions/*/; do
        name="$(basename "$d")"
        [[ "$name" == dropship ]] || functions+=("$name")
    done
fi

log() { printf 'coldstart.sh: %s\n' "$*" >&2; }

pkgs=()
for f in "${functions[@]}"; do pkgs+=(-p "$f"); done
# The functions in one invocation of their own, as they ship: built together
# with dropship, feature unification would give them dropship's features
# (and ~0.5 MiB more each). The tools too in their own invocation.
log "building ${functions[*]} (release)"
cargo build --release --locked "${pkgs[@]}"
log "building the tools and the hello-world baseline (release)"
cargo build --release --locked -p perf --bins

table=coldstart
if [[ $ministack -eq 1 ]]; then
    trap 'scripts/ministack.sh stop' EXIT
    eval "$(scripts/ministack.sh start)"
    export TABLE_NAME=$table
    export SECRETS_PREFIX=dropship/$table/companies/
    # Only to seed the table: any dropship build will do (the debug one the tests built).
    dropship=target/debug/dropship
    [[ -x "$dropship" ]] || { cargo build --locked -p dropship; }
    "$dropship" seed events/demo-seed.json --dynamodb-table "$table" >/dev/null
fi

api_event=${EVENTS[cancellation-api]}
specs=("hello=target/release/hello-lambda@$api_event" "hello-tracing=target/release/hello-lambda@$api_event")
for f in "${functions[@]}"; do
    ev=${EVENTS[$f]:-}
    [[ -n "$ev" && -f "$ev" ]] || { log "$f: no sample event ($ev), sending {}"; ev=""; }
    specs+=("$f=target/release/$f${ev:+@$ev}")
done

args=(--runs "$runs" --warm "$warm" --log-dir target/coldstart)
[[ -n "$json" ]] && args+=(--json "$json")
printf 'machine: %s cores, %s\n\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
target/release/coldstart "${args[@]}" "${specs[@]}"
