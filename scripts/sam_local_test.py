#!/usr/bin/env python3
"""The functions under `sam local`, as the bundle is meant to be tested:
`sam local invoke` of every function with each of its samples in events/,
then `sam local start-api` driven through the template's own routes.

Run by scripts/sam-local.sh, which provides the Docker daemon, the built
functions (target/sam-local/build), ministack on loopback (AWS_ENDPOINT_URL),
two containers of its own on the functions' network (one whose address the
functions call ministack at, through scripts/netns_relay.py, one to check
that path from) and the SAM tool chain's Python, boto3 and `sam`.

1. Seeds a fresh table (`dropship seed` of the demo seed and the EDI seed),
   the sender in SES, the delivery queue, the signing key, the EDI buckets.
   The seeds' store platforms are real https hosts; the containers resolve
   no name (their daemon's DNS is their own loopback), so a call to a store
   fails at once, as a store that cannot be reached.
2. `sam local invoke` of each sample: the API's (status and body), the
   platform deliveries' (status and outcome), the notifier's stream batches
   (the cancellation committed first, as the API would; `batchItemFailures`,
   the emails sent) and its delivery-queue batch,
   edi-intake's S3 event (the 997 it writes, the order cancelled) and its
   scheduled event.
3. `sam local start-api`: the README's walk-through, run as written against
   it, and a WooCommerce delivery signed here with the seeded secret.
Every container runs on a Docker network without a route off the machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request
from pathlib import Path

import boto3

import netns_relay

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
STATE = ROOT / "target" / "sam-local"
TEMPLATE = STATE / "build" / "template.yaml"
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]  # ministack, on this machine's loopback
NETWORK = os.environ["SAM_LOCAL_NETWORK"]
# Where the functions' containers call ministack: the relay, in the holder
# container's namespace, on ministack's own port.
RELAY_PID = int(os.environ["SAM_LOCAL_RELAY_PID"])
RELAY_ADDRESS = (os.environ["SAM_LOCAL_RELAY_IP"], int(ENDPOINT.rsplit(":", 1)[1]))
PROBE_PID = int(os.environ["SAM_LOCAL_PROBE_PID"])
FUNCTIONS_ENDPOINT = f"http://{RELAY_ADDRESS[0]}:{RELAY_ADDRESS[1]}"
RUN_ID = int(time.time())
SENDER = "notifications@dropship.test"
EDI_SAMPLE_BUCKET = "dropship-edi-sample"  # the bucket events/edi-intake/object-created.json names
PARAMETERS = [
    "Architecture=x86_64",
    f"LocalEndpointUrl={FUNCTIONS_ENDPOINT}",
    f"SenderEmail={SENDER}",
    "AllowInsecureWebhookUrls=true",
]

passed = 0
failed: list[str] = []
lock = threading.Lock()


def log(msg: str) -> None:
    print(f"sam-local: {msg}", file=sys.stderr, flush=True)


def check(cond: bool, what: str) -> None:
    global passed
    with lock:
        if cond:
            passed += 1
            log(f"ok   {what}")
        else:
            failed.append(what)
            log(f"FAIL {what}")


# (failed records by index, new emails' recipients)
# A store sync cannot reach its store here: its record is reported for a
# retry, after the email went out (docs/local.md, Notifications).
NOTIFIER_EXPECTED: dict[str, tuple[list[int], list[str]]] = {
    "partial.json": ([], ["ops@sunrise-supply.example"]),
    "cancellation-from-api.json": ([], ["ops@sunrise-supply.example"]),
    "whole-order.json": ([], ["edi@bigbox.example"]),
    "woocommerce-seller.json": ([0], ["shop@cedar-crafts.example"]),
    "cancellation-from-woocommerce.json": ([0], ["hello@maple-co.example"]),
    "bigcommerce-seller.json": ([0], ["store@birch-supply.example"]),
    "shopify-buyer.json": ([0], ["hello@maple-co.example"]),
    "shopify-seller.json": ([0], ["orders@pine-goods.example"]),
    # The first record's cancellation was told above; the second's store is out of reach.
    "batch-of-two.json": ([1], []),
    # The poison record, and the BigCommerce seller's store sync.
    "batch-with-poison.json": ([2, 4], ["orders@acme-home.example", "store@birch-supply.example"]),
}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, **kw)


class World:
    """One group of samples run in order on a table of its own (the groups
    run side by side): its table, seeded, and the functions' environment."""

    def __init__(self, name: str):
        self.name = name
        self.table = f"sam-local-{RUN_ID}-{name}"
        self.env_file = STATE / f"env-{name}.json"
        self.log_file = STATE / f"invoke-{name}.log"
        self.log_file.write_text("")
        prefix = f"dropship/{self.table}/companies/"
        signing_key = f"dropship/{self.table}/webhook-signing-key"
        self.edi_bucket = f"{self.table}-edi"  # the notifier's outbound EDI folders
        for f in (EVENTS / "demo-seed.json", EVENTS / "edi" / "seed.json"):
            r = run([str(ROOT / "target/debug/dropship"), "seed", str(f), "--dynamodb-table", self.table,
                     "--secrets-prefix", prefix])
            if r.returncode != 0:
                raise SystemExit(f"dropship seed {f}: {r.stderr}")
        queue = boto3.client("sqs").create_queue(QueueName=f"{self.table}-deliveries")["QueueUrl"]
        boto3.client("secretsmanager").create_secret(Name=signing_key, SecretString=os.urandom(32).hex())
        boto3.client("s3").create_bucket(Bucket=self.edi_bucket)
        # SAM gives a function this machine's value of a variable its template
        # sets (ours: ministack on loopback) unless this file names it.
        common = {"TABLE_NAME": self.table, "AWS_ENDPOINT_URL": FUNCTIONS_ENDPOINT}
        env = {
            "CancellationApiFunction": common | {
                "WEBHOOK_QUEUE_URL": queue, "WEBHOOK_SIGNING_KEY": signing_key,
                "ALLOW_INSECURE_WEBHOOK_URLS": "true"},
            "WebhookIntakeFunction": common | {"SECRETS_PREFIX": prefix},
            "NotifierFunction": common | {
                "SENDER_EMAIL": SENDER, "SECRETS_PREFIX": prefix, "WEBHOOK_QUEUE_URL": queue,
                "WEBHOOK_SIGNING_KEY": signing_key, "ALLOW_INSECURE_WEBHOOK_URLS": "true",
                "EDI_BUCKET": self.edi_bucket, "DROPSHIP_ISA_ID": "DROPSHIP"},
            "EdiIntakeFunction": common | {"DROPSHIP_ISA_ID": "DROPSHIP"},
        }
        self.env_file.write_text(json.dumps(env, indent=1))

    def sam_args(self) -> list[str]:
        return ["--template", str(TEMPLATE), "--env-vars", str(self.env_file),
                "--parameter-overrides", " ".join(PARAMETERS), "--skip-pull-image",
                "--docker-network", NETWORK]

    def invoke(self, function: str, event: Path) -> dict | None:
        """`sam local invoke FUNCTION -e EVENT`: the function's answer (its
        last line of stdout), or None when the invocation failed; `answered`
        tells a failure from an answer of `null`."""
        self.answered = False
        r = run(["sam", "local", "invoke", function, "--event", str(event)] + self.sam_args(), timeout=180)
        with open(self.log_file, "a") as f:
            f.write(f"\n### {function} < {event.relative_to(ROOT)} (rc {r.returncode})\n{r.stderr}\n{r.stdout}\n")
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        if r.returncode != 0 or not lines:
            return None
        try:
            answer = json.loads(lines[-1])
        except ValueError:
            return None
        self.answered = True
        return answer


