#!/usr/bin/env bash
# Smoke test of the Lambda functions as a developer runs them: `cargo lambda
# watch` (the Lambda runtime emulator, offline, building with cargo on the
# host) and `cargo lambda invoke --data-file events/...` for each function,
# the store being ministack's DynamoDB (a fresh table with the demo seed).
#
#   scripts/lambda-smoke.sh      (ministack from scripts/ministack.sh, the
#                                 SAM tool chain's cargo-lambda from scripts/sam.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${AWS_ENDPOINT_URL:-}" ]]; then
    # Not under ministack yet: start one for this run.
    exec scripts/ministack.sh test "$0" "$@"
fi
PATH="$(scripts/sam.sh path):$PATH"
export PATH

log() { printf 'lambda-smoke: %s\n' "$*" >&2; }
started=$SECONDS
table="lambda-smoke-$(date +%s)"
sender="notifications@dropship.test"
state="target/lambda-smoke"
mkdir -p "$state"

functions=(cancellation-api webhook-intake notifier)

log "building ${functions[*]} and dropship (host, debug), seeding table $table"
packages=(-p dropship)
for f in "${functions[@]}"; do packages+=(-p "$f"); done
cargo build --locked --bins "${packages[@]}" 2>&1 | tail -n 1 >&2
target/debug/dropship seed events/demo-seed.json --dynamodb-table "$table" --secrets-prefix "dropship/$table/companies/" >/dev/null
scripts/sam.sh run python3 -c "import boto3; boto3.client('ses').verify_email_identity(EmailAddress='$sender')"
# The webhook delivery queue and signing key the stack would create.
queue_url="$(scripts/sam.sh run python3 -c "import boto3; print(boto3.client('sqs').create_queue(QueueName='$table-deliveries')['QueueUrl'])")"
scripts/sam.sh run python3 -c "import boto3, secrets; boto3.client('secretsmanager').create_secret(Name='dropship/$table/webhook-signing-key', SecretString=secrets.token_hex(32))" >/dev/null

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
log "cargo lambda watch on 127.0.0.1:$port"
# setsid: its own process group (watch runs each function under cargo run),
# ended as a whole, and nothing else.
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --ignore-changes \
    --env-var "TABLE_NAME=$table" --env-var "SENDER_EMAIL=$sender" \
    --env-var "SECRETS_PREFIX=dropship/$table/companies/" \
    --env-var "WEBHOOK_QUEUE_URL=$queue_url" \
    --env-var "WEBHOOK_SIGNING_KEY=dropship/$table/webhook-signing-key" \
    --env-var "ALLOW_INSECURE_WEBHOOK_URLS=true" \
    --env-var "EDI_BUCKET=$table-edi" \
    >"$state/watch.log" 2>&1 </dev/null &
watch_pid=$!
stop_watch() {
    kill -TERM -- "-$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
}
trap stop_watch EXIT
for _ in $(seq 1 100); do
    if python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
    if ! kill -0 "$watch_pid" 2>/dev/null; then
        log "cargo lambda watch exited; its log follows"
        cat "$state/watch.log" >&2
        exit 1
    fi
    sleep 0.1
done

passed=0
failed=0
# invoke FUNCTION EVENT-FILE PYTHON-CHECK: the check is an expression over
# `r`, the function's JSON answer.
invoke() {
    local fn="$1" file="$2" expect="$3" out
    if ! out="$(cargo lambda invoke "$fn" --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$file" 2>&1)"; then
        log "FAIL $fn < $file: invoke failed: $out"
        failed=$((failed + 1))
        return
    fi
    if python3 -c "import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if ($expect) else 1)" "$out" 2>/dev/null; then
        log "ok   $fn < $file"
        passed=$((passed + 1))
    else
        log "FAIL $fn < $file: wanted $expect, got ${out:0:400}"
        failed=$((failed + 1))
    fi
}

