"""Bounds on request bodies per route class, enforced before any handler (and so before any
authentication) runs.

Small bodies (JSON control requests, portal forms, sign-in, the LFS batch API) are read here, whole and
within `client_timeout`, before the application sees the request; past their bound the answer is 413,
whoever sends it. Bodies that stream to disk, storage or git are counted as the handler reads them, and
a client that pauses longer than `client_timeout` is cut off with 408. A rejected request closes the
connection, so the rest of an endless body is never read. All bodies held in memory at once, across
requests, share one budget (`max_body_memory`); past it a request is answered 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csghub.config import MiB, Settings
from csghub.core.errors import HubError, InvalidArgument, TooLarge
from csghub.http.bodies import BODY_LIMIT_KEY, BODY_MEMORY_KEY, MAX_JSON_DEPTH, BodyMemory, BodyShare, json_depth
from csghub.http.errors import error_response
from csghub.xet.shards import MAX_SHARD_BYTES

# Credentials and a CSRF token: a few hundred bytes in practice.
SIGN_IN_BODY = 16 * 1024
# git-lfs asks about 100 objects per batch (about 15 KB); multipart completions list one line per part.
LFS_JSON_BODY = 4 * MiB
# The portal edits files of up to 512 KiB; percent-encoding may triple them.
EDIT_FORM_BODY = 2 * MiB
# An avatar of at most 1 MiB, with room for a form's framing.
AVATAR_BODY = 2 * MiB
_SCAN_INLINE = 64 * 1024
_LOOKS_LIKE_JSON = re.compile(rb"\s*[\[{]")


class RequestTimeout(HubError):
    status = 408
    code = "RequestTimeout"


@dataclass(frozen=True, slots=True)
class BodyRule:
    """Requests whose path matches `pattern` may send `limit` bytes (None: the route bounds its own
    body; a `size` group in the pattern: the size the path declares). `buffered` bodies are read
    whole before the application runs."""

    name: str
    pattern: re.Pattern[str]
    limit: int | None
    buffered: bool

    def limit_for(self, match: re.Match[str]) -> int | None:
        size = match.groupdict().get("size")
        return int(size) if size is not None else self.limit


def body_rules(settings: Settings) -> tuple[BodyRule, ...]:
    """The route classes, first match wins; what no rule names is a JSON control body."""

    def rule(name: str, pattern: str, limit: int | None, *, buffered: bool = False) -> BodyRule:
        return BodyRule(name, re.compile(pattern), limit, buffered)

    repo = r"/[^/]+/[^/]+/[^/]+"  # {type}s/{namespace}/{name}
    page = r"^(?:/[^/]+)?/[^/]+/[^/]+"  # the portal's [/{type}s]/{namespace}/{name}
    return (
        rule("git", r"/git-(?:upload|receive)-pack$", None),
        rule("lfs-object", r"^/lfs/objects/[0-9a-f]{64}/(?P<size>\d{1,18})$", None),
        rule("lfs-part", r"^/lfs/parts/", settings.lfs_part_size),
        rule(
            "lfs-json",
            r"/info/lfs/objects/batch$|/info/lfs/locks/verify$|^/lfs/complete/",
            LFS_JSON_BODY,
            buffered=True,
        ),
        # /xet/{store}/v1 is the CAS URL tokens give out; the route stops a xorb past the format's maximum.
        rule("xet-xorb", r"^/xet/(?:[0-9a-f]{16}/)?v1/xorbs/", None),
        rule("xet-shard", r"^/xet/(?:[0-9a-f]{16}/)?v1/shards$", MAX_SHARD_BYTES),
        rule("portal-edit", rf"{page}/edit/[^/]+$", EDIT_FORM_BODY, buffered=True),
        rule("inline-content", rf"^/api/v1{repo}/(?:commit|raw)/", settings.max_inline_body),
        rule(
            "upload",
            rf"^(?:/hf)?/api{repo}/commit/|^/api/v1{repo}/upload_file$|{page}/upload/",
            settings.max_upload_body,
        ),
        # An avatar image (services/identity/avatars bounds the image itself), raw or in a portal form.
        rule(
            "avatar",
            r"^/api/v1/(?:user|organizations/[^/]+)/avatar$|^(?:/organizations/[^/]+)?/settings/avatar$",
            AVATAR_BODY,
            buffered=True,
        ),
        rule("sign-in", r"^/(?:login|join|logout|setup)$|^/api/v1/auth/", SIGN_IN_BODY, buffered=True),
    )


class _Overflow(Exception):
    pass


class _Gone(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        rules: tuple[BodyRule, ...],
        default_limit: int,
        timeout: float,
        memory: int | BodyMemory,
    ) -> None:
        self.app = app
        self.rules = rules
        # One budget may be shared with other layers that hold bodies (the endpoint gateway's).
        self.memory = memory if isinstance(memory, BodyMemory) else BodyMemory(memory)
        self.default = BodyRule("json", re.compile(""), default_limit, buffered=True)
        self.timeout = timeout

    def _classify(self, path: str) -> tuple[BodyRule, int | None]:
        for rule in self.rules:
            match = rule.pattern.search(path)
            if match is not None:
                return rule, rule.limit_for(match)
        return self.default, self.default.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body at all
            return
        rule, limit = self._classify(scope["path"])
        if limit is not None:
            scope[BODY_LIMIT_KEY] = limit
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _reject(scope, receive, send, TooLarge(_too_large(rule, limit, int(declared))))
                return
        share = self.memory.share()
        try:
            if rule.buffered and limit is not None:
                await self._buffered(scope, receive, send, rule, limit, share)
            else:
                scope[BODY_MEMORY_KEY] = share  # for read_json, should the route read its body whole
                await self._streamed(scope, receive, send, rule, limit)
        finally:
            share.release()

    async def _buffered(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        rule: BodyRule,
        limit: int,
        share: BodyShare,
    ) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                body = await _read_all(receive, limit, share)
        except HubError as exc:  # the process's body memory is spent
            await _reject(scope, receive, send, exc)
            return
        except _Overflow:
            await _reject(scope, receive, send, TooLarge(_too_large(rule, limit)))
            return
        except TimeoutError:
            await _reject(
                scope, receive, send, RequestTimeout(f"Request body not received within {self.timeout:g} seconds")
            )
            return
        except _Gone:
            return
        # Whatever the declared type: a route may parse it as JSON all the same.
        if _LOOKS_LIKE_JSON.match(body) and await _depth(body) > MAX_JSON_DEPTH:
            await _reject(
                scope, receive, send, InvalidArgument(f"Request body nests deeper than {MAX_JSON_DEPTH} levels")
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only a disconnect can come

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, rule: BodyRule, limit: int | None) -> None:
        received = 0
        complete = False
        failure: HubError | None = None
        started = False

        async def counted() -> Message:
            nonlocal received, complete, failure
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                failure = RequestTimeout(f"No request body received for {self.timeout:g} seconds")
                raise failure from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if limit is not None and received > limit:
                    failure = TooLarge(_too_large(rule, limit))
                    raise failure
            else:
                complete = True
            return message

        async def closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if failure is not None:  # the unread rest of the body must not be read as a next request
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted, closing)
        except HubError as exc:
            if exc is not failure or started:
                raise
            await _reject(scope, receive, send, exc)


async def _depth(body: bytes) -> int:
    # A hostile megabyte takes a scan of some 100 ms: off the event loop, so other requests go on.
    if len(body) <= _SCAN_INLINE:
        return json_depth(body)
    return await anyio.to_thread.run_sync(json_depth, body)


async def _read_all(receive: Receive, limit: int, share: BodyShare) -> bytes:
    buffer = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Gone
        chunk = message.get("body", b"")
        share.take(len(chunk))
        buffer += chunk
        if len(buffer) > limit:
            raise _Overflow
        if not message.get("more_body", False):
            return bytes(buffer)


def _too_large(rule: BodyRule, limit: int, declared: int | None = None) -> str:
    size = f"of {declared} bytes " if declared is not None else ""
    hint = "; upload large files through LFS" if rule.name in ("json", "inline-content") else ""
    return f"Request body {size}exceeds the {limit} bytes this route accepts{hint}"


async def _reject(scope: Scope, receive: Receive, send: Send, error: HubError) -> None:
    response = error_response(
        error.status, error.code, error.message, csg_envelope=scope["path"].startswith("/api/v1/")
    )
    if error.status in (408, 413, 503):
        response.headers["Connection"] = "close"
    if error.status == 503:
        response.headers["Retry-After"] = "5"
    await response(scope, receive, send)
