#!/usr/bin/env bash
# The SAM tool chain, pinned in scripts/sam-requirements.txt (PyPI aws-sam-cli,
# cfn-lint), in its own venv: target/venv-sam (ministack's target/venv pins
# another botocore); and the build tools `sam build` runs, pinned in
# scripts/cargo-lambda-requirements.txt (cargo-lambda with its ziglang), added
# to it only where asked. Installed on first use and again only when a
# requirements file changes.
#
#   scripts/sam.sh install        install the SAM venv if needed (nothing else)
#   scripts/sam.sh install-build  the same, plus cargo-lambda and zig
#   scripts/sam.sh lint           cfn-lint template.yaml, then sam validate --lint
#   scripts/sam.sh path           install both, print the venv's bin directory
#                                 (for PATH: sam build, sam deploy, cargo lambda)
#   scripts/sam.sh run CMD...     run CMD with the venv's bin first on PATH
#                                 (sam, cfn-lint; cargo-lambda if installed)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/venv-sam"
requirements="$root/scripts/sam-requirements.txt"
stamp="$venv/.requirements.sha256"
build_requirements="$root/scripts/cargo-lambda-requirements.txt"
build_stamp="$venv/.build-requirements.sha256"

log() { printf 'sam.sh: %s\n' "$*" >&2; }

ensure_venv() {
    local want have=""
    want="$(sha256sum "$requirements" | cut -d ' ' -f 1)"
    [[ -f "$stamp" ]] && have="$(cat "$stamp")"
    if [[ "$have" != "$want" || ! -x "$venv/bin/sam" ]]; then
        log "installing the SAM tool chain into $venv (scripts/sam-requirements.txt)"
        python3 -m venv "$venv"
        # --no-compile: Python compiles what a command imports when it first
        # runs, a fraction of what is installed.
        "$venv/bin/pip" install --quiet --disable-pip-version-check --no-compile -r "$requirements" >&2
        echo "$want" >"$stamp"
    fi
}

ensure_build_tools() {
    local want have=""
    ensure_venv
    want="$(sha256sum "$build_requirements" | cut -d ' ' -f 1)"
    [[ -f "$build_stamp" ]] && have="$(cat "$build_stamp")"
    if [[ "$have" != "$want" || ! -x "$venv/bin/cargo-lambda" ]]; then
        log "installing cargo-lambda and zig into $venv (scripts/cargo-lambda-requirements.txt)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check --no-compile -r "$build_requirements" >&2
        echo "$want" >"$build_stamp"
    fi
}

# No telemetry, no version check: the tools run offline here. SAM checks
# PyPI for a newer version unless its app folder says it did within a week;
# ours says so for ten years (a float: SAM takes no other type).
export SAM_CLI_TELEMETRY=0
export __SAM_CLI_APP_DIR="$root/target/sam-app"
mkdir -p "$__SAM_CLI_APP_DIR"
printf '{"telemetryEnabled": false, "lastVersionCheck": %s.0}\n' "$(($(date +%s) + 10 * 365 * 86400))" \
    >"$__SAM_CLI_APP_DIR/metadata.json"

cmd="${1:-}"
shift || true
case "$cmd" in
install)
    ensure_venv
    ;;
install-build)
    ensure_build_tools
    ;;
lint)
    ensure_venv
    cd "$root"
    log "cfn-lint template.yaml"
    "$venv/bin/cfn-lint" template.yaml
    log "sam validate --lint"
    # --lint runs cfn-lint's rules through SAM's own translation; no AWS call.
    AWS_REGION="${AWS_REGION:-us-east-1}" "$venv/bin/sam" validate --lint --template-file template.yaml
    ;;
path)
    ensure_build_tools
    echo "$venv/bin"
    ;;
run)
    ensure_venv
    PATH="$venv/bin:$PATH" "$@"
    ;;
*)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
