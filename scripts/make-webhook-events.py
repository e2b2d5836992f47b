#!/usr/bin/env python3
"""Writes the signed sample webhooks in events/webhooks/, signed with the demo
seed's secrets. Each sample NAME has:
  NAME.body      the raw body, exactly as signed
  NAME.headers   the platform's headers, one per line (curl -H @NAME.headers)
  NAME.json      the same delivery as an API Gateway HTTP API v2 event
Run again after changing a sample; a test checks the three stay consistent
and that every signature verifies."""
import base64, hashlib, hmac, json, pathlib

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "events" / "webhooks"
seed = json.loads((root / "events" / "demo-seed.json").read_text())
conn = {c["id"]: c.get("connection", {}) for c in seed["companies"]}

def sign(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()

def write(name, path, headers, body):
    (out / f"{name}.body").write_bytes(body)
    (out / f"{name}.headers").write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
    ev = {
        "version": "2.0", "routeKey": "POST " + path.replace("seller-woo", "{company_id}").replace("seller-bc", "{company_id}"),
        "rawPath": path, "rawQueryString": "",
        "headers": {k.lower(): v for k, v in {**headers, "host": "abc123.execute-api.us-east-1.amazonaws.com"}.items()},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.20", "userAgent": "platform"},
            "requestId": "req-" + name, "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:04:00:00 +0000", "timeEpoch": 1795579200000},
        "body": body.decode(), "isBase64Encoded": False,
    }
    if "{company_id}" in ev["routeKey"]:
        ev["pathParameters"] = {"company_id": path.rsplit("/", 1)[1]}
    (out / f"{name}.json").write_text(json.dumps(ev, indent=2) + "\n")

# Headers as each platform documents them: Shopify's webhook reference
# (shopify.dev webhooks docs, the headers of an HTTPS delivery: X-Shopify-Topic, -Hmac-Sha256,
# -Shop-Domain, -API-Version, -Webhook-Id, -Event-Id, -Triggered-At);
# WooCommerce's WC_Webhook::deliver (X-WC-Webhook-Source, -Topic, -Resource,
# -Event, -Signature, -ID, -Delivery-ID; WC_Webhook::deliver_ping posts
# `webhook_id=N`, unsigned); BigCommerce sends back the custom headers a hook
# was created with (bigcommerce/docs, webhooks.v3 `headers`), here
# X-Webhook-Token.

def shopify(name, company, topic, payload, event_id):
    body = json.dumps(payload, separators=(",", ":")).encode()
    c = conn[company]
    write(name, "/webhooks/shopify", {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(c["webhook_secret"], body),
        "X-Shopify-Shop-Domain": c["shop_domain"],
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": f"wh-{event_id}",
        "X-Shopify-Event-Id": f"evt-{event_id}",
        "X-Shopify-Triggered-At": "2026-11-26T04:00:00.000Z",
    }, body)

def woo(name, topic, body, signed=True):
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Source": "https://cedar-crafts.example/",
               "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated",
               "X-WC-Webhook-ID": "7", "X-WC-Webhook-Delivery-ID": "a1b2c3"}
    if signed:
        headers["X-WC-Webhook-Signature"] = sign(conn["seller-woo"]["webhook_secret"], body)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        for k in ["X-WC-Webhook-Topic", "X-WC-Webhook-Resource", "X-WC-Webhook-Event", "X-WC-Webhook-Delivery-ID"]:
            headers.pop(k)
    write(name, "/webhooks/woocommerce/seller-woo", headers, body)

def bc(name, scope, status=None):
    data = {"type": "order", "id": 120}
    if status:
        data["status"] = {"previous_status_id": 11, "new_status_id": status}
    # `hash`: "the SHA-1 hash of the JSON-encoded payload data"
    # (bigcommerce/docs, docs/integrations/webhooks/events). `created_at`:
    # when BigCommerce created the delivery (same page), fixed here at the
    # day the samples were written; intake ignores one over 72 h old, so
    # tests that deliver these set it to the present.
    payload = {"scope": scope, "store_id": "1001", "data": data,
               "hash": hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest(),
               "created_at": 1795579200, "producer": "stores/birch123"}
    body = json.dumps(payload, separators=(",", ":")).encode()
    write(name, "/webhooks/bigcommerce/seller-bc",
          {"Content-Type": "application/json", "X-Webhook-Token": conn["seller-bc"]["webhook_secret"]}, body)

