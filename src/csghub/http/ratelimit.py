"""API rate limits: a token bucket per credential (token, Basic pair or session) and, for requests
without credentials, per client address. Over the limit: 429 with Retry-After.

Buckets live in this process's memory and are touched only from the event loop, so no lock is needed;
with several server processes each enforces the limit on its own share of the traffic.
"""

from __future__ import annotations

import hashlib
import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from csghub.http.errors import error_response

_MAX_BUCKETS = 100_000
_EXEMPT = ("/health",)
_APPS = "/apps/"  # spaces' apps (transport/space_proxy.py)


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, per_token: int, per_address: int) -> None:
        self.app = app
        self.per_token = per_token
        self.per_address = per_address
        self._buckets: dict[str, _Bucket] = {}

    def _key(self, scope: Scope) -> tuple[str, int]:
        headers = dict(scope.get("headers") or [])
        credential = headers.get(b"authorization", b"")
        if not credential:
            for part in headers.get(b"cookie", b"").split(b";"):
                name, _, value = part.strip().partition(b"=")
                if name == b"csghub_session" and value:
                    credential = value
        client = scope.get("client")
        address = client[0] if client else ""
        path = scope["path"]
        if path.startswith(_APPS):
            # A space's page loads its assets and talks to its app without the visitor's credential: it
            # gets a bucket of its own per visitor address and space, as large as a credential's, so one
            # busy app neither starves the API for that address nor other apps.
            space = "/".join(path.split("/", 4)[2:4])
            return f"s:{address}:{space}", self.per_token or self.per_address
        if credential:
            return "c:" + hashlib.sha256(credential).hexdigest(), self.per_token
        return "a:" + address, self.per_address

    def _take(self, key: str, limit: int) -> float:
        """Seconds to wait before this request would be allowed; 0 when it is."""
        now = time.monotonic()
        rate = limit / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(limit), now)
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        key, limit = self._key(scope)
        wait = self._take(key, limit) if limit > 0 else 0.0
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            response = error_response(
                429,
                "RateLimited",
                f"Too many requests: the limit is {limit} per minute; retry in {seconds} seconds",
                retry_after=seconds,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
