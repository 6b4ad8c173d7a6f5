"""Runs the scim2-tester compliance checker (PyPI `scim2-tester`) against a SCIM endpoint.

    compliance.py BASE_URL TOKEN

Prints one line per check ("SUCCESS title", "SKIPPED title", "FAIL title: reason") and a last
line "N checks, F failures"; exits 1 when any check failed (an error, a critical error or a
deviation from the RFCs)."""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

url, token = sys.argv[1], sys.argv[2]
client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
client.discover()
results = check_server(client, raise_exceptions=False)
failures = 0
for r in results:
    if r.status in (Status.ERROR, Status.CRITICAL, Status.DEVIATION):
        failures += 1
        print(f"FAIL {r.title}: {r.reason}")
    else:
        print(f"{r.status.name} {r.title}")
print(f"{len(results)} checks, {failures} failures")
sys.exit(1 if failures else 0)