# The Shopify buyer's order 5001 spans two of our orders (sellers seller-woo and seller-shopify).
lines_5001 = lambda cur: [
    {"id": 13001, "sku": "BOWL-OAK", "quantity": 2, "current_quantity": cur[0], "fulfillable_quantity": cur[0]},
    {"id": 13002, "sku": "SPOON-OAK", "quantity": 3, "current_quantity": cur[1], "fulfillable_quantity": cur[1]},
    {"id": 13003, "sku": "CANDLE-PINE", "quantity": 5, "current_quantity": cur[2], "fulfillable_quantity": cur[2]},
]
shopify("shopify-buyer-orders-updated", "buyer-shopify", "orders/updated",
        {"id": 5001, "name": "#5001", "cancelled_at": None, "cancel_reason": None, "line_items": lines_5001([2, 1, 5])}, 1001)
shopify("shopify-buyer-orders-cancelled", "buyer-shopify", "orders/cancelled",
        {"id": 5001, "name": "#5001", "cancelled_at": "2026-11-26T04:00:00-05:00", "cancel_reason": "customer",
         "line_items": lines_5001([0, 0, 0])}, 1002)
shopify("shopify-buyer-orders-edited", "buyer-shopify", "orders/edited",
        {"order_edit": {"id": 88001, "app_id": None, "created_at": "2026-11-26T04:00:00-05:00", "committed_at": "2026-11-26T04:00:00-05:00",
                        "notify_customer": False, "order_id": 5001, "staff_note": "",
                        "user_id": 1, "line_items": {"additions": [], "removals": [{"id": 13003, "delta": 2}]}}}, 1003)
shopify("shopify-buyer-refunds-create", "buyer-shopify", "refunds/create",
        {"id": 77001, "order_id": 5001, "note": "Damaged in transit", "restock": True,
         "refund_line_items": [{"id": 1, "line_item_id": 13001, "quantity": 1, "restock_type": "cancel"}]}, 1004)
shopify("shopify-seller-orders-updated", "seller-shopify", "orders/updated",
        {"id": 9101, "name": "#9101", "cancelled_at": None, "cancel_reason": None,
         "line_items": [{"id": 77001, "sku": "CANDLE-PINE", "quantity": 5, "current_quantity": 3}]}, 2001)
shopify("shopify-seller-orders-cancelled", "seller-shopify", "orders/cancelled",
        {"id": 9101, "name": "#9101", "cancelled_at": "2026-11-26T04:00:00-05:00", "cancel_reason": "inventory",
         "line_items": [{"id": 77001, "sku": "CANDLE-PINE", "quantity": 5, "current_quantity": 0}]}, 2002)
woo("woocommerce-order-updated", "order.updated", json.dumps(
    {"id": 731, "status": "processing", "line_items": [{"id": 41, "sku": "BOWL-OAK", "quantity": 1}, {"id": 42, "sku": "SPOON-OAK", "quantity": 3}]},
    separators=(",", ":")).encode())
woo("woocommerce-order-cancelled", "order.updated", json.dumps(
    {"id": 731, "status": "cancelled", "line_items": [{"id": 41, "sku": "BOWL-OAK", "quantity": 2}, {"id": 42, "sku": "SPOON-OAK", "quantity": 3}]},
    separators=(",", ":")).encode())
woo("woocommerce-ping", "", b"webhook_id=7", signed=False)
bc("bigcommerce-order-status-updated", "store/order/statusUpdated", 5)
bc("bigcommerce-order-updated", "store/order/updated")
bc("bigcommerce-order-refund-created", "store/order/refund/created")
print(f"wrote {len(list(out.glob('*.json')))} samples to {out}")