def body_of(answer: dict | None) -> object:
    try:
        return json.loads(answer["body"]) if answer and answer.get("body") else None
    except ValueError:
        return answer.get("body")


def ses_messages() -> list[dict]:
    with urllib.request.urlopen(ENDPOINT + "/_ministack/ses/messages", timeout=10) as r:
        return [m for ms in json.load(r)["messages"].values() for m in ms]


def api_samples(w: World) -> None:
    # In order: each sample's answer depends on those before it.
    cases = [
        ("create-order.json", 201, lambda b: b["seller_id"] == "seller-api"),
        ("create-order.json", 201, None),  # replayed under its Idempotency-Key
        # buyer-api's: two from each seed, and the one created once.
        ("list-orders.json", 200, lambda b: len(b["orders"]) == 5
         and {"ord_demo_api", "ord_demo_api_bc", "ord_edi_1003", "ord_edi_1004"} < {o["id"] for o in b["orders"]}),
        ("get-order.json", 200, lambda b: b["id"] == "ord_demo_api"),
        ("preview-cancellation.json", 200, None),
        ("cancel-items.json", 201, lambda b: b["order_id"] == "ord_demo_api"),
        ("cancel-items.json", 201, None),  # replayed
        ("record-fulfillment.json", 201, None),
        ("cancel-order-from-app.json", 201, lambda b: b["source"] == "app"),
        ("cancel-order.json", 409, lambda b: b["code"] == "nothing_to_cancel"),
        ("list-cancellations.json", 200, lambda b: len(b["cancellations"]) == 2),
        ("edi-buyer-cancel-refused.json", 403, None),
        ("unauthorized.json", 401, lambda b: b["code"] == "unauthorized"),
    ]
    created = set()
    for name, status, body_ok in cases:
        a = w.invoke("CancellationApiFunction", EVENTS / "api" / name)
        b = body_of(a)
        ok = a is not None and a.get("statusCode") == status
        if ok and body_ok is not None:
            try:
                ok = bool(body_ok(b))
            except (KeyError, TypeError, IndexError):
                ok = False
        if name == "create-order.json" and isinstance(b, dict):
            created.add(b.get("id"))
        check(ok, f"CancellationApiFunction < api/{name}: {status}"
              + ("" if ok else f" (got {json.dumps(a)[:300]})"))
    check(len(created) == 1, f"the replayed order creation answered the first order ({created})")


