"""The FastAPI backend against a started Castellan (CASTELLAN_ORIGIN): users sign up there, take a
JWT from /api/auth/token and call this backend with it."""

import base64
import json
import os
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import app

ORIGIN = os.environ["CASTELLAN_ORIGIN"].rstrip("/")
ADMIN_EMAIL = os.environ["CASTELLAN_ADMIN_EMAIL"]
PASSWORD = "example-password-123"


def castellan() -> httpx.Client:
    # Castellan checks the Origin of cookie-carrying writes, as Better Auth does.
    return httpx.Client(base_url=f"{ORIGIN}/api/auth", headers={"origin": ORIGIN}, timeout=10)


def jwt_for(email: str) -> str:
    with castellan() as c:
        r = c.post("/sign-up/email", json={"email": email, "password": PASSWORD, "name": "Example"})
        if r.status_code != 200:  # already there: sign in instead
            r = c.post("/sign-in/email", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = c.get("/token")
        assert token.status_code == 200, token.text
        return token.json()["token"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app)


def test_a_castellan_jwt_reaches_the_route(client: TestClient):
    email = f"py-{uuid.uuid4().hex[:10]}@example.test"
    r = client.get("/me", headers={"authorization": f"Bearer {jwt_for(email)}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email"] == email
    assert body["role"] == "user"
    assert body["id"]


def test_no_token_or_a_bad_one_is_401(client: TestClient):
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"authorization": "Bearer not.a.jwt"}).status_code == 401
    token = jwt_for(f"py-{uuid.uuid4().hex[:10]}@example.test")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    r = client.get("/admin/stats", headers={"authorization": f"Bearer {header}.{forged}.{signature}"})
    assert r.status_code == 401, "a changed claim breaks the signature"


def test_roles_come_from_the_claims(client: TestClient):
    user = jwt_for(f"py-{uuid.uuid4().hex[:10]}@example.test")
    assert client.get("/admin/stats", headers={"authorization": f"Bearer {user}"}).status_code == 403
    admin = jwt_for(ADMIN_EMAIL)
    r = client.get("/admin/stats", headers={"authorization": f"Bearer {admin}"})
    assert r.status_code == 200, r.text
