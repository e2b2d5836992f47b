#!/usr/bin/env bash
# Installs ahead of time what the later steps of ./scripts/test install on
# first use: ./scripts/test starts this in the background, so the downloads
# overlap its first cargo builds, and waits for it before the first step
# that uses one of these tools. Each piece is the owning script's own
# install code (its `install` subcommand or --install option), so each
# script run alone still installs whatever it misses. The Debian packages
# (one apt at a time) install beside the Python venvs.
#
#   scripts/prepare-tools.sh    one line per piece; exit 1 if a piece failed
#                               (its output follows); each piece's output in
#                               target/prepare-tools/
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/prepare-tools
mkdir -p "$dir"
# One run at a time: a run left going by an interrupted ./scripts/test
# finishes before the next one checks what is installed.
exec 9>"$dir/lock"
flock 9
rm -f "$dir"/*.failed

log() { printf 'prepare-tools.sh: %s\n' "$*"; }

# piece NAME CMD...: CMD with its output in $dir/NAME.log, without the lock
# (a daemon a package install starts must not keep it).
piece() {
    local name="$1" started=$SECONDS
    shift
    if "$@" >"$dir/$name.log" 2>&1 </dev/null 9>&-; then
        log "$name: ready ($((SECONDS - started)) s)"
    else
        log "$name: FAILED ($((SECONDS - started)) s)"
        touch "$dir/$name.failed"
    fi
}

debian() {
    # Not root: apt-get goes through sudo, and a password prompt cannot be
    # answered from here; the steps install these themselves then.
    if [[ "$(id -u)" -ne 0 ]] && ! sudo -n true 2>/dev/null; then
        log "docker.io, chromium, playwright-core: left to their steps (sudo asks for a password)"
        return
    fi
    piece docker.io scripts/sam-local.sh --install
    piece chromium+playwright-core scripts/browser-tests.sh --install
}

python_venvs() {
    piece venv-sam scripts/sam.sh install
    piece ministack scripts/ministack.sh install
    piece x12-venv scripts/x12-validate.sh --install
    piece schemathesis scripts/api-fuzz.sh --install
}

started=$SECONDS
debian &
debian_pid=$!
python_venvs
wait "$debian_pid"

failed=0
for f in "$dir"/*.failed; do
    [[ -e "$f" ]] || continue
    failed=1
    name="$(basename "$f" .failed)"
    log "output of $name ($dir/$name.log):"
    sed 's/^/    /' "$dir/$name.log"
done
log "done in $((SECONDS - started)) s"
exit "$failed"