def store_refs_sample(w: World) -> None:
    """Last: it renumbers the WooCommerce order the deliveries name."""
    for _ in range(2):  # the second replayed under its key
        a = w.invoke("CancellationApiFunction", EVENTS / "api" / "set-store-refs.json")
        b = body_of(a)
        ok = a is not None and a.get("statusCode") == 200 and isinstance(b, dict) \
            and b.get("seller_order_ref") == "732"
        check(ok, "CancellationApiFunction < api/set-store-refs.json: 200, ref 732"
              + ("" if ok else f" (got {json.dumps(a)[:300]})"))


def webhook_samples(w: World) -> None:
    # (status, outcome, each order's result) each sample gets, in this order,
    # from the seeded store.
    cases = [
        ("woocommerce-ping.json", 200, "ignored", None),
        ("woocommerce-order-updated.json", 200, "processed", None),
        ("shopify-buyer-orders-updated.json", 200, "processed", None),
        ("shopify-seller-orders-updated.json", 200, "processed", None),
        ("shopify-buyer-orders-cancelled.json", 200, "processed", None),
        # The same order state again: nothing left to change.
        ("shopify-buyer-orders-cancelled.json", 200, "processed", {"unchanged"}),
        ("woocommerce-order-cancelled.json", 200, "processed", None),
        # A ping again, on a warm image: still ignored. `sam local invoke` now
        # and then captures none of a container's output (seen on the first
        # ping once), and the metric check needs one ping's EMF line.
        ("woocommerce-ping.json", 200, "ignored", None),
    ]
    for name, status, outcome, results in cases:
        a = w.invoke("WebhookIntakeFunction", EVENTS / "webhooks" / name)
        b = body_of(a)
        ok = a is not None and a.get("statusCode") == status and isinstance(b, dict) and b.get("status") == outcome
        if ok and results is not None:
            ok = {o.get("result") for o in b.get("orders", [])} == results
        check(ok, f"WebhookIntakeFunction < webhooks/{name}: {status} {outcome}"
              + ("" if results is None else f" {sorted(results)}")
              + ("" if ok else f" (got {json.dumps(a)[:300]})"))


# The stream samples, in this order; the records each commits first (the
# poison record is not a cancellation the API could have written).
NOTIFIER = [
    "partial.json", "cancellation-from-api.json", "cancellation-from-api.json", "whole-order.json",
    "woocommerce-seller.json", "cancellation-from-woocommerce.json", "bigcommerce-seller.json",
    "shopify-buyer.json", "shopify-seller.json", "batch-of-two.json", "batch-with-poison.json",
]
POISON = {("batch-with-poison.json", 2)}


def commit(w: World, name: str) -> list[str]:
    """Write each record's new image, as the API's commit would have (the
    stream only reports it): the sequence numbers of the records."""
    ddb = boto3.client("dynamodb")
    seqs = []
    for i, r in enumerate(json.loads((EVENTS / "notifier" / name).read_text())["Records"]):
        seqs.append(r["dynamodb"]["SequenceNumber"])
        image = r["dynamodb"].get("NewImage", {})
        # Whole order items only (the other records are filtered writes).
        if (name, i) not in POISON and "buyer_id" in image:
            ddb.put_item(TableName=w.table, Item=image)
    return seqs


