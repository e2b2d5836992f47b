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
4. Seeds the table (`dropship seed`), then drives the stack:
   create an order and cancel an item through the HttpApi routes
   (cancellation-api), a signed WooCommerce delivery through its route
   (webhook-intake), and the create-order sample event invoked directly.
5. The stream: each new cancellation reaches the notifier through the
   FilterCriteria, and nothing else does; with the real notifier, the
   partner's email is read back from ministack's SES.
"""

from __future__ import annotations

import ipaddress
import json
import re
import os
import shutil
import subprocess
import sys
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
LAMBDAS = ["cancellation-api", "webhook-intake", "notifier"]
STREAM_WAIT_S = 30

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


# TODO(notifier merge): until functions/notifier is in the workspace, the
# notifier's function runs this stand-in: a Lambda Runtime API loop that
# records each batch it is given and reports no failures. It shows the
# stream mapping and its filter at work; the real notifier replaces it, and
# the test then reads the partner's email back from SES instead.
STAND_IN = """#!/usr/bin/env python3
import json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(f"http://{api}/next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], r.read()
    with open(RECORD, "ab") as f:
        f.write(event.replace(b"\\n", b" ") + b"\\n")
    body = json.dumps({"batchItemFailures": []}).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"http://{api}/{rid}/response", data=body, method="POST")).read()
