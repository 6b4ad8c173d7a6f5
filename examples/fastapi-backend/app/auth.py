"""Castellan JWTs as a FastAPI dependency.

The frontend gets a JWT from Castellan (``GET /api/auth/token``, or the ``set-auth-jwt`` header of
``get-session``) and sends it as ``Authorization: Bearer``. This backend verifies it locally against
the published key set: EdDSA only, issuer and audience the auth server's origin, ``exp`` and
``nbf`` with a little clock skew. PyJWKClient caches the key set and fetches it again when a token
names a key it does not hold, which is what a key rotation looks like.
"""

import os
from dataclasses import dataclass
from functools import lru_cache

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


@dataclass(frozen=True)
class Settings:
    # The auth server's public origin, e.g. https://auth.example.com (its BASE_URL).
    origin: str
    leeway_seconds: int = 30

    @property
    def jwks_url(self) -> str:
        return f"{self.origin}/api/auth/jwks"


@lru_cache
def settings() -> Settings:
    return Settings(origin=os.environ["CASTELLAN_ORIGIN"].rstrip("/"))


@lru_cache
def jwks_client() -> jwt.PyJWKClient:
    # lifespan: how long the fetched set is trusted before it is fetched again anyway.
    return jwt.PyJWKClient(settings().jwks_url, cache_jwk_set=True, lifespan=300)


bearer = HTTPBearer(auto_error=False)


def claims(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
    """The verified claims of the request's JWT; 401 when it has none or a bad one."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    s = settings()
    try:
        key = jwks_client().get_signing_key_from_jwt(token).key
        return jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            issuer=s.origin,
            audience=s.origin,
            leeway=s.leeway_seconds,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWKClientConnectionError as e:
        # The key set cannot be fetched: a 503, never a pass.
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"auth server unavailable: {e}") from e
    except jwt.PyJWTError as e:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {e}",
                            headers={"WWW-Authenticate": "Bearer"}) from e


def require_role(*roles: str):
    """A dependency that admits users whose platform role (the ``role`` claim) is one of ``roles``."""

    def check(c: dict = Depends(claims)) -> dict:
        held = {r.strip() for r in (c.get("role") or "").split(",") if r.strip()}
        if not held & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {' or '.join(roles)}")
        return c

    return check