def notifier_samples(w: World, expected: dict[str, tuple[list[int], list[str]]]) -> None:
    """Each sample: the failed records (by index), the new emails' recipients."""
    done = set()
    for name in NOTIFIER:
        seqs = commit(w, name)
        mails = len(ses_messages())
        a = w.invoke("NotifierFunction", EVENTS / "notifier" / name)
        again = name in done
        done.add(name)
        want_failed, want_to = ([], []) if again else expected.get(name, ([], []))
        got_failed = None if a is None else [f.get("itemIdentifier") for f in a.get("batchItemFailures", [])]
        check(got_failed == [seqs[i] for i in want_failed],
              f"NotifierFunction < notifier/{name}{' (again)' if again else ''}: batchItemFailures "
              f"{[seqs[i] for i in want_failed]}" + ("" if got_failed == [seqs[i] for i in want_failed] else f" (got {a})"))
        new = ses_messages()[mails:]
        to = sorted(t for m in new for t in m["To"])
        check(to == sorted(want_to) and all(m["Source"] == SENDER for m in new),
              f"  emails from {SENDER} to {sorted(want_to)}" + ("" if to == sorted(want_to) else f" (got {to})"))
    # The delivery queue's batch: a ping to an endpoint seller-api does not
    # have is dropped, not retried.
    a = w.invoke("NotifierFunction", EVENTS / "deliveries" / "ping.json")
    check(a == {"batchItemFailures": []}, f"NotifierFunction < deliveries/ping.json: no failure ({a})")


def edi_samples(w: World) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=EDI_SAMPLE_BUCKET, Key="inbound/buyer-edi/860 cancel order.x12",
                  Body=(EVENTS / "edi" / "860-cancel-order.x12").read_bytes())
    a = w.invoke("EdiIntakeFunction", EVENTS / "edi-intake" / "object-created.json")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=EDI_SAMPLE_BUCKET).get("Contents", []))
    acks = [k for k in keys if k.startswith("outbound/buyer-edi/") and k.endswith("-997.x12")]
    # edi-intake answers S3 and the schedule with nothing (`null`).
    check(w.answered and a is None, "EdiIntakeFunction < edi-intake/object-created.json: answered null")
    check(len(acks) == 1 and "processed/buyer-edi/860 cancel order.x12" in keys
          and not any(k.startswith("inbound/") for k in keys),
          f"  one 997 in outbound/buyer-edi/, the 860 moved to processed/ ({keys})")
    if acks:
        text = s3.get_object(Bucket=EDI_SAMPLE_BUCKET, Key=acks[0])["Body"].read().decode()
        segs = [s.strip() for s in text.split("~") if s.strip()]
        check(any(s.startswith("ST*997*") for s in segs) and any(s.startswith("AK9*A*1*1*1") for s in segs),
              f"  the 997 accepts the 860's group: {[s for s in segs if s[:3] in ('AK1', 'AK9')]}")
    order = boto3.client("dynamodb").get_item(
        TableName=w.table, Key={"pk": {"S": "ORDER#ord_edi_1001"}, "sk": {"S": "ORDER"}}, ConsistentRead=True)
    check("edi" in json.dumps(order.get("Item", {})) and "new_cancellation" in json.dumps(order.get("Item", {})),
          "  ord_edi_1001 (PO-1001) cancelled from EDI")
    a = w.invoke("EdiIntakeFunction", EVENTS / "edi-intake" / "scheduled.json")
    check(w.answered and a is None,
          "EdiIntakeFunction < edi-intake/scheduled.json: the overdue check ran")


