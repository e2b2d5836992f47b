#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI, pinned, in a venv under target/)
# against openapi.yaml and a fresh `dropship serve` on loopback, as an API
# buyer and an API seller: no 5xx, every status code, content type, header
# and body as the document says. Stateful phase included (orders created,
# read, cancelled, fulfilled through the document's links).
#
#   scripts/api-fuzz.sh [--max-examples 25] [--seed 11] [--all-checks]
#   scripts/api-fuzz.sh --install     install the venv if needed (nothing else)
#
# DROPSHIP_BIN picks the server binary (the test command passes the debug one
# cargo test built); otherwise dropship is built in release. --all-checks adds
# schemathesis' opinionated checks (positive_data_acceptance and others),
# whose findings are business rules the schema cannot express; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
examples=25 seed=11 install_only=""
checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --max-examples) examples="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --all-checks) checks=all; shift ;;
    --install) install_only=1; shift ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
    esac
done

log() { printf 'api-fuzz.sh: %s\n' "$*" >&2; }

venv="$PWD/target/schemathesis-venv"
have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
# The pins of what it pulls in count too: a changed pin installs again.
stamp="$venv/.requirements.sha256"
want="$(sha256sum scripts/schemathesis-requirements.txt | cut -d ' ' -f 1)"
if [[ "$have" != "$SCHEMATHESIS_VERSION" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
        -r scripts/schemathesis-requirements.txt >&2
    echo "$want" >"$stamp"
fi
[[ -z "$install_only" ]] || exit 0

bin="${DROPSHIP_BIN:-}"
if [[ -z "$bin" ]]; then
    cargo build --release --locked -p dropship
    bin=target/release/dropship
fi

data="$(mktemp -d "${TMPDIR:-/tmp}/dropship-api-fuzz.XXXXXX")"
out="$data/serve.out"
"$bin" serve --port 0 --data-dir "$data/db" >"$out" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
url=""
for _ in $(seq 1 100); do
    url="$(grep -ao 'dropship serving http://[0-9.:]*' "$out" | head -n 1 | cut -d' ' -f3 || true)"
    [[ -n "$url" ]] && break
    kill -0 "$server" 2>/dev/null || { cat "$out" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$url" ]] || { log "dropship did not start"; cat "$out" >&2; exit 1; }

# One worker: schemathesis' coverage phase trips a CPython 3.11 ast bug
# ("AST constructor recursion depth mismatch") when run in threads.
status=0
for key in demo-buyer-api-key demo-seller-api-key; do
    log "as ${key%-key}: checks $checks, $examples examples per operation, seed $seed"
    # From the scratch directory: schemathesis keeps a .schemathesis/ cache in its cwd.
    (cd "$data" && "$venv/bin/st" run "$OLDPWD/openapi.yaml" --url "$url" -H "Authorization: Bearer $key" \
        --checks "$checks" --max-examples "$examples" --seed "$seed" \
        --workers 1 --no-color --generation-database none) || status=1
done
exit "$status"
