"""Dapr's hello-kubernetes pythonapp: every second, invoke nodeapp's neworder through the Dapr HTTP API.

Standard library only. DAPR_HTTP_PORT (default 3500) points at the Sidekick app's Dapr HTTP API;
MAX_ORDERS (default: forever) stops after that many orders.
"""
import json
import os
import time
import urllib.error
import urllib.request

dapr_port = os.getenv("DAPR_HTTP_PORT", "3500")
dapr_url = f"http://localhost:{dapr_port}/v1.0/invoke/nodeapp/method/neworder"
max_orders = int(os.getenv("MAX_ORDERS", "0"))
interval = float(os.getenv("ORDER_INTERVAL_SECONDS", "1"))

n = 0
while max_orders == 0 or n < max_orders:
    n += 1
    message = {"data": {"orderId": n}}
    request = urllib.request.Request(
        dapr_url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            print(f"sent order {n}: HTTP {response.status}", flush=True)
    except (urllib.error.URLError, ConnectionError) as err:
        print(f"order {n} failed: {err}", flush=True)
    time.sleep(interval)