def metric_documents() -> None:
    """The functions' counts: embedded metric documents among their log
    lines, as CloudWatch Logs reads them."""
    docs = []
    lines = [l for f in sorted(STATE.glob("invoke-*.log")) for l in f.read_text(errors="replace").splitlines()]
    for line in lines:
        start = line.find("{")
        if start >= 0 and '"_aws"' in line:
            try:
                docs.append(json.loads(line[start:]))
            except ValueError:
                pass

    def has(metric, **dims):
        return any(d.get(metric) == 1 and d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Dropship"
                   and all(d.get(k) == v for k, v in dims.items()) for d in docs)

    check(has("CancellationsCreated", Source="api", Kind="items")
          and has("CancellationsCreated", Source="woocommerce")
          and has("WebhookDeliveries", Platform="woocommerce", Outcome="processed")
          and has("WebhookDeliveries", Platform="woocommerce", Outcome="ignored")
          and has("Notifications", Channel="email", Result="sent")
          and has("Notifications", Channel="email", Result="already_done"),
          f"metric documents (EMF) in the functions' output ({len(docs)})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_api(w: World) -> None:
    """`sam local start-api`: the README's walk-through as written, through
    the template's own routes, and a WooCommerce delivery signed here."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    out = open(STATE / "start-api.log", "w")
    proc = subprocess.Popen(["sam", "local", "start-api", "--host", "127.0.0.1", "--port", str(port),
                             "--warm-containers", "EAGER"] + w.sam_args(),
                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.3)
        check(proc.poll() is None, f"sam local start-api listening on {api}")
        if proc.poll() is not None:
            return
        readme = (ROOT / "README.md").read_text()
        block = readme.split("<!-- walkthrough:start -->")[1].split("<!-- walkthrough:end -->")[0]
        script = block.strip().removeprefix("```sh").removesuffix("```")
        work = STATE / "walkthrough"
        work.mkdir(exist_ok=True)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, text=True,
                           capture_output=True, env=os.environ | {"DROPSHIP_URL": api}, timeout=300)
        ok = (r.returncode == 0 and '"cancellation_status":"cancelled"' in r.stdout
              and '"reason_code":"out_of_stock"' in r.stdout and "nothing_to_cancel" in r.stdout
              and '"partner_id":"seller-api"' in r.stdout[r.stdout.rfind('{"company_id"'):])
        check(ok, "the README's walk-through through start-api's routes"
              + ("" if ok else f" (rc {r.returncode}: {r.stdout[-600:]} {r.stderr[-600:]})"))
        # A WooCommerce delivery signed with seller-woo's seeded secret.
        # The sample's order under the number set-store-refs gave it.
        order = json.loads((EVENTS / "webhooks" / "woocommerce-order-updated.body").read_bytes())
        order["id"] = 732
        body = json.dumps(order).encode()
        headers = {}
        for line in (EVENTS / "webhooks" / "woocommerce-order-updated.headers").read_text().splitlines():
            k, _, v = line.partition(":")
            headers[k.strip()] = v.strip()
        headers["X-WC-Webhook-Delivery-ID"] = f"sam-local-{int(time.time())}"
        headers["X-WC-Webhook-Signature"] = base64.b64encode(
            hmac.new(b"demo-woo-secret", body, hashlib.sha256).digest()).decode()
        status, answer = request(f"{api}/webhooks/woocommerce/seller-woo", body, headers)
        outcome = json.loads(answer or b"{}").get("status") if status == 200 else None
        check(status == 200 and outcome == "processed",
              f"a signed WooCommerce delivery through POST /webhooks/woocommerce/seller-woo: 200 {outcome}")
        headers["X-WC-Webhook-Signature"] = base64.b64encode(b"\0" * 32).decode()
        status, _ = request(f"{api}/webhooks/woocommerce/seller-woo", body, headers)
        check(status == 401, f"the same delivery with a forged signature: 401 ({status})")
        status, answer = request(f"{api}/app/index.html")
        check(status == 200 and b"<html" in answer.lower(), f"the web app through GET /app/index.html ({status})")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


def main() -> int:
    loopback = ENDPOINT.split("//", 1)[1].rsplit(":", 1)[0]
    netns_relay.start(RELAY_PID, RELAY_ADDRESS, (loopback, RELAY_ADDRESS[1]))
    # The path the functions take, tried once from another container first,
    # so that a machine which closes it fails here, saying so.
    blocked = netns_relay.can_connect(PROBE_PID, RELAY_ADDRESS)
    if blocked is not None:
        log(f"a container on {NETWORK} cannot reach ministack's relay at {FUNCTIONS_ENDPOINT}: {blocked}")
        return 1
    log(f"ministack {ENDPOINT}; the functions reach it at {FUNCTIONS_ENDPOINT} on network {NETWORK}")
    boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
    boto3.client("s3").create_bucket(Bucket=EDI_SAMPLE_BUCKET)
    worlds = {n: World(n) for n in ("api", "webhooks", "notifier", "edi")}
    groups = [
        lambda: api_samples(worlds["api"]),
        lambda: (webhook_samples(worlds["webhooks"]), store_refs_sample(worlds["webhooks"])),
        lambda: notifier_samples(worlds["notifier"], NOTIFIER_EXPECTED),
        lambda: edi_samples(worlds["edi"]),
    ]
    with ThreadPoolExecutor(len(groups)) as pool:
        for f in [pool.submit(g) for g in groups]:
            f.result()
    metric_documents()
    start_api(worlds["webhooks"])
    log(f"{passed} passed, {len(failed)} failed")
    for f in failed:
        log(f"failed: {f}")
    if failed:
        # What the functions logged as errors, last in the output, where a
        # CI log's tail shows it.
        for w in worlds.values():
            errors = [l for l in w.log_file.read_text().splitlines() if '"level":"ERROR"' in l]
            for line in errors[:3]:
                log(f"{w.name} logged: {line[:600]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
