"""Carrying a request for an app on a replica (a notebook's Jupyter server, a space's Gradio or Streamlit
app) and the answer back, as ASGI: HTTP streamed both ways (the body bounded as it is read, the answer
passed on chunk by chunk as it comes, so Server-Sent Events arrive unbuffered), and WebSockets relayed
message by message in both directions until either side closes. Both doors (notebook_proxy.py,
space_proxy.py) use it.

The hub's own credentials never reach the app: the Authorization header and the hub's cookies are
dropped (a space's door drops every cookie); Host becomes the replica's (the app then sees a local
request) and Origin is dropped (the door checked what it needed). A door may add headers to the request
and rewrite the answer's headers, and replace strings in its body as it streams (Replacer). Through
aiohttp, the client the endpoint gateway already uses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence

import aiohttp
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from csghub.core.errors import HubError
from csghub.http.errors import error_response

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024  # a request body (an upload through Jupyter's contents API comes in 1 MB chunks)
Headers = list[tuple[bytes, bytes]]
# What a door does to the answer's headers before they go out (status, the app's headers -> sent ones).
HeaderRewrite = Callable[[int, Headers], Headers]


class Replacer:
    """Replaces byte strings in a body that arrives in chunks, holding back only what may be the start
    of one (so an event that ends a chunk goes out with it) and never scanning its own output again."""

    def __init__(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        self.pairs = tuple(pairs)
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._carry + chunk
        held = self._partial(data)
        self._carry = data[len(data) - held :]
        return self._replace(data[: len(data) - held])

    def end(self) -> bytes:
        data, self._carry = self._carry, b""
        return self._replace(data)

    def _replace(self, data: bytes) -> bytes:
        for old, new in self.pairs:
            data = data.replace(old, new)
        return data

    def _partial(self, data: bytes) -> int:
        """The length of the longest end of `data` that begins (without completing) one of the strings."""
        longest = max(len(old) for old, _ in self.pairs) - 1
        for size in range(min(longest, len(data)), 0, -1):
            tail = data[-size:]
            if any(old.startswith(tail) and old != tail for old, _ in self.pairs):
                return size
        return 0


# Given the answer's headers (as sent), a Replacer for its body, or None to pass it on as it is.
BodyRewrite = Callable[[Headers], Replacer | None]
MAX_MESSAGE = 64 * 1024 * 1024  # one WebSocket message either way (a kernel's output of a large image)
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "authorization",
        "origin",
        "cookie",
    }
)
_WS_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)
HUB_COOKIES = ("csghub_",)  # the session, CSRF and language cookies: the hub's, never the app's


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


def _cookies(header: str) -> str:
    kept = [p.strip() for p in header.split(";") if p.strip() and not p.strip().startswith(HUB_COOKIES)]
    return "; ".join(kept)


def request_headers(
    raw: Iterable[tuple[bytes, bytes]], *, websocket: bool = False, cookies: bool = True
) -> list[tuple[str, str]]:
    """The client's headers as the app gets them: no hop-by-hop ones, none of the hub's credentials
    (with `cookies` false, no cookie at all)."""
    headers: list[tuple[str, str]] = []
    for name_bytes, value_bytes in raw:
        name, value = name_bytes.decode("latin-1").lower(), value_bytes.decode("latin-1")
        if name == "cookie":
            value = _cookies(value) if cookies else ""
            if value:
                headers.append(("cookie", value))
        elif name not in _HOP and not (websocket and name in _WS_HANDSHAKE):
            headers.append((name, value))
    return headers


def _with(headers: list[tuple[str, str]], extra: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The door's own headers replace any the client sent by those names (X-Forwarded-Host, ...)."""
    names = {name for name, _ in extra}
    return [h for h in headers if h[0] not in names] + list(extra)


