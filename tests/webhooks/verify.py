"""Verifies webhook deliveries with the Standard Webhooks reference library (PyPI
`standardwebhooks`), independently of Castellan's own signing code.

Reads JSON lines {"secret", "headers": {...}, "body"} on stdin and prints one line per
delivery: "ok" or "fail: <reason>". Exits 1 when any fails."""

import json
import sys

from standardwebhooks import Webhook

failed = False
for line in sys.stdin:
    if not line.strip():
        continue
    d = json.loads(line)
    try:
        Webhook(d["secret"]).verify(d["body"], d["headers"])
        print("ok")
    except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal
        failed = True
        print(f"fail: {type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
