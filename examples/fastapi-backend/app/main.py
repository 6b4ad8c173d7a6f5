"""A FastAPI backend behind Castellan: every route but /health needs a Castellan JWT."""

from fastapi import Depends, FastAPI

from .auth import claims, require_role

app = FastAPI(title="Castellan FastAPI example")


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/me")
def me(c: dict = Depends(claims)) -> dict:
    return {"id": c["sub"], "email": c.get("email"), "role": c.get("role")}


@app.get("/admin/stats")
def admin_stats(c: dict = Depends(require_role("admin"))) -> dict:
    return {"seenBy": c["sub"]}
