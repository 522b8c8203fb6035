"""What the request middleware (http/observe.py) derives from a finished request, kept pure so that it is
tested on its own: the route's protocol and transfer kind, the access log line, and a query string with
its secrets blanked."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from urllib.parse import quote

UNMATCHED = "unmatched"
REDACTED = "***"
# Query parameters whose values are credentials (tokens, passwords, signatures of signed links, OAuth codes).
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "password",
        "secret",
        "client_secret",
        "code",
        "sig",
        "signature",
        "key",
        "api_key",
        "apikey",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
# Paths answered by the proxies in front of the router (transport/gateway.py, notebook_proxy.py,
# space_proxy.py): labelled by their shape, never by the names in them.
_PROXIED = (
    ("/endpoints/", "/endpoints/{owner}/{name}/..."),
    ("/notebooks/", "/notebooks/{owner}/{name}/..."),
    ("/apps/", "/apps/{owner}/{name}/..."),
)
_GIT = ("/info/refs", "/git-upload-pack", "/git-receive-pack")
_API = ("/api/", "/hf/api/", "/csg/api/", "/endpoints/")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
# What may stand in a logged path or query as it is (most do: a quick check spares the quoting).
_PLAIN = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~%\[\]{}-]*")


def _quoted(text: str, safe: str) -> str:
    return text if _PLAIN.fullmatch(text) else quote(text, safe=safe)


def template_of(route: object, path: str) -> str:
    """The route's path template; for requests no route took, the proxy's shape or "unmatched"."""
    found = getattr(route, "path_format", None)
    if isinstance(found, str):
        return found
    for prefix, shape in _PROXIED:
        if path.startswith(prefix):
            return shape
    return UNMATCHED


def protocol_of(template: str) -> str:
    """api, git, lfs, xet or web: what the bytes of a request count as."""
    if template.endswith(_GIT):
        return "git"
    if "/info/lfs/" in template or template.startswith("/lfs/"):
        return "lfs"
    if template.startswith("/xet/"):
        return "xet"
    if template.startswith(_API) or "/resolve/" in template:
        return "api"
    return "web"


def transfer_of(method: str, template: str) -> str:
    """The git, LFS or Xet operation a route performs ("" for any other route)."""
    if method == "POST" and template.endswith("/git-upload-pack"):
        return "upload-pack"
    if method == "POST" and template.endswith("/git-receive-pack"):
        return "receive-pack"
    if template.startswith("/lfs/objects/"):
        return {"PUT": "upload", "GET": "download"}.get(method, "")
    if template.startswith("/lfs/parts/") and method == "PUT":
        return "upload_part"
    if template.startswith("/xet/"):
        if method == "POST" and "/v1/xorbs/" in template:
            return "upload"
        if method == "GET" and "/xorbs/" in template and "/v1/" not in template:
            return "download"
    return ""


def redact_query(query: str) -> str:
    """The query string with the values of credential parameters replaced."""
    if not query:
        return ""
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        parts.append(f"{name}={REDACTED}" if eq and name.lower() in SECRET_PARAMS else part)
    return "&".join(parts)


def target_of(path: str, query: str) -> str:
    """The path as sent (quoted where a client put in what could split a line) and the query without its
    secrets."""
    if not _PLAIN.fullmatch(path):
        path = quote(path, safe=_PATH_SAFE)
    if not query:
        return path
    return f"{path}?{_quoted(redact_query(query), _PATH_SAFE + '?')}"


# One request's line. Plain functions of plain values: the middleware calls one per request, and each
# object or method call on that path shows in the overhead (benches/bench_metrics_overhead.py).


def text_line(
    stamp: str,
    request_id: str,
    client: str,
    user: str,
    method: str,
    target: str,
    route: str,
    status: int,
    bytes_in: int,
    bytes_out: int,
    seconds: float,
) -> str:
    """time, request id, client, user, "method target", route, status, bytes in and out, duration."""
    user = user if _PLAIN.fullmatch(user) else quote(user, safe="")
    return (
        f'{stamp} {request_id} {client or "-"} {user or "-"} "{method} {target}" {route} {status} '
        f"in={bytes_in} out={bytes_out} {seconds * 1000:.1f}ms"
    )


def json_line(
    stamp: str,
    request_id: str,
    client: str,
    user: str,
    method: str,
    target: str,
    route: str,
    status: int,
    bytes_in: int,
    bytes_out: int,
    seconds: float,
) -> str:
    return json.dumps(
        {
            "time": stamp,
            "request_id": request_id,
            "client": client,
            "user": user or "-",
            "method": method,
            "route": route,
            "path": target,
            "status": status,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "duration_ms": round(seconds * 1000, 3),
        },
        separators=(",", ":"),
    )


# ".000+00:00" to ".999+00:00": a line's milliseconds are looked up, not formatted.
_MILLIS = tuple(f".{ms:03d}+00:00" for ms in range(1000))


class Clock:
    """Timestamps for log lines (UTC, milliseconds): the date and time are formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def stamp(self, now: float | None = None) -> str:
        millis = int((time.time() if now is None else now) * 1000)
        second, ms = divmod(millis, 1000)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._prefix + _MILLIS[ms]
