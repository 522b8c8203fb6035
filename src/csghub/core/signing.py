"""Short-lived signed URLs for transfers the hub serves itself (the local blob store's LFS hrefs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


def sign(secret: str, *parts: str, expires_at: int) -> str:
    message = "\x1f".join((*parts, str(expires_at))).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_query(secret: str, *parts: str, ttl: int, now: float | None = None) -> str:
    expires_at = int((now if now is not None else time.time()) + ttl)
    return f"exp={expires_at}&sig={sign(secret, *parts, expires_at=expires_at)}"


def check_signature(secret: str, *parts: str, expires_at: int, signature: str) -> bool:
    if expires_at < time.time():
        return False
    return hmac.compare_digest(sign(secret, *parts, expires_at=expires_at), signature)


def make_token(secret: str, claims: dict[str, object], *, expires_at: int) -> str:
    """A self-contained bearer token: base64url(JSON claims with `exp`) + '.' + HMAC-SHA256."""
    body = base64.urlsafe_b64encode(json.dumps({**claims, "exp": expires_at}, sort_keys=True).encode())
    payload = body.decode().rstrip("=")
    return f"{payload}.{hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()}"


def read_token(secret: str, token: str) -> dict[str, object] | None:
    """The claims of a valid, unexpired token; None otherwise."""
    payload, _, signature = token.partition(".")
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not payload or not hmac.compare_digest(expected, signature):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    return claims
