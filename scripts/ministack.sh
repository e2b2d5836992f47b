#!/usr/bin/env bash
# The local AWS stand-in for tests: ministack (PyPI, pinned) in its own venv
# under target/, on a free loopback port (or MINISTACK_HOST's address).
#
#   scripts/ministack.sh install      install the venv if needed (nothing else)
#   scripts/ministack.sh start        start (or reuse a running one); prints `export ...` lines
#   scripts/ministack.sh env          print the `export ...` lines of the running one
#   scripts/ministack.sh stop         stop the one started by `start`
#   scripts/ministack.sh test [CMD]   start, run CMD (default: cargo test --workspace) with the
#                                     environment set, stop; exits with CMD's status
#
# `eval "$(scripts/ministack.sh start)"` sets AWS_ENDPOINT_URL, dummy credentials
# and AWS_REGION in the calling shell.
set -euo pipefail

MINISTACK_VERSION="1.5.33"
# ministack applies the AWS::Serverless transform of a deployed SAM template
# with this package (its "full" extra); the deployed-stack test needs it.
SAM_TRANSLATOR_VERSION="1.115.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where it listens: loopback, or (MINISTACK_HOST) an address containers
# reach; each address has its own instance.
host="${MINISTACK_HOST:-127.0.0.1}"
state="$root/target/ministack"
[[ "$host" == 127.0.0.1 ]] || state="$root/target/ministack-$host"
venv="$root/target/venv"
pidfile="$state/pid"
envfile="$state/env"
logfile="$state/ministack.log"

log() { printf 'ministack.sh: %s\n' "$*" >&2; }

ensure_venv() {
    local have=""
    if [[ -x "$venv/bin/ministack" ]]; then
        have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("ministack"))' 2>/dev/null || true)"
    fi
    local translator=""
    translator="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("aws-sam-translator"))' 2>/dev/null || true)"
    # The pins of what they pull in count too: a changed pin installs again.
    local stamp="$venv/.requirements.sha256" want
    want="$(sha256sum "$root/scripts/ministack-requirements.txt" | cut -d ' ' -f 1)"
    if [[ "$have" != "$MINISTACK_VERSION" || "$translator" != "$SAM_TRANSLATOR_VERSION" ||
        "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        log "installing ministack==$MINISTACK_VERSION (with aws-sam-translator==$SAM_TRANSLATOR_VERSION) into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "ministack==$MINISTACK_VERSION" \
            "aws-sam-translator==$SAM_TRANSLATOR_VERSION" -r "$root/scripts/ministack-requirements.txt" >&2
        echo "$want" >"$stamp"
    fi
}

running() {
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

free_port() {
    "$venv/bin/python" -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()' "$host"
}

healthy() {
    "$venv/bin/python" - "$1" "$host" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[2]}:{sys.argv[1]}/_ministack/health", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

write_env() {
    local port="$1"
    cat >"$envfile" <<EOF
export AWS_ENDPOINT_URL=http://$host:$port
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export MINISTACK_PORT=$port
EOF
}

start() {
    mkdir -p "$state"
    if running && [[ -f "$envfile" ]]; then
        log "reusing ministack pid $(cat "$pidfile")"
        cat "$envfile"
        return
    fi
    ensure_venv
    local port
    port="$(free_port)"
    # setsid: its own process group, so `stop` ends it and nothing else.
    # AWS_ENDPOINT_URL in its own environment: the Lambda functions it runs
    # (provided.* bootstraps on the host) call this ministack back, not AWS.
    AWS_ENDPOINT_URL="http://$host:$port" GATEWAY_PORT="$port" BIND_HOST="$host" SFTP_ENABLED=0 LOG_LEVEL="${MINISTACK_LOG_LEVEL:-WARNING}" \
        setsid "$venv/bin/ministack" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    local i
    for i in $(seq 1 150); do
        # Healthy, and still ours: on a busy machine another instance may have
        # taken the port between free_port and the bind, and answered for us.
        if healthy "$port" && sleep 0.3 && running; then
            write_env "$port"
            log "ministack $MINISTACK_VERSION up on $host:$port (pid $(cat "$pidfile"), log $logfile)"
            cat "$envfile"
            return
        fi
        if ! running; then
            log "ministack exited during start-up; log follows"
            cat "$logfile" >&2
            rm -f "$pidfile"
            exit 1
        fi
        sleep 0.2
    done
    log "ministack did not become healthy within 30 s; log follows"
    cat "$logfile" >&2
    stop
    exit 1
}

stop() {
    if [[ -f "$pidfile" ]]; then
        local pid
        pid="$(cat "$pidfile")"
        if kill -0 "$pid" 2>/dev/null; then
            # The process group that setsid created for it.
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
            log "stopped ministack pid $pid"
        fi
        rm -f "$pidfile" "$envfile"
    fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
install) ensure_venv ;;
start) start ;;
stop) stop ;;
env)
    if running && [[ -f "$envfile" ]]; then cat "$envfile"; else
        log "not running"
        exit 1
    fi
    ;;
test)
    # Our own instance, stopped however the command ends.
    if running; then
        log "ministack already running (pid $(cat "$pidfile")): reusing it, leaving it running"
    else
        trap stop EXIT
    fi
    eval "$(start)"
    if [[ $# -eq 0 ]]; then set -- cargo test --workspace; fi
    set +e
    "$@"
    status=$?
    set -e
    exit "$status"
    ;;
*)
    sed -n '2,13p' "$0" >&2
    exit 2
    ;;
esac