invoke cancellation-api events/api/create-order.json 'r["statusCode"] == 201'
invoke cancellation-api events/api/list-orders.json 'r["statusCode"] == 200'
invoke cancellation-api events/api/get-order.json 'r["statusCode"] == 200'
invoke cancellation-api events/api/preview-cancellation.json 'r["statusCode"] == 200'
invoke cancellation-api events/api/cancel-items.json 'r["statusCode"] == 201'
invoke cancellation-api events/api/list-cancellations.json 'r["statusCode"] == 200'
invoke cancellation-api events/api/unauthorized.json 'r["statusCode"] == 401'
invoke webhook-intake events/webhooks/woocommerce-ping.json 'r["statusCode"] == 200'
invoke webhook-intake events/webhooks/woocommerce-order-updated.json \
    'r["statusCode"] == 200 and json.loads(r["body"])["status"] == "processed"'

# The notifier: ord_demo_api's buyer cancels, so its seller (seller-api, no
# store connection: email only) is told, through ministack's SES. Delivered
# twice, as a stream may: the ledger has the email done, none is sent again.
ses_messages() {
    python3 -c 'import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/_ministack/ses/messages", timeout=10) as r:
    print(json.dumps([m for ms in json.load(r)["messages"].values() for m in ms]))' "$AWS_ENDPOINT_URL"
}
# In files, not arguments: a long-running ministack may hold many messages.
ses_messages >"$state/ses-before.json"
invoke notifier events/notifier/cancellation-from-api.json 'r == {"batchItemFailures": []}'
invoke notifier events/notifier/cancellation-from-api.json 'r == {"batchItemFailures": []}'
# A delivery-queue batch (the function's second event source): a ping to an
# endpoint seller-api does not have is dropped, not retried.
invoke notifier events/deliveries/ping.json 'r == {"batchItemFailures": []}'
ses_messages >"$state/ses-after.json"
if python3 - "$state/ses-before.json" "$state/ses-after.json" "$sender" <<'EOF'; then
import json, re, sys
before = {m["MessageId"] for m in json.load(open(sys.argv[1]))}
new = [m for m in json.load(open(sys.argv[2])) if m["MessageId"] not in before]
ok = (len(new) == 1 and new[0]["Source"] == sys.argv[3]
      and new[0]["To"] == ["ops@sunrise-supply.example"]
      and re.match(r"Order ord_demo_api\b", new[0]["Subject"]))
if not ok:
    print(json.dumps([{k: m.get(k) for k in ("Source", "To", "Subject")} for m in new]))
sys.exit(0 if ok else 1)
EOF
    log "ok   notifier: one email from $sender to seller-api (ops@sunrise-supply.example) in ministack's SES"
    passed=$((passed + 1))
else
    log "FAIL notifier: wanted one email from $sender to ops@sunrise-supply.example about ord_demo_api (above: the new ones)"
    failed=$((failed + 1))
fi

# The functions' counts: embedded metric documents among their log lines
# (stdout), one per event, as CloudWatch Logs reads them.
if python3 - "$state/watch.log" <<'EOF'; then
import json, sys
docs = []
for line in open(sys.argv[1], errors="replace"):
    start = line.find("{")
    if start >= 0 and '"_aws"' in line:
        try:
            docs.append(json.loads(line[start:]))
        except ValueError:
            pass
def has(metric, **dims):
    return any(d.get(metric) == 1 and d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Dropship"
               and all(d.get(k) == v for k, v in dims.items()) for d in docs)
ok = (has("CancellationsCreated", Source="api", Kind="items")
      and has("CancellationsCreated", Source="woocommerce")
      and has("WebhookDeliveries", Platform="woocommerce", Outcome="processed")
      and has("WebhookDeliveries", Platform="woocommerce", Outcome="ignored")
      and has("Notifications", Channel="email", Result="sent")
      and has("Notifications", Channel="email", Result="already_done"))
if not ok:
    print(json.dumps(docs, indent=1)[:3000])
sys.exit(0 if ok else 1)
EOF
    log "ok   metric documents (EMF) in the functions' output: cancellations, deliveries, notifications"
    passed=$((passed + 1))
else
    log "FAIL wanted EMF documents for the cancellations, deliveries and notifications above in $state/watch.log"
    failed=$((failed + 1))
fi

log "$((SECONDS - started)) s; watch log: $state/watch.log"
echo "lambda-smoke: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