class AppRelay:
    """The hub's client to apps on replicas, made on first use inside the event loop, closed with the app."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # Local or a cluster's private network: quick to connect; a download may take its time.
                timeout=aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=300.0),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        url: str,
        *,
        cookies: bool = True,
        extra: Sequence[tuple[str, str]] = (),
        rewrite: HeaderRewrite | None = None,
        body: BodyRewrite | None = None,
    ) -> None:
        """Relay one HTTP request; ConnectionError when the app did not answer (nothing sent)."""
        method: str = scope["method"]
        headers = _with(request_headers(scope["headers"], cookies=cookies), extra)
        has_body = method not in ("GET", "HEAD", "OPTIONS") or any(
            n in (b"content-length", b"transfer-encoding") for n, _ in scope["headers"]
        )
        declared = next((int(v) for n, v in headers if n == "content-length" and v.isdigit()), 0)
        if declared > MAX_BODY:
            raise BodyTooLarge
        reading = _Reading()
        try:
            upstream = await self._client().request(
                method,
                url,
                headers=headers,
                data=_body(receive, reading) if has_body else None,
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            # aiohttp reports what stopped the body (too large, the client gone) as a failed connection.
            if reading.failure is not None:
                raise reading.failure from None
            raise ConnectionError(str(exc)) from exc
        try:
            out = [(k.lower(), v) for k, v in upstream.raw_headers if k.decode("latin-1").lower() not in _HOP]
            if rewrite is not None:
                out = rewrite(upstream.status, out)
            replacer = body(out) if body is not None else None
            if replacer is not None:  # its length changes
                out = [(k, v) for k, v in out if k != b"content-length"]
            await send({"type": "http.response.start", "status": upstream.status, "headers": out})
            try:
                async for chunk in upstream.content.iter_any():
                    if replacer is not None:
                        chunk = replacer.feed(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except aiohttp.ClientError as exc:  # the answer is under way: it can only end short
                log.warning("answer from %s cut short: %s", url, exc)
            last = replacer.end() if replacer is not None else b""
            await send({"type": "http.response.body", "body": last, "more_body": False})
        finally:
            upstream.release()

    async def websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        url: str,
        *,
        cookies: bool = True,
        extra: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Relay a WebSocket until either side closes; False when the app refused it (then the caller
        answers the client)."""
        try:
            upstream = await self._client().ws_connect(
                url,
                protocols=tuple(scope.get("subprotocols") or ()),
                headers=_with(request_headers(scope["headers"], websocket=True, cookies=cookies), extra),
                max_msg_size=MAX_MESSAGE,
                autoping=True,
            )
        except (aiohttp.ClientError, aiohttp.WSServerHandshakeError) as exc:
            log.warning("websocket %s refused: %s", url, exc)
            return False
        async with upstream:
            await send({"type": "websocket.accept", "subprotocol": upstream.protocol})
            tasks = [
                asyncio.ensure_future(_to_upstream(receive, upstream)),
                asyncio.ensure_future(_to_client(upstream, send)),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        with contextlib.suppress(Exception):  # the client may be gone already
            await send({"type": "websocket.close", "code": upstream.close_code or 1000})
        return True


class _Reading:
    """Why a request body stopped being read, when it did not end."""

    failure: BodyTooLarge | ClientGone | None = None


async def _body(receive: Receive, reading: _Reading) -> AsyncGenerator[bytes, None]:
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            reading.failure = ClientGone()
            raise reading.failure
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            reading.failure = BodyTooLarge()
            raise reading.failure
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _to_upstream(receive: Receive, upstream: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close()
            return
        if message.get("bytes") is not None:
            await upstream.send_bytes(message["bytes"])
        elif message.get("text") is not None:
            await upstream.send_str(message["text"])


async def _to_client(upstream: aiohttp.ClientWebSocketResponse, send: Send) -> None:
    async for message in upstream:
        if message.type is aiohttp.WSMsgType.TEXT:
            await send({"type": "websocket.send", "text": message.data})
        elif message.type is aiohttp.WSMsgType.BINARY:
            await send({"type": "websocket.send", "bytes": message.data})
        else:  # closed or failed
            return


async def refuse(
    scope: Scope, receive: Receive, send: Send, exc: HubError, headers: dict[str, str] | None = None
) -> None:
    """A door's refusal as the hub's JSON error: an HTTP answer, or a WebSocket handshake's."""
    answer: Response = error_response(exc.status, exc.code, exc.message, retry_after=5 if exc.status == 503 else None)
    answer.headers.update(headers or {})
    if scope["type"] == "http":
        await answer(scope, receive, send)
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        # The refusal as an HTTP answer to the handshake, where the server can send one.
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "websocket.http.response.start", "status": exc.status, "headers": raw})
        await send({"type": "websocket.http.response.body", "body": answer.body})
        return
    await send({"type": "websocket.close", "code": 1008})
