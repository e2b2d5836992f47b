#!/usr/bin/env bash
# The functions under `sam local invoke` and `sam local start-api`
# (scripts/sam_local_test.py says what is checked), on a machine with no
# Docker engine and no container registry:
#
# 1. Docker from Debian's packages (docker.io), installed when missing; a
#    private daemon with every file under target/sam-local/docker, stopped
#    at the end with every container, whatever happened.
# 2. `sam build` with Architecture=x86_64 (the template's default is arm64,
#    as deployed) of the workspace's debug binaries; a check keeps every
#    binary within Amazon Linux 2023's glibc 2.34.
# 3. The Lambda base image SAM builds its emulator image on
#    (public.ecr.aws/lambda/provided:al2023-x86_64), made locally from this
#    machine's files: what the functions and SAM's image build run, and the
#    folders Lambda uses. SAM adds its Runtime Interface Emulator itself.
# 4. ministack on this machine's loopback, as in the other steps; the
#    functions' containers call it at the address of a container of ours on
#    their network, where scripts/netns_relay.py listens and relays to
#    loopback. Their calls cross the bridge from container to container and
#    never arrive at this machine's own input path, which a host firewall may
#    close to everything but loopback; this machine's calls stay on loopback.
#    The containers' DNS server is their own loopback (no name is looked up
#    anywhere), and IPv4 forwarding stays off.
#
#   scripts/sam-local.sh            run the whole check
#   scripts/sam-local.sh --install  install docker.io if missing (nothing else)
set -euo pipefail
install_only=""
case "${1:-}" in
"") ;;
--install) install_only=1 ;;
*) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
state="$root/target/sam-local"
docker_dir="$state/docker"
network="dropship-sam-local"
bridge_if="dropship-sl0"
relay_ip="172.31.254.2"
probe_ip="172.31.254.3"
bridge_nf=/proc/sys/net/bridge/bridge-nf-call-iptables
base_image="public.ecr.aws/lambda/provided:al2023-x86_64"
mkdir -p "$state"

log() { printf 'sam-local.sh: %s\n' "$*" >&2; }
step_started=$SECONDS
lap() { log "$1 ($((SECONDS - step_started)) s)"; step_started=$SECONDS; }

# --- Docker -----------------------------------------------------------------
if ! command -v dockerd >/dev/null; then
    log "installing docker.io (Debian's package)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >&2