"""


def build_and_stage(present: set[str]) -> Path | None:
    """Host binaries as STAGE/<binary>/bootstrap; the stand-in's record file
    when the notifier is not built."""
    packages = [b for b in LAMBDAS if b in present] + ["dropship"]
    run(["cargo", "build", "--locked", "--bins"] + [a for p in packages for a in ("-p", p)])
    shutil.rmtree(STAGE, ignore_errors=True)
    stand_in_record = None
    for b in LAMBDAS:
        d = STAGE / b
        d.mkdir(parents=True)
        if b in present:
            # Debug info off: a smaller upload, the same code.
            run(["objcopy", "--strip-debug", str(ROOT / "target" / "debug" / b), str(d / "bootstrap")])
        else:
            assert b == "notifier", b
            stand_in_record = STAGE / "notifier-stand-in.jsonl"
            (d / "bootstrap").write_text(STAND_IN.replace("RECORD", repr(str(stand_in_record))))
        (d / "bootstrap").chmod(0o755)
    # template.yaml as written, only CodeUri pointed at the staged binaries
    # (sam deploy zips each directory and uploads it).
    text = (ROOT / "template.yaml").read_text()
    for b in LAMBDAS:
        line = f"CodeUri: functions/{b}\n"
        assert text.count(line) == 1, f"template.yaml: {line!r} once"
        text = text.replace(line, f"CodeUri: {STAGE / b}\n")
    (STAGE / "template.yaml").write_text(text)
    return stand_in_record


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
    check(sorted(g["IndexName"] for g in table["GlobalSecondaryIndexes"]) == ["gsi1", "gsi2"], "GSIs gsi1, gsi2")
    check(table["DeletionProtectionEnabled"] is False, "deletion protection off for this throw-away stack")
    ttl = ddb.describe_time_to_live(TableName=out["TableName"])["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") == "DISABLED":
        # ministack 1.5.33's CloudFormation creates the table without its
        # TimeToLiveSpecification (and PointInTimeRecoverySpecification);
        # shared/tests/sam_template.rs checks that the template declares both.
        log("not checked here: TTL (ministack's CloudFormation does not apply TimeToLiveSpecification)")
    else:
        check(ttl.get("AttributeName") == "expires_at", "TTL on expires_at")

    lam = boto3.client("lambda")
    for key in ("CancellationApiFunctionName", "WebhookIntakeFunctionName", "NotifierFunctionName"):
        cfg = lam.get_function_configuration(FunctionName=out[key])
        check(cfg["Runtime"] == "provided.al2023" and cfg["Architectures"] == ["arm64"]
              and cfg["Environment"]["Variables"]["TABLE_NAME"] == out["TableName"]
              and cfg["LoggingConfig"]["LogFormat"] == "JSON",
              f"{key}: provided.al2023, arm64, TABLE_NAME, JSON logs")
    esms = lam.list_event_source_mappings(FunctionName=out["NotifierFunctionName"])["EventSourceMappings"]
    check(len(esms) == 1, "one event source mapping on the notifier")
    esm = esms[0]
    pattern = json.loads(esm["FilterCriteria"]["Filters"][0]["Pattern"])
    check(pattern == {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["cancellation"]}}}},
          "stream filter: INSERT of type = cancellation")
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


class Api:
    """The HttpApi through ministack's path-style execute-api URL."""

    def __init__(self, endpoint: str, api_id: str):
        self.base = f"{endpoint}/_aws/execute-api/{api_id}"

    def call(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def drive(out: dict[str, str], endpoint: str) -> dict:
    api = Api(endpoint, out["HttpApiId"])
    seen: dict = {}

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
    check(status == 200 and json.loads(body)["status"] == "processed",
          f"POST /webhooks/woocommerce/seller-woo through the HttpApi: {status} {body[:300]!r}")
    forged = dict(hdrs, **{"X-WC-Webhook-Signature": "AAAA"})
    status, _ = api.call("POST", "/webhooks/woocommerce/seller-woo", forged, wbody)
    check(status == 401, "a forged delivery: 401")

    # Only the contract's routes exist (API Gateway answers the rest itself).
    status, _ = api.call("DELETE", f"/v1/orders/{order['id']}", {"authorization": "Bearer demo-buyer-api-key"}, None)
    check(status == 404, "a route not in the template: 404 from API Gateway")
    return seen


def stream_records(record_file: Path) -> list[dict]:
    if not record_file.exists():
        return []
    return [r for line in record_file.read_text().splitlines() for r in json.loads(line)["Records"]]


def check_stream(seen: dict, record_file: Path | None, endpoint: str) -> None:
    deadline = time.monotonic() + STREAM_WAIT_S
    if record_file is not None:
        # TODO(notifier merge): the stand-in's record; drop with the stand-in.
        while time.monotonic() < deadline and len(stream_records(record_file)) < 2:
            time.sleep(0.25)
        time.sleep(1.0)  # anything else that would (wrongly) pass the filter
        records = stream_records(record_file)
        kinds = sorted((r["eventName"], r["dynamodb"]["NewImage"]["type"]["S"]) for r in records)
        check(kinds == [("INSERT", "cancellation")] * 2,
              f"the notifier got exactly the 2 new cancellations (API, webhook), nothing else: {kinds}")
        orders = {r["dynamodb"]["NewImage"]["order_id"]["S"] for r in records}
        check(seen["order_id"] in orders and "ord_demo_shopify_woo" in orders, "for the two orders")
        log("the real notifier is not on this branch yet: SES read-back skipped (stand-in used)")
        return
    # The real notifier: the partner's email, read back from ministack's SES.
    while True:
        with urllib.request.urlopen(f"{endpoint}/_ministack/ses/messages", timeout=10) as r:
            # {"messages": {account: [{"Source", "To", "Subject", "BodyText", ...}]}}
            messages = [m for per_account in json.loads(r.read())["messages"].values() for m in per_account]
        mine = [m for m in messages if seen["order_id"] in m["Subject"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    check(len(mine) == 1, f"one email about order {seen['order_id']}: {len(mine)}")
    m = mine[0]
    check(SENDER in m["Source"] and m["To"] == ["orders@acme-home.example"],
          "from SENDER_EMAIL to the buyer (the partner of the seller who cancelled)")
    check("MUG-BLUE" in m["BodyText"] and "Item is out of stock" in m["BodyText"],
          "the email lists the cancelled line and its reason")


def main() -> int:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urllib.parse.urlparse(endpoint).hostname or ""
    if not host or not (host == "localhost" or ipaddress.ip_address(host).is_loopback):
        log(f"AWS_ENDPOINT_URL must be a loopback ministack, not {endpoint!r}: run scripts/deployed-stack-test.sh")
        return 2
    with Step("build and stage the Lambda binaries (host, debug)"):
        present = workspace_binaries()
        record_file = build_and_stage(present)
    with Step("sam deploy --config-env ministack"):
        out = deploy()
    with Step("check the deployed resources"):
        check_deployed(out)
        routes_from_openapi_body(STACK, out["HttpApiId"])
    with Step("seed, verify the SES sender, drive the HttpApi"):
        run([str(ROOT / "target/debug/dropship"), "seed", "events/demo-seed.json",
             "--dynamodb-table", out["TableName"]], stdout=subprocess.DEVNULL)
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        seen = drive(out, endpoint)
    with Step("the stream: new cancellations -> notifier"):
        check_stream(seen, record_file, endpoint)
    total = time.monotonic() - started
    for name, secs in timings:
        log(f"{secs:6.1f} s  {name}")
    log(f"{total:6.1f} s  total: {checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
