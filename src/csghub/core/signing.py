"""Short-lived signed URLs for transfers the hub serves itself (the local blob store's LFS hrefs)."""

from __future__ import annotations

import hashlib
import hmac
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