fi
[[ -z "$install_only" ]] || exit 0
# The daemon's sockets: under target/ too, unless that path is too long for
# a Unix socket (108 bytes, and containerd's sit deeper); then in /tmp.
sock_dir="$docker_dir"
if ((${#docker_dir} > 60)); then sock_dir="$(mktemp -d /tmp/sam-local.XXXXXX)"; fi
export DOCKER_HOST="unix://$sock_dir/docker.sock"
# The Debian client (the package's), whatever else is on PATH.
docker() { /usr/bin/docker "$@"; }

stop_all() {
    local rc=$?
    if [[ -f "$docker_dir/dockerd.pid" ]]; then
        local pid
        pid="$(cat "$docker_dir/dockerd.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            # Containers first (sam may leave one behind when killed), then the daemon.
            docker ps -aq 2>/dev/null | xargs -r /usr/bin/docker rm -f >/dev/null 2>&1 || true
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
            log "stopped the Docker daemon (pid $pid)"
        fi
    fi
    [[ "$sock_dir" == "$docker_dir" ]] || rm -rf "$sock_dir"
    if [[ -n "${bridge_nf_was:-}" ]]; then echo "$bridge_nf_was" >"$bridge_nf" 2>/dev/null || true; fi
    exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$docker_dir"
rm -f "$sock_dir/docker.sock" "$docker_dir/dockerd.pid"
# setsid: its own session; containerd and the shims follow it down.
setsid dockerd --host "$DOCKER_HOST" --data-root "$docker_dir/data" --exec-root "$sock_dir/exec" \
    --pidfile "$docker_dir/dockerd.pid" --storage-driver overlay2 \
    --iptables=false --ip-masq=false --ip-forward=false --dns 127.0.0.1 \
    >"$docker_dir/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 100); do
    docker version >/dev/null 2>&1 && break
    sleep 0.2
done
docker version >/dev/null || { log "dockerd did not start; its log follows"; cat "$docker_dir/dockerd.log" >&2; exit 1; }
lap "Docker daemon up (data under $docker_dir)"

# An internal network: its containers get no default route.
if ! docker network inspect "$network" >/dev/null 2>&1; then
    docker network create --internal --subnet 172.31.254.0/24 --gateway 172.31.254.1 \
        -o com.docker.network.bridge.name="$bridge_if" "$network" >/dev/null
fi
# Frames between two containers on the bridge stay off this machine's
# iptables chains while the step runs (restored at the end), so a host
# firewall's forward rules do not come between the functions and ministack.
if [[ -w "$bridge_nf" ]]; then
    bridge_nf_was="$(cat "$bridge_nf")"
    echo 0 >"$bridge_nf" || bridge_nf_was=""
fi
# With forwarding off (dockerd is told not to turn it on), a container's
# packets end at this machine, whatever route the container has.
if [[ "$(cat /proc/sys/net/ipv4/ip_forward)" != 0 ]]; then
    log "warning: IPv4 forwarding is on here; the containers' packets could be forwarded off the machine"
fi

# SAM stays on this machine: scripts/sam.sh turns its telemetry and version
# check off; its one AWS call (STS, for the account id) goes to ministack,
# as AWS_ENDPOINT_URL says.

# --- sam build -------------------------------------------------------------------
# scripts/sam_local_stage.py: the template, each function built by a make rule
# from the workspace's debug build (scripts/debug-build.sh, the test step's own). The
# template's own build method (cargo lambda, one build per function, each with
# its own features) costs about 20 CPU-minutes here in debug: over the
# suite's budget, for the same code.
cargo_build="scripts/debug-build.sh --quiet"
rm -rf "$state/src"
python3 scripts/sam_local_stage.py "$root" "$state/src" "$cargo_build"
scripts/sam.sh run sam build --template-file "$state/src/template.yaml" --parameter-overrides Architecture=x86_64 \
    --build-dir "$state/build" >"$state/build.log" 2>&1 ||
    { log "sam build failed; its log follows"; cat "$state/build.log" >&2; exit 1; }
lap "sam build (x86_64)"
# Amazon Linux 2023 has glibc 2.34: no binary may need a newer symbol version.
for bin in "$state"/build/*/bootstrap; do
    newest="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
    if [[ "$(printf '%s\nGLIBC_2.34\n' "$newest" | sort -V | tail -n 1)" != "GLIBC_2.34" ]]; then
        log "$bin needs $newest; Amazon Linux 2023 has glibc 2.34"
        exit 1
    fi
    log "$(basename "$(dirname "$bin")"): needs at most $newest"
done

# --- The base image -----------------------------------------------------------------
# scripts/sam_local_rootfs.py: a root file system from this machine's files,
# named by its recipe; the image is made again only when the recipe changes.
rootfs="$(python3 scripts/sam_local_rootfs.py "$state" "$state"/build/*/bootstrap)"
recipe_id="$(basename "$rootfs" .tar)"
if [[ "$(docker image inspect -f '{{index .Config.Labels "recipe"}}' "$base_image" 2>/dev/null)" != "$recipe_id" ]]; then
    docker import --change "LABEL recipe=$recipe_id" "$rootfs" "$base_image" >/dev/null
    lap "base image $base_image made ($recipe_id)"
fi
# SAM keeps its emulator image (this base + its emulator) across changes of
# either: drop it when one changed, and SAM makes it anew.
emulator="$recipe_id $(grep '^aws-sam-cli==' scripts/sam-requirements.txt)"
if [[ "$(cat "$state/emulator" 2>/dev/null)" != "$emulator" ]]; then
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -- '-rapid-' | xargs -r /usr/bin/docker rmi -f >/dev/null 2>&1 || true
    echo "$emulator" >"$state/emulator"
fi

# --- The test, with ministack reachable from the functions' network -----------------
# Two containers that only hold an address on the network (each shell waits
# on a stdin that never closes): the relay's, and one the driver checks the
# functions' path from before it starts.
holder() {
    docker rm -f "$1" >/dev/null 2>&1 || true
    docker run -d -i --name "$1" --network "$network" --ip "$2" \
        --entrypoint /bin/sh "$base_image" -c 'read -r _' 2> >(grep -v 'IPv4 forwarding is disabled' >&2) >/dev/null
    docker inspect -f '{{.State.Pid}}' "$1"
}
relay_pid="$(holder dropship-sam-local-relay "$relay_ip")"
probe_pid="$(holder dropship-sam-local-probe "$probe_ip")"
export SAM_LOCAL_NETWORK="$network" SAM_LOCAL_RELAY_IP="$relay_ip" \
    SAM_LOCAL_RELAY_PID="$relay_pid" SAM_LOCAL_PROBE_PID="$probe_pid"
scripts/ministack.sh test scripts/sam.sh run python3 scripts/sam_local_test.py
lap "sam local invoke and start-api"
