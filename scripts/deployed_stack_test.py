#!/usr/bin/env python3
"""The deployed-stack test: template.yaml, deployed with `sam deploy` into
ministack, driven through its HTTP API, its stream and its SES.

Run by scripts/deployed-stack-test.sh (which provides ministack and the SAM
tool chain's Python, boto3 and `sam`); needs AWS_ENDPOINT_URL on loopback.

1. Builds the Lambda binaries for the host (ministack runs provided.*
   bootstraps as host processes: x86_64 here, whatever the template's
   `arm64` says) and stages each as `bootstrap`.
2. `sam deploy --config-env ministack` of template.yaml with only CodeUri
   pointed at the staged binaries: ministack applies the SAM transform and
   creates the table, functions, roles, HttpApi routes, the stream mapping
   and the DLQ.
3. Checks what was deployed: the table's stream and TTL, the notifier's
   event source mapping as declared.
4. Seeds the table (`dropship seed` of the demo seed, each store
   connection's `api_base_url` pointed at a loopback stub so that no store
   sync leaves the machine), verifies the sender in SES, then drives the
   stack: create an order and cancel an item through the HttpApi routes
   (cancellation-api), a signed WooCommerce delivery through its route
   (webhook-intake), and the create-order sample event invoked directly;
   the web app's routes (cancellation-api: `/` redirects to the app, its
   files with their security headers).
5. The stream: each new cancellation reaches the notifier through the
   FilterCriteria; the partners' emails are read back from ministack's SES
   (`GET /_ministack/ses/messages`): exactly one per new cancellation, from
   SENDER_EMAIL to the partner, and nothing else, even after a grace period
   for duplicates. The Shopify partner's store sync reached the stub.
6. Event webhooks: the buyer registers an endpoint on a loopback receiver
   (the stack deployed with AllowInsecureWebhookUrls=true) and asks for a
   ping; the seller's cancellation reaches it once through the stream and
   the notifier, the ping through the delivery queue (SQS event source),
   each signed as docs/webhooks.md says; `GET /v1/events` holds the event
   as delivered. A second endpoint of the buyer's accepts connections and
   never answers: a second ping to it at once is refused (429 with
   Retry-After), and another partner's email (seller-woo's cancellation,
   made right after the one whose event hangs there) still arrives
   promptly, while a delivery to it is hanging, one at a time.
7. EDI: each sample document put in the EDI bucket's inbound/<company>/
   runs edi-intake (S3 event): cancellations with source edi, a 997 for
   each in outbound/<company>/, the file moved to processed/; the same
   document again changes nothing; a document for another company's order
   and another sender's interchange are rejected; partners' API
   cancellations reach an EDI seller as an 860 and an EDI buyer as an 865.
8. The app's browser tests (scripts/browser-tests.sh, those of
   browser-tests/ that run against a stack: sign-in, the Orders page, a
   whole-order cancellation) with Chromium loading the app from the HttpApi's
   own endpoint (`ApiEndpoint`, `http://<api id>.execute-api.localhost:<port>`,
   the API at the origin's root as on AWS), the tests' own API calls through
   the path-style URL below (node cannot resolve `*.localhost`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import ipaddress
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "target" / "sam-stack"
EVENTS = ROOT / "events"
# samconfig.toml [ministack.deploy.parameters] has the SenderEmail; each run
# deploys a stack of its own (a fresh table), named after that config's.
STACK = f"dropship-ministack-{int(time.time())}"
SENDER = "notifications@dropship.test"
BUCKET = "dropship-sam-artifacts"
LAMBDAS = ["cancellation-api", "webhook-intake", "notifier", "edi-intake"]
STREAM_WAIT_S = 30
# After the expected emails: how long to watch for one more (a duplicate).
DUPLICATE_GRACE_S = 3
# Another partner's email, from its cancellation, while a delivery hangs on
# an endpoint that never answers: less than the 10 s a hanging delivery
# would add if it shared the email's invocation.
PROMPT_S = 8

started = time.monotonic()
timings: list[tuple[str, float]] = []


def log(msg: str) -> None:
    print(f"deployed-stack: {msg}", flush=True)


class Step:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.t = time.monotonic()
        log(f"-- {self.name}")

    def __exit__(self, *exc):
        timings.append((self.name, time.monotonic() - self.t))


checks = 0


def check(cond: bool, what: str) -> None:
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1
    log(f"ok: {what}")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    return subprocess.run(cmd, cwd=ROOT, **kw)


def workspace_binaries() -> set[str]:
    out = run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        capture_output=True,
    ).stdout
    meta = json.loads(out)
    return {
        t["name"]
        for p in meta["packages"]
        for t in p["targets"]
        if "bin" in t["kind"]
    }


def build_and_stage(present: set[str]) -> None:
    """Host binaries as STAGE/<binary>/bootstrap."""
    missing = [b for b in LAMBDAS if b not in present]
    assert not missing, f"not binaries of the workspace: {missing}"
    # The test step's own build: nothing is compiled again after it.
    run([str(ROOT / "scripts" / "debug-build.sh")])
    shutil.rmtree(STAGE, ignore_errors=True)
    for b in LAMBDAS:
        d = STAGE / b
        d.mkdir(parents=True)
        # Debug info off: a smaller upload, the same code.
        run(["objcopy", "--strip-debug", str(ROOT / "target" / "debug" / b), str(d / "bootstrap")])
        (d / "bootstrap").chmod(0o755)
    # template.yaml as written, only CodeUri pointed at the staged binaries
    # (sam deploy zips each directory and uploads it).
    text = (ROOT / "template.yaml").read_text()
    for b in LAMBDAS:
        line = f"CodeUri: functions/{b}\n"
        assert text.count(line) == 1, f"template.yaml: {line!r} once"
        text = text.replace(line, f"CodeUri: {STAGE / b}\n")
    (STAGE / "template.yaml").write_text(text)


class StoreStub:
    """The partners' store platforms as the deployed notifier sees them: a
    loopback HTTP server that records each request and answers 404 (a
    refusal, recorded in the ledger as a failed store sync, not retried).
    The demo seed's connections name real hosts; the seed staged for this
    test points every connection's `api_base_url` here instead."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("content-length") or 0)
                if n:
                    self.rfile.read(n)
                stub.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = b'{"errors": "Not Found"}'
                self.send_response(404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seed_file(self) -> Path:
        seed = json.loads((EVENTS / "demo-seed.json").read_text())
        for c in seed["companies"]:
            if c.get("connection"):
                c["connection"]["api_base_url"] = self.url
        path = STAGE / "seed.json"
        path.write_text(json.dumps(seed))
        return path


class Receiver:
    """A partner's webhook endpoint on loopback: records every POST (path,
    headers, raw body) and answers 200."""

    def __init__(self):
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                rec.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Silent:
    """A webhook endpoint that accepts connections and never answers: when
    each connection opened and closed (the sender giving up)."""

    def __init__(self):
        self.opened: list[float] = []
        self.closed: list[float] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            self.opened.append(time.monotonic())
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass
        self.closed.append(time.monotonic())

    def open_at(self, t: float) -> int:
        """How many deliveries were hanging on the endpoint at time t."""
        return sum(1 for o in self.opened if o <= t) - sum(1 for c in self.closed if c <= t)

    def most_open(self) -> int:
        return max((self.open_at(t) for t in self.opened), default=0)


def verify_signature(secret: str, header: str, raw_body: bytes, tolerance: int = 300) -> bool:
    """A receiver's check, as docs/webhooks.md gives it."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)


def deploy() -> dict[str, str]:
    s3 = boto3.client("s3")
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    deployed = run(
        [
            "sam", "deploy",
            "--template-file", str(STAGE / "template.yaml"),
            "--config-file", str(ROOT / "samconfig.toml"),
            "--config-env", "ministack",
            "--stack-name", STACK,
            "--s3-bucket", BUCKET,
            "--no-progressbar",
        ],
        capture_output=True, text=True, check=False,
    )
    if deployed.returncode != 0:
        sys.stderr.write(deployed.stdout + deployed.stderr)
        raise AssertionError("sam deploy failed")
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    check(stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), f"stack {STACK} {stack['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def check_deployed(out: dict[str, str]) -> None:
    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName=out["TableName"])["Table"]
    check(table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
          "table stream NEW_IMAGE")
    check(not table.get("GlobalSecondaryIndexes"), "no secondary index (orders are listed from listing items)")
    check(table["DeletionProtectionEnabled"] is False, "deletion protection off for this throw-away stack")
    ttl = ddb.describe_time_to_live(TableName=out["TableName"])["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") == "DISABLED":
        # ministack 1.5.33's CloudFormation creates the table without its
        # TimeToLiveSpecification (and PointInTimeRecoverySpecification);
        # tests/tests/e2e/sam_template.rs checks that the template declares both.
        log("not checked here: TTL (ministack's CloudFormation does not apply TimeToLiveSpecification)")
    else:
        check(ttl.get("AttributeName") == "expires_at", "TTL on expires_at")

    lam = boto3.client("lambda")
    for key in ("CancellationApiFunctionName", "WebhookIntakeFunctionName", "NotifierFunctionName",
                "EdiIntakeFunctionName"):
        cfg = lam.get_function_configuration(FunctionName=out[key])
        check(cfg["Runtime"] == "provided.al2023" and cfg["Architectures"] == ["arm64"]
              and cfg["Environment"]["Variables"]["TABLE_NAME"] == out["TableName"]
              and cfg["LoggingConfig"]["LogFormat"] == "JSON",
              f"{key}: provided.al2023, arm64, TABLE_NAME, JSON logs")
    esms = lam.list_event_source_mappings(FunctionName=out["NotifierFunctionName"])["EventSourceMappings"]
    streams = [e for e in esms if ":dynamodb:" in e["EventSourceArn"]]
    queues = [e for e in esms if ":sqs:" in e["EventSourceArn"]]
    check(len(streams) == 1 and len(queues) == 1 and len(esms) == 2,
          "the notifier's two event sources: the table's stream and the webhook delivery queue")
    check(queues[0].get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
          "the delivery queue: partial batch responses")
    esm = streams[0]
    pattern = json.loads(esm["FilterCriteria"]["Filters"][0]["Pattern"])
    check(pattern == {"eventName": ["INSERT", "MODIFY"],
                      "dynamodb": {"NewImage": {"type": {"S": ["order"]},
                                                "new_cancellation": {"S": [{"exists": True}]}}}},
          "stream filter: writes of an order naming a new cancellation")
    check(esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and esm["BisectBatchOnFunctionError"]
          and esm["MaximumRetryAttempts"] == 5
          and esm["DestinationConfig"]["OnFailure"]["Destination"].startswith("arn:aws:sqs:"),
          "partial batch responses, bisect, 5 retries, SQS on failure")


def routes_from_openapi_body(stack: str, api_id: str) -> None:
    """ministack 1.5.33's CloudFormation creates an AWS::ApiGatewayV2::Api
    without importing its OpenAPI `Body`, which is where SAM puts an
    HttpApi's routes: the API has no route after the deploy. So, as AWS does
    on import, make each route of the body SAM generated from template.yaml
    (the stack's processed template), with its Lambda proxy integration
    (payload 2.0), through the ApiGatewayV2 API. Skipped should ministack
    ever import the body itself."""
    gw = boto3.client("apigatewayv2")
    if gw.get_routes(ApiId=api_id)["Items"]:
        log("ministack created the HttpApi's routes itself")
        return
    cfn = boto3.client("cloudformation")
    body = cfn.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
    body = json.loads(body) if isinstance(body, str) else body
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    lam = boto3.client("lambda")
    openapi = body["Resources"]["HttpApi"]["Properties"]["Body"]
    made = 0
    for path, methods in openapi["paths"].items():
        for method, op in methods.items():
            integration = op["x-amazon-apigateway-integration"]
            uri = integration["uri"]["Fn::Sub"]
            logical = re.search(r"/functions/\$\{(\w+)\.Arn\}/invocations$", uri).group(1)
            arn = lam.get_function_configuration(FunctionName=physical[logical])["FunctionArn"]
            i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                      PayloadFormatVersion=integration["payloadFormatVersion"])
            gw.create_route(ApiId=api_id, RouteKey=f"{method.upper()} {path}",
                            Target=f"integrations/{i['IntegrationId']}")
            made += 1
    log(f"made the {made} routes of the HttpApi's OpenAPI body (ministack does not import it)")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Api:
    """The HttpApi through ministack's path-style execute-api URL."""

    def __init__(self, endpoint: str, api_id: str):
        self.base = f"{endpoint}/_aws/execute-api/{api_id}"
        # A redirect's Location is on the API's origin, not under this base.
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        """(status, headers, body), redirects not followed."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def call(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        status, _, body = self.request(method, path, headers, body)
        return status, body


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def drive(out: dict[str, str], endpoint: str, receiver: Receiver, silent: Silent) -> dict:
    api = Api(endpoint, out["HttpApiId"])
    seen: dict = {}

    # The buyer registers a webhook endpoint (its partner's cancellations
    # reach it) and asks for a test ping (through the delivery queue).
    buyer = {"authorization": "Bearer demo-buyer-api-key", "content-type": "application/json"}
    status, body = api.call("POST", "/v1/webhook-endpoints", buyer,
                            json.dumps({"url": f"{receiver.url}/hooks", "events": ["*"]}).encode())
    check(status == 201, f"POST /v1/webhook-endpoints: {status} {body[:300]!r}")
    hook = json.loads(body)
    check(hook["secret"].startswith("whsec_") and hook["status"] == "enabled", "the endpoint, with its secret")
    seen["hook"] = hook
    status, body = api.call("GET", "/v1/webhook-endpoints", buyer, None)
    listed = json.loads(body)["webhook_endpoints"]
    check(status == 200 and [e["id"] for e in listed] == [hook["id"]] and "secret" not in listed[0],
          "GET /v1/webhook-endpoints: the endpoint, without its secret")
    status, body = api.call("POST", "/v1/webhook-endpoints",
                            buyer, json.dumps({"url": "https://169.254.169.254/latest/meta-data/",
                                               "events": ["*"]}).encode())
    check(status == 422 and json.loads(body)["code"] == "invalid_webhook_url",
          "the metadata address is refused, even with insecure URLs allowed")
    status, body = api.call("POST", f"/v1/webhook-endpoints/{hook['id']}/test", buyer, None)
    check(status == 202, f"POST /v1/webhook-endpoints/{{id}}/test: {status} {body[:200]!r}")
    seen["ping_id"] = json.loads(body)["event_id"]

    # A second endpoint of the buyer's never answers: its deliveries must
    # hold up no one's email. One ping; another at once is refused.
    status, body = api.call("POST", "/v1/webhook-endpoints", buyer,
                            json.dumps({"url": f"{silent.url}/never", "events": ["*"]}).encode())
    check(status == 201, f"an endpoint that never answers, registered: {status}")
    silent_id = json.loads(body)["id"]
    status, body = api.call("POST", f"/v1/webhook-endpoints/{silent_id}/test", buyer, None)
    check(status == 202, f"a ping to the endpoint that never answers: {status} {body[:200]!r}")
    status, headers, body = api.request("POST", f"/v1/webhook-endpoints/{silent_id}/test", buyer, None)
    wait = headers.get("retry-after") or ""
    check(status == 429 and json.loads(body)["code"] == "rate_limited" and wait.isdigit() and 1 <= int(wait) <= 30,
          f"a second ping at once: 429 rate_limited with Retry-After: {status} {wait!r} {body[:200]!r}")

    # cancellation-api: the create-order sample event's request, through the route.
    create = sample("api/create-order.json")
    status, body = api.call("POST", create["rawPath"], create["headers"], create["body"].encode())
    check(status == 201, f"POST /v1/orders through the HttpApi: {status} {body[:300]!r}")
    order = json.loads(body)
    seen["order_id"] = order["id"]

    # The same event invoked directly (as `sam local invoke -e` would): the
    # Idempotency-Key replays the first answer.
    r = boto3.client("lambda").invoke(FunctionName=out["CancellationApiFunctionName"],
                                      Payload=json.dumps(create).encode())
    payload = json.loads(r["Payload"].read())
    check(r["StatusCode"] == 200 and "FunctionError" not in r and payload["statusCode"] == 201
          and json.loads(payload["body"])["id"] == order["id"],
          "the create-order event invoked directly replays the same order")

    # The seller cancels one unit (the cancel-items sample's body).
    cancel = sample("api/cancel-items.json")
    headers = dict(cancel["headers"], authorization="Bearer demo-seller-api-key")
    headers.pop("idempotency-key", None)
    status, body = api.call("POST", f"/v1/orders/{order['id']}/cancellations", headers, cancel["body"].encode())
    check(status == 201, f"POST /v1/orders/{{id}}/cancellations: {status} {body[:300]!r}")
    c = json.loads(body)
    check(c["initiated_by"] == "seller" and c["source"] == "api", "the seller's cancellation, source api")
    seen["cancellation_id"] = c["id"]

    status, body = api.call("GET", f"/v1/orders/{order['id']}", {"authorization": "Bearer demo-buyer-api-key"}, None)
    check(status == 200 and json.loads(body)["cancellation_status"] == "partial", "GET the order: partially cancelled")

    # webhook-intake: a signed WooCommerce order.updated (cuts a bowl).
    hdrs = {}
    for line in (EVENTS / "webhooks/woocommerce-order-updated.headers").read_text().splitlines():
        if line.strip():
            k, v = line.split(":", 1)
            hdrs[k.strip()] = v.strip()
    wbody = (EVENTS / "webhooks/woocommerce-order-updated.body").read_bytes()
    status, body = api.call("POST", "/webhooks/woocommerce/seller-woo", hdrs, wbody)
    seen["woo_cancelled_at"] = time.monotonic()
    check(status == 200 and json.loads(body)["status"] == "processed",
          f"POST /webhooks/woocommerce/seller-woo through the HttpApi: {status} {body[:300]!r}")
    forged = dict(hdrs, **{"X-WC-Webhook-Signature": "AAAA"})
    status, _ = api.call("POST", "/webhooks/woocommerce/seller-woo", forged, wbody)
    check(status == 401, "a forged delivery: 401")

    # A secret rotated in Secrets Manager is honoured at once by the warm
    # function (a failed check reads the company's secrets again), and the
    # old one is refused at once.
    sm = boto3.client("secretsmanager")
    name = out["SecretsPrefix"] + "seller-woo"
    current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    sm.put_secret_value(SecretId=name, SecretString=json.dumps(dict(current, webhook_secret="rotated-woo-secret")))
    rotated = dict(hdrs, **{"X-WC-Webhook-Signature": base64.b64encode(
        hmac.new(b"rotated-woo-secret", wbody, hashlib.sha256).digest()).decode()})
    status, body = api.call("POST", "/webhooks/woocommerce/seller-woo", rotated, wbody)
    check(status == 200, f"a delivery signed with the rotated secret: {status} {body[:200]!r}")
    status, _ = api.call("POST", "/webhooks/woocommerce/seller-woo", hdrs, wbody)
    check(status == 401, "a delivery signed with the secret rotated away: 401")

    # Only the contract's routes exist (API Gateway answers the rest itself).
    status, _ = api.call("DELETE", f"/v1/orders/{order['id']}", {"authorization": "Bearer demo-buyer-api-key"}, None)
    check(status == 404, "a route not in the template: 404 from API Gateway")

    check_app_routes(api)
    return seen


def check_no_secret_in_table(out: dict[str, str], seed: dict) -> None:
    """Every item of the table, scanned: none holds a secret value of the
    seed; each store-connected company has its secret in Secrets Manager,
    written once however often the seed ran."""
    secrets = [v for c in seed["companies"] for k, v in (c.get("connection") or {}).items()
               if k in ("webhook_secret", "access_token", "consumer_key", "consumer_secret") and v]
    check(len(secrets) >= 6, f"the seed has secrets ({len(secrets)})")
    items, start = [], None
    ddb = boto3.client("dynamodb")
    while True:
        page = ddb.scan(TableName=out["TableName"], **({"ExclusiveStartKey": start} if start else {}))
        items += [json.dumps(i) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    leaked = [s for s in secrets for i in items if s in i]
    check(len(items) > 20 and not leaked, f"no secret in any of the table's {len(items)} items")
    sm = boto3.client("secretsmanager")
    for c in seed["companies"]:
        if not c.get("connection"):
            continue
        name = out["SecretsPrefix"] + c["id"]
        value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
        versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
        check(value.get("webhook_secret") == c["connection"].get("webhook_secret") and len(versions) == 1,
              f"{name}: the company's secrets, one version after two seeds")


def check_metrics() -> None:
    """The deployed functions' counts reached their log groups as embedded
    metric documents (namespace Dropship), as CloudWatch turns into metrics."""
    logs = boto3.client("logs")
    wanted = {
        "cancellation-api": ("CancellationsCreated", {"Source": "api"}),
        "webhook-intake": ("WebhookDeliveries", {"Outcome": "unauthorized"}),
        "notifier": ("Notifications", {"Channel": "email", "Result": "sent"}),
    }
    for fn, (metric, dims) in wanted.items():
        group = f"/aws/lambda/{STACK}/{fn}"
        docs = []
        for _ in range(20):
            try:
                events = logs.filter_log_events(logGroupName=group)["events"]
            except logs.exceptions.ResourceNotFoundException:
                events = []
            for e in events:
                text = e["message"]
                start = text.find("{")
                if start >= 0 and '"_aws"' in text:
                    try:
                        docs.append(json.loads(text[start:]))
                    except ValueError:
                        pass
            if any(d.get(metric) == 1 and all(d.get(k) == v for k, v in dims.items()) for d in docs):
                break
            time.sleep(0.5)
        check(any(d.get(metric) == 1 and d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Dropship"
                  and all(d.get(k) == v for k, v in dims.items()) for d in docs),
              f"{fn}: a {metric} {dims} metric document in {group}")


CSP_START = "default-src 'none'; script-src 'self';"


def check_app_routes(api: Api) -> None:
    """The web app through its routes: cancellation-api serves the files
    embedded in it, with the same headers as `dropship serve`."""
    for path in ("/", "/app"):
        status, headers, _ = api.request("GET", path, {}, None)
        check(status == 302 and headers.get("location") == "/app/index.html",
              f"GET {path}: 302 to /app/index.html ({status} {headers.get('location')})")
    for path, content_type, marker in (("/app/index.html", "text/html; charset=utf-8", b"<!doctype html>"),
                                       ("/app/app.js", "text/javascript; charset=utf-8", b"import "),
                                       ("/app/favicon.svg", "image/svg+xml", b"<svg")):
        status, headers, body = api.request("GET", path, {}, None)
        check(status == 200 and headers.get("content-type") == content_type and marker in body
              and (headers.get("content-security-policy") or "").startswith(CSP_START)
              and headers.get("x-content-type-options") == "nosniff"
              and headers.get("x-frame-options") == "DENY"
              and headers.get("referrer-policy") == "no-referrer"
              and headers.get("cache-control") == "no-cache" and headers.get("etag"),
              f"GET {path}: {content_type}, the app's security headers, an ETag ({status} {dict(headers)})")
        status, _, body = api.request("GET", path, {"if-none-match": headers.get("etag") or ""}, None)
        check(status == 304 and not body, f"GET {path} with its ETag: 304 ({status})")
    status, headers, _ = api.request("GET", "/app/nope.js", {}, None)
    check(status == 404 and (headers.get("content-security-policy") or "").startswith(CSP_START),
          f"GET /app/nope.js: 404 from the app's handler, its headers too ({status})")


def browser_tests(out: dict[str, str], endpoint: str) -> None:
    """The app's browser tests, the app loaded from the stack's own URL."""
    api = boto3.client("apigatewayv2").get_api(ApiId=out["HttpApiId"])
    app_origin = api["ApiEndpoint"].rstrip("/")
    host = urllib.parse.urlparse(app_origin).hostname or ""
    check(host.startswith(f"{out['HttpApiId']}.execute-api.") and host.endswith(".localhost"),
          f"the HttpApi's endpoint is on loopback (Chromium resolves *.localhost itself): {app_origin}")
    check(out["AppUrl"] == out["ApiUrl"] + "app/index.html", f"AppUrl is the app on the API's origin: {out['AppUrl']}")
    env = dict(os.environ,
               DROPSHIP_APP_URL=app_origin,
               DROPSHIP_API_URL=f"{endpoint}/_aws/execute-api/{out['HttpApiId']}")
    done = run([str(ROOT / "scripts" / "browser-tests.sh")], env=env, check=False)
    check(done.returncode == 0, f"the browser tests against the stack ({app_origin}/app/index.html)")


def ses_messages(endpoint: str) -> list[dict]:
    """Every message ministack's SES has accepted, oldest first."""
    with urllib.request.urlopen(f"{endpoint}/_ministack/ses/messages", timeout=10) as r:
        # {"messages": {account: [{"MessageId", "Source", "To", "Subject", "BodyText", ...}]}}
        return [m for per_account in json.loads(r.read())["messages"].values() for m in per_account]


def check_stream(seen: dict, endpoint: str, stub: StoreStub) -> None:
    """The two new cancellations (the seller's through the API on the new
    order; seller-woo's through its webhook on ord_demo_shopify_woo) each
    give their partner exactly one email, and nothing else is sent."""
    expected = {
        seen["order_id"]: "orders@acme-home.example",  # buyer-api
        "ord_demo_shopify_woo": "hello@maple-co.example",  # buyer-shopify
    }

    def new_messages() -> list[dict]:
        return [m for m in ses_messages(endpoint) if m["MessageId"] not in seen["ses_before"]]

    def about(order_id: str, messages: list[dict]) -> list[dict]:
        # The subject: "Order <id> (your order <ref>): ... by <initiator>".
        return [m for m in messages if re.match(rf"Order {re.escape(order_id)}\b", m["Subject"])]

    deadline = time.monotonic() + STREAM_WAIT_S
    first_seen: dict[str, float] = {}
    while True:
        mine = new_messages()
        now = time.monotonic()
        for o in expected:
            if o not in first_seen and about(o, mine):
                first_seen[o] = now
        if all(about(o, mine) for o in expected) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    seen["email_seen_at"] = first_seen
    waited = STREAM_WAIT_S - (deadline - time.monotonic())
    log(f"the partners' emails in ministack's SES after {waited:.1f} s")
    # Anything more (a duplicate, a stray record that got through) has had time to come.
    time.sleep(DUPLICATE_GRACE_S)
    mine = new_messages()
    subjects = [m["Subject"] for m in mine]
    for order_id, partner in expected.items():
        emails = about(order_id, mine)
        check(len(emails) == 1, f"exactly one email about order {order_id}: {len(emails)} in {subjects}")
        m = emails[0]
        check(m["Source"] == SENDER and m["To"] == [partner],
              f"order {order_id}: from SENDER_EMAIL {SENDER} to the partner {partner}: {m['Source']} -> {m['To']}")
    check(len(mine) == len(expected), f"no other email: {subjects}")
    api_email = about(seen["order_id"], mine)[0]
    check("MUG-BLUE" in api_email["BodyText"] and "Item is out of stock" in api_email["BodyText"],
          "the API cancellation's email lists the cancelled line and its reason")
    woo_email = about("ord_demo_shopify_woo", mine)[0]
    check("BOWL-OAK" in woo_email["BodyText"], "the webhook cancellation's email lists the cut bowl")
    # buyer-shopify gets a store sync too (Shopify refund flow): to the stub.
    graphql = [r for r in stub.requests if r[0] == "POST" and r[1] == "/admin/api/2026-10/graphql.json"]
    check(graphql and all(h.get("x-shopify-access-token") == "shpat_demo_buyer" for _, _, h in graphql),
          f"buyer-shopify's store sync went to its (stub) store: {[(m, p) for m, p, _ in stub.requests]}")


def check_event_webhooks(seen: dict, endpoint: str, out: dict[str, str], receiver: Receiver) -> None:
    """The seller's cancellation reaches the buyer's endpoint once (stream,
    notifier, signed POST), the ping through the delivery queue (SQS,
    notifier), and the buyer's event log holds the event as delivered."""
    secret = seen["hook"]["secret"]

    def events() -> list[tuple[dict[str, str], bytes, dict]]:
        return [(h, b, json.loads(b)) for p, h, b in receiver.posts if p == "/hooks"]

    deadline = time.monotonic() + STREAM_WAIT_S
    while time.monotonic() < deadline:
        types = {e["type"] for _, _, e in events()}
        if {"cancellation.created", "ping"} <= types:
            break
        time.sleep(0.25)
    time.sleep(DUPLICATE_GRACE_S)
    got = events()
    check(all(verify_signature(secret, h["dropship-signature"], b) for h, b, _ in got),
          "every delivery's Dropship-Signature verifies with the endpoint's secret")
    check(all(h["dropship-event-id"] == e["id"] and h["content-type"] == "application/json" for h, _, e in got),
          "Dropship-Event-Id is the event's id")
    created = [e for _, _, e in got if e["type"] == "cancellation.created"]
    check(len(created) == 1 and created[0]["data"]["cancellation"]["id"] == seen["cancellation_id"]
          and created[0]["data"]["order"]["id"] == seen["order_id"],
          f"one cancellation.created, for the seller's cancellation: {[e['type'] for _, _, e in got]}")
    pings = [e for _, _, e in got if e["type"] == "ping"]
    check(len(pings) == 1 and pings[0]["id"] == seen["ping_id"], "the ping, once, through the delivery queue")
    api = Api(endpoint, out["HttpApiId"])
    status, body = api.call("GET", "/v1/events", {"authorization": "Bearer demo-buyer-api-key"}, None)
    logged = json.loads(body)["events"]
    check(status == 200 and logged == [created[0]], "GET /v1/events: the event exactly as delivered (no ping)")


def check_silent_endpoint(seen: dict, silent: Silent) -> None:
    """An endpoint that never answers holds up no one's email: seller-woo's
    cancellation, made right after the seller's whose event goes to the
    silent endpoint, is emailed to its partner promptly, while a delivery
    hangs there; deliveries to the endpoint go one at a time."""
    at = seen["email_seen_at"].get("ord_demo_shopify_woo")
    check(at is not None, "seller-woo's cancellation was emailed")
    waited = at - seen["woo_cancelled_at"]
    log(f"seller-woo's email seen {waited:.1f} s after its cancellation; "
        f"{len(silent.opened)} delivery(ies) reached the silent endpoint, {silent.open_at(at)} hanging then")
    check(silent.opened, "deliveries reached the endpoint that never answers")
    check(waited < PROMPT_S, f"another partner's email within {PROMPT_S} s of its cancellation: {waited:.1f} s")
    check(silent.open_at(at) >= 1, "the email came while a delivery to the silent endpoint was hanging")
    check(silent.most_open() == 1, f"one delivery at a time to an endpoint: {silent.most_open()} at once")


def check_edi(out: dict[str, str], endpoint: str) -> None:
    """The sample documents through the EDI bucket: an object in
    inbound/<company>/ runs edi-intake (S3 event), which cancels, answers
    with a 997 in outbound/<company>/ and moves the file to processed/; a
    partner's cancellation reaches an EDI seller as an 860 there."""
    s3 = boto3.client("s3")
    bucket = out["EdiBucketName"]
    api = Api(endpoint, out["HttpApiId"])

    def keys(prefix: str) -> list[str]:
        r = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for o in r.get("Contents", []))

    def wait_for(prefix: str, suffix: str, count: int) -> list[str]:
        deadline = time.monotonic() + STREAM_WAIT_S
        while True:
            found = [k for k in keys(prefix) if k.endswith(suffix)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.25)

    def order(key: str, order_id: str) -> dict:
        status, body = api.call("GET", f"/v1/orders/{order_id}", {"authorization": f"Bearer {key}"}, None)
        check(status == 200, f"GET /v1/orders/{order_id}: {status}")
        return json.loads(body)

    sample = (EVENTS / "edi" / "860-cancel-order.x12").read_bytes()
    s3.put_object(Bucket=bucket, Key="inbound/buyer-edi/860-cancel-order.x12", Body=sample)
    acks = wait_for("outbound/buyer-edi/", "-997.x12", 1)
    check(len(acks) == 1, f"a 997 in outbound/buyer-edi/: {acks}")
    ack = s3.get_object(Bucket=bucket, Key=acks[0])["Body"].read().decode()
    check("AK9*A*1*1*1" in ack and "*ZZ*ACMEEDI" in ack, "the 997 accepts the group, addressed to ACMEEDI")
    check(keys("processed/buyer-edi/") == ["processed/buyer-edi/860-cancel-order.x12"]
          and keys("inbound/buyer-edi/") == [], "the file moved from inbound/ to processed/")
    o = order("demo-buyer-edi-key", "ord_edi_1001")
    check(o["cancellation_status"] == "cancelled" and o["cancellations"][0]["source"] == "edi"
          and o["cancellations"][0]["initiated_by"] == "buyer",
          "PO-1001 cancelled whole, source edi, by the buyer")

    # The same document again: answered, and nothing changes.
    s3.put_object(Bucket=bucket, Key="inbound/buyer-edi/860-cancel-order.x12", Body=sample)
    acks = wait_for("outbound/buyer-edi/", "-997.x12", 2)
    check(len(acks) == 2 and len(order("demo-buyer-edi-key", "ord_edi_1001")["cancellations"]) == 1,
          "the same 860 again: a second 997, no second cancellation")

    # Lines: DI, QD and CA on PO-1002.
    s3.put_object(Bucket=bucket, Key="inbound/buyer-edi/860-change-lines.x12",
                  Body=(EVENTS / "edi" / "860-change-lines.x12").read_bytes())
    wait_for("outbound/buyer-edi/", "-997.x12", 3)
    o = order("demo-buyer-edi-key", "ord_edi_1002")
    check([l["cancelled"] for l in o["line_items"]] == [2, 2, 1], f"the buyer's 860 lines: {o['line_items']}")

    # PO-1003 is buyer-api's: buyer-edi's document for it is sound X12 (a
    # 997 accepting it) refused for the business (an 824 naming the PO).
    other = sample.decode().replace("PO-1001", "PO-1003").encode()
    s3.put_object(Bucket=bucket, Key="inbound/buyer-edi/860-other.x12", Body=other)
    acks = wait_for("outbound/buyer-edi/", "-997.x12", 4)
    advice = wait_for("outbound/buyer-edi/", "-824.x12", 1)
    check(len(acks) == 4 and len(advice) == 1, f"a 997 and an 824 for the other company's PO: {acks} {advice}")
    accepted = s3.get_object(Bucket=bucket, Key=acks[3])["Body"].read().decode()
    refused = s3.get_object(Bucket=bucket, Key=advice[0])["Body"].read().decode()
    check("AK5*A" in accepted and "OTI*TR*PO*PO-1003" in refused and "TED*POI" in refused
          and [l["cancelled"] for l in order("demo-buyer-api-key", "ord_edi_1003")["line_items"]] == [0, 0, 0],
          "another company's order: 997 accepted, 824 refusing the PO, nothing changed")

    wrong = (EVENTS / "edi" / "860-wrong-sender.x12").read_bytes()
    s3.put_object(Bucket=bucket, Key="inbound/buyer-edi/860-wrong-sender.x12", Body=wrong)
    acks = wait_for("outbound/buyer-edi/", "-997.x12", 5)
    check(len(acks) == 5, f"a 997 for the wrong sender's interchange: {acks}")
    rejected = s3.get_object(Bucket=bucket, Key=acks[4])["Body"].read().decode()
    check("AK9*R" in rejected, "another sender's interchange is rejected whole")

    s3.put_object(Bucket=bucket, Key="inbound/seller-edi/855-ack-lines.x12",
                  Body=(EVENTS / "edi" / "855-ack-lines.x12").read_bytes())
    wait_for("outbound/seller-edi/", "-997.x12", 1)
    o = order("demo-seller-edi-key", "ord_edi_1003")
    check([l["cancelled"] for l in o["line_items"]] == [0, 1, 2], "the seller's 855: IR and IQ applied")
    s3.put_object(Bucket=bucket, Key="inbound/seller-edi/865-seller-change.x12",
                  Body=(EVENTS / "edi" / "865-seller-change.x12").read_bytes())
    wait_for("outbound/seller-edi/", "-997.x12", 2)
    o = order("demo-seller-edi-key", "ord_edi_1004")
    check([l["cancelled"] for l in o["line_items"]] == [1, 3]
          and all(c["source"] == "edi" and c["initiated_by"] == "seller" for c in o["cancellations"]),
          "the seller's 865: DI and QD applied, source edi")

    # The buyer cancels a line of PO-1003: its EDI seller gets an 860.
    status, body = api.call("POST", "/v1/orders/ord_edi_1003/cancellations",
                            {"authorization": "Bearer demo-buyer-api-key", "content-type": "application/json"},
                            json.dumps({"items": [{"line_item_id": "li_3", "quantity": 1,
                                                   "reason": "Ordered too many"}]}).encode())
    check(status == 201, f"the buyer's cancellation on PO-1003: {status} {body[:200]!r}")
    docs = wait_for("outbound/seller-edi/", "-860.x12", 1)
    check(len(docs) == 1, f"an 860 in outbound/seller-edi/: {docs}")
    doc = s3.get_object(Bucket=bucket, Key=docs[0])["Body"].read().decode()
    # POC03 is the quantity before the change, POC04 after it (X12's reading).
    check("BCH*04*" in doc and "PO-1003" in doc and "POC*3*QD*3*2*EA" in doc,
          "the 860: line 3 decreased from 3 to 2 on PO-1003")

    # The seller's translator rejects that 860 (a 997 naming its GS06): the
    # cancellation's EDI notification turns failed, saying so.
    gs = next(line for line in doc.replace("\n", "").split("~") if line.startswith("GS*"))
    group = gs.split("*")[6]
    reject = ("ISA*00*          *00*          *ZZ*BIRCHEDI       *ZZ*DROPSHIP       *261207*1000*U*00401*000000901*0*P*>~"
              "GS*FA*BIRCHEDI*DROPSHIP*20261207*1000*901*X*004010~ST*997*0001~"
              f"AK1*PC*{group}~AK2*860*0001~AK5*R*5~AK9*R*1*1*0~SE*6*0001~GE*1*901~IEA*1*000000901~")
    s3.put_object(Bucket=bucket, Key="inbound/seller-edi/997-reject.x12", Body=reject.encode())
    deadline = time.monotonic() + STREAM_WAIT_S
    while "processed/seller-edi/997-reject.x12" not in keys("processed/seller-edi/") and time.monotonic() < deadline:
        time.sleep(0.25)
    o = order("demo-seller-edi-key", "ord_edi_1003")
    notified = [c.get("notifications", {}).get("edi", {}) for c in o["cancellations"] if c["source"] == "api"]
    check(len(notified) == 1 and notified[0].get("status") == "failed" and "AK9 R" in notified[0].get("detail", ""),
          f"the seller's 997 rejecting our 860 fails its notification: {notified}")

    # The seller cancels what is left of PO-1002: its EDI buyer gets an 865.
    status, body = api.call("POST", "/v1/orders/ord_edi_1002/cancellations",
                            {"authorization": "Bearer demo-seller-api-key", "content-type": "application/json"},
                            json.dumps({"reason": "Out of stock"}).encode())
    check(status == 201, f"the seller's cancellation on PO-1002: {status} {body[:200]!r}")
    docs = wait_for("outbound/buyer-edi/", "-865.x12", 1)
    check(len(docs) == 1, f"an 865 in outbound/buyer-edi/: {docs}")
    doc = s3.get_object(Bucket=bucket, Key=docs[0])["Body"].read().decode()
    check("BCA*01*" in doc and "PO-1002" in doc, "the 865: PO-1002 cancelled whole")


def main() -> int:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urllib.parse.urlparse(endpoint).hostname or ""
    if not host or not (host == "localhost" or ipaddress.ip_address(host).is_loopback):
        log(f"AWS_ENDPOINT_URL must be a loopback ministack, not {endpoint!r}: run scripts/deployed-stack-test.sh")
        return 2
    with Step("build and stage the Lambda binaries (host, debug)"):
        build_and_stage(workspace_binaries())
    with Step("sam deploy --config-env ministack"):
        out = deploy()
    with Step("check the deployed resources"):
        check_deployed(out)
        routes_from_openapi_body(STACK, out["HttpApiId"])
    with Step("seed, verify the SES sender, drive the HttpApi"):
        stub = StoreStub()
        seed = stub.seed_file()
        for _ in range(2):  # the second run changes nothing
            run([str(ROOT / "target/debug/dropship"), "seed", str(seed),
                 "--dynamodb-table", out["TableName"], "--secrets-prefix", out["SecretsPrefix"]],
                stdout=subprocess.DEVNULL)
        check_no_secret_in_table(out, json.loads(seed.read_text()))
        run([str(ROOT / "target/debug/dropship"), "seed", str(EVENTS / "edi" / "seed.json"),
             "--dynamodb-table", out["TableName"], "--secrets-prefix", out["SecretsPrefix"]],
            stdout=subprocess.DEVNULL)
        ses = boto3.client("ses")
        ses.verify_email_identity(EmailAddress=SENDER)
        attrs = ses.get_identity_verification_attributes(Identities=[SENDER])["VerificationAttributes"]
        check(attrs.get(SENDER, {}).get("VerificationStatus") == "Success",
              f"the sender {SENDER} is a verified SES identity (ministack refuses mail from others)")
        # A ministack that was running already may hold earlier runs' emails.
        ses_before = {m["MessageId"] for m in ses_messages(endpoint)}
        receiver = Receiver()
        silent = Silent()
        seen = drive(out, endpoint, receiver, silent)
        seen["ses_before"] = ses_before
    with Step("the stream: new cancellations -> notifier -> SES"):
        check_stream(seen, endpoint, stub)
    with Step("event webhooks: stream and delivery queue -> notifier -> the partner's endpoint"):
        check_event_webhooks(seen, endpoint, out, receiver)
    with Step("an endpoint that never answers holds up no one's email"):
        check_silent_endpoint(seen, silent)
    with Step("EDI: the bucket's inbound/ -> edi-intake -> 997s; a partner's cancellation -> an 860"):
        check_edi(out, endpoint)
    with Step("metric documents in the functions' logs"):
        check_metrics()
    # After the stream's exact count of emails: the app's cancellations mail too.
    with Step("browser tests: the app loaded from the stack"):
        browser_tests(out, endpoint)
    total = time.monotonic() - started
    for name, secs in timings:
        log(f"{secs:6.1f} s  {name}")
    log(f"{total:6.1f} s  total: {checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
