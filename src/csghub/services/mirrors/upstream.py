"""The client of a mirror source's Hugging Face-compatible API: repository info, tree listings, the git
URL, the LFS batch API, and downloads that resume and verify.

A download is written to `<dest>.part`, resumed from there with a Range request, hashed as it arrives
and renamed into place only when its size and sha256 match what the listing promised; a wrong object is
deleted, never kept. Upstream failures become `UpstreamError`s with a code and a reason a person can act
on (the URL's query, which may hold a signature, is never part of it).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from csghub.core.errors import HubError
from csghub.net.bandwidth import RateLimiter
from csghub.net.client import git_connection_config, same_origin, upstream_client
from csghub.net.guard import AddressRules

CHUNK = 256 * 1024
SPOOL_BLOCKS = 64  # what a download may hold in memory between the socket and the disk: network-sized reads
LFS_JSON = "application/vnd.git-lfs+json"
MAX_TREE_PAGES = 10_000
_GIT_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/", "code": "codes/"}


class UpstreamError(HubError):
    """The source answered with an error, or with bytes that are not what it promised."""

    status = 502
    code = "UpstreamUnavailable"

    def __init__(self, upstream_status: int, message: str) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


class UpstreamNotFound(UpstreamError):
    status = 404
    code = "UpstreamNotFound"


class UpstreamForbidden(UpstreamError):
    status = 403
    code = "UpstreamForbidden"


class UpstreamUnavailable(UpstreamError):
    """5xx, 429, a connection that failed or a body cut short: worth a retry later."""


class UpstreamCorrupt(UpstreamError):
    """Bytes whose size or sha256 differ from what the source listed: never kept."""

    code = "UpstreamCorrupt"


@dataclass(frozen=True, slots=True)
class TreeEntry:
    path: str
    type: str  # "file" | "directory"
    size: int  # an LFS file's size is the object's, not its pointer's
    oid: str  # git blob (or tree) id
    lfs_sha256: str | None = None
    lfs_size: int | None = None


def _plural(repo_type: str) -> str:
    kind = str(repo_type).lower().removesuffix("s")
    if kind not in _GIT_PREFIX:
        raise ValueError(f"Unknown repository type '{repo_type}'")
    return f"{kind}s"


def _shown(url: httpx.URL | str) -> str:
    """A URL for a message: no query string (a presigned URL's signature lives there)."""
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def _reason(response: httpx.Response) -> str:
    reason = response.headers.get("X-Error-Message", "")
    if not reason:
        try:
            body = response.json()
            reason = (
                str(body.get("error") or body.get("message") or body.get("msg") or "") if isinstance(body, dict) else ""
            )
        except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
            reason = ""
    return reason[:200]


def error_for(response: httpx.Response, what: str) -> UpstreamError:
    """The UpstreamError an error response stands for."""
    status = response.status_code
    detail = _reason(response)
    message = f"{what}: the source answered {status}" + (f" ({detail})" if detail else "")
    # Hugging Face answers 401 for a private repository asked for without access; its code says not found.
    if status == 404 or response.headers.get("X-Error-Code", "").endswith("NotFound"):
        return UpstreamNotFound(status, message)
    if status in (401, 403):
        return UpstreamForbidden(status, message + "; check the source's token")
    return UpstreamUnavailable(status, message)


class Upstream:
    """One source's API, through a client whose every connection passes the outbound rules."""

    def __init__(
        self, base_url: str, rules: AddressRules, *, token: str | None = None, name: str = "", timeout: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name or self.base_url
        self._rules = rules
        self._token = token
        self._client = upstream_client(rules, token, timeout)

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"Upstream({self.base_url!r})"

    def url(self, url_or_path: str) -> str:
        return (
            url_or_path
            if url_or_path.startswith(("http://", "https://"))
            else f"{self.base_url}/{url_or_path.lstrip('/')}"
        )

    def _request(self, method: str, url_or_path: str, what: str, **kwargs: Any) -> httpx.Response:
        url = self.url(url_or_path)
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(0, f"{what}: {self.name} is unreachable ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise error_for(response, what)
        return response

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise UpstreamUnavailable(response.status_code, f"{what}: the source's answer is not JSON") from None

    def repo_info(self, repo_type: str, repo_id: str, revision: str | None = None) -> dict[str, Any]:
        path = f"api/{_plural(repo_type)}/{repo_id}"
        if revision:
            path += f"/revision/{quote(revision, safe='')}"
        what = f"{_plural(repo_type)[:-1]} {repo_id}"
        info = self._json(self._request("GET", path, what), what)
        if not isinstance(info, dict):
            raise UpstreamUnavailable(200, f"{what}: the source's answer is not an object")
        return info

    def list_repos(self, repo_type: str, author: str, limit: int = 1000) -> list[str]:
        """The ids of `author`'s repositories of one type the source lists (GET /api/{type}s?author=, following
        its Link pages), at most `limit` (a batch mirror of a namespace, services/mirrors/mirrors.py)."""
        what = f"{_plural(repo_type)} of {author}"
        url: str | None = f"api/{_plural(repo_type)}"
        params: dict[str, str] | None = {"author": author, "limit": str(min(limit, 1000))}
        found: list[str] = []
        while url is not None and len(found) < limit:
            response = self._request("GET", url, what, params=params)
            page = self._json(response, what)
            if not isinstance(page, list):
                raise UpstreamUnavailable(200, f"{what}: the source's answer is not a list")
            found += [str(item["id"]) for item in page if isinstance(item, dict) and isinstance(item.get("id"), str)]
            url, params = response.links.get("next", {}).get("url"), None
        return found[:limit]

    def list_tree(self, repo_type: str, repo_id: str, revision: str, recursive: bool = True) -> list[TreeEntry]:
        what = f"tree of {_plural(repo_type)[:-1]} {repo_id}@{revision}"
        url: str | None = f"api/{_plural(repo_type)}/{repo_id}/tree/{quote(revision, safe='')}"
        params: dict[str, str] | None = {"recursive": "true" if recursive else "false"}
        entries: list[TreeEntry] = []
        for _page in range(MAX_TREE_PAGES):
            if url is None:
                return entries
            response = self._request("GET", url, what, params=params)
            page = self._json(response, what)
            if not isinstance(page, list):
                raise UpstreamUnavailable(200, f"{what}: the source's answer is not a list")
            entries.extend(_entry(item, what) for item in page)
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries them
        raise UpstreamUnavailable(200, f"{what}: more than {MAX_TREE_PAGES} pages")

    def git_url(self, repo_type: str, repo_id: str) -> str:
        """Where the source serves the repository over git's smart HTTP (this hub and Hugging Face alike)."""
        return f"{self.base_url}/{_GIT_PREFIX[_plural(repo_type)[:-1]]}{repo_id}"

    def git_env(self, url: str) -> dict[str, str]:
        """Environment variables for a `git fetch` of `url` from this source: pinned to the address checked
        now, no redirects, http(s) only, the token in a header (never in the URL or argv)."""
        if not same_origin(url, self.base_url):
            raise UpstreamForbidden(0, f"{_shown(url)} is not on the source {self.name}")
        return git_connection_config(url, self._rules, self._token)

    def resolve_path(self, repo_type: str, repo_id: str, revision: str, path: str) -> str:
        prefix = _GIT_PREFIX[_plural(repo_type)[:-1]]
        return f"{prefix}{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"

    def lfs_batch(self, repo_type: str, repo_id: str, objects: list[tuple[str, int]]) -> list[dict[str, Any]]:
        """The batch API's download answer, one entry per (sha256, size): {"oid", "size", "actions":
        {"download": {"href", "header"}}} or {"oid", "size", "error": {"code", "message"}}."""
        what = f"LFS batch for {_plural(repo_type)[:-1]} {repo_id}"
        body = {
            "operation": "download",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": size} for oid, size in objects],
            "hash_algo": "sha256",
        }
        headers = {"Accept": LFS_JSON, "Content-Type": LFS_JSON}
        url = f"{self.git_url(repo_type, repo_id)}.git/info/lfs/objects/batch"
        answer = self._json(self._request("POST", url, what, json=body, headers=headers), what)
        found = answer.get("objects") if isinstance(answer, dict) else None
        if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
            raise UpstreamUnavailable(200, f"{what}: the answer has no list of objects")
        return found

    @contextmanager
    def open_stream(
        self, url_or_path: str, *, start_at: int = 0, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed GET (from byte `start_at`); error answers raise. The Authorization header goes only to
        the source's own host: an LFS href elsewhere (a presigned URL) carries its own credentials."""
        url = self.url(url_or_path)
        request = self._client.build_request("GET", url, headers=headers or {})
        if not same_origin(url, self.base_url) and "authorization" not in {k.lower() for k in headers or {}}:
            request.headers.pop("Authorization", None)
        if start_at:
            request.headers["Range"] = f"bytes={start_at}-"
        what = f"download of {_shown(url)}"
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(0, f"{what}: {self.name} is unreachable ({type(exc).__name__})") from None
        try:
            if response.status_code >= 400:
                response.read()
                raise error_for(response, what)
            yield response
        finally:
            response.close()

    def download(
        self,
        url_or_path: str,
        dest: Path,
        *,
        expected_sha256: str,
        size: int,
        start_at: int | None = None,
        limiter: RateLimiter | None = None,
        headers: dict[str, str] | None = None,
        progress: Any = None,
    ) -> None:
        """Fetch into `dest`, resuming `dest.part` (or from `start_at` when given), verifying size and sha256
        before renaming into place. `progress(n)` is called with each chunk's length."""
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.exists() else 0
        if start_at is not None:
            have = min(have, start_at)
        if have > size:
            have = 0
        digest = _hash_prefix(part, have)
        what = f"download of {_shown(self.url(url_or_path))}"
        if have < size:  # a complete .part (a crash before its rename) is only verified
            have, digest = self._fetch(url_or_path, part, have, digest, size, limiter, headers, progress, what)
        if have < size:
            raise UpstreamUnavailable(200, f"{what}: the body ended after {have} of {size} bytes")
        if have > size or digest.hexdigest() != expected_sha256:
            part.unlink(missing_ok=True)
            got = "more bytes than listed" if have > size else f"sha256 {digest.hexdigest()}"
            raise UpstreamCorrupt(200, f"{what}: expected {size} bytes with sha256 {expected_sha256}, got {got}")
        os.replace(part, dest)

    def _fetch(
        self,
        url_or_path: str,
        part: Path,
        have: int,
        digest: Any,
        size: int,
        limiter: RateLimiter | None,
        headers: dict[str, str] | None,
        progress: Any,
        what: str,
    ) -> tuple[int, Any]:
        """Append the rest of the object to `part` from byte `have`; returns the bytes held and their hash."""
        with self.open_stream(url_or_path, start_at=have, headers=headers) as response:
            if have and response.status_code != 206:
                have, digest = 0, hashlib.sha256()  # the server ignored the range: start over
            with open(part, "r+b" if part.exists() else "wb") as out:
                out.seek(have)
                out.truncate()
                spool = _Spool(out, digest)
                try:
                    for chunk in response.iter_bytes():  # as it arrives: a break keeps all that came
                        have += len(chunk)
                        if have > size:
                            break
                        spool.put(chunk)
                        if limiter is not None:
                            limiter.consume(len(chunk))
                        if progress is not None:
                            progress(len(chunk))
                except httpx.HTTPError as exc:
                    # Kept for the next attempt to resume; a .part is never visible as an object.
                    raise UpstreamUnavailable(0, f"{what}: the transfer broke off ({type(exc).__name__})") from None
                finally:
                    spool.close()  # all that came is written and hashed, a broken transfer's too
                    out.flush()
                    os.fsync(out.fileno())
        return have, digest


class _Spool:
    """Writes and hashes what a download brings in a thread of its own: reading the socket (Python, with
    the GIL) then overlaps hashing and writing (C, without it), which would otherwise take a third of a
    loopback transfer's time on the same core. Blocks stay in order; a write error surfaces at the next
    put or at close."""

    def __init__(self, out: BinaryIO, digest: Any) -> None:
        self._out, self._digest = out, digest
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=SPOOL_BLOCKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="download-spool", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            if self._error is None:  # after a failure, blocks are drained unwritten: put never hangs
                try:
                    self._out.write(block)
                    self._digest.update(block)
                except BaseException as exc:
                    self._error = exc

    def put(self, block: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._blocks.put(block)

    def close(self) -> None:
        self._blocks.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _hash_prefix(part: Path, length: int) -> Any:
    digest = hashlib.sha256()
    if length:
        with open(part, "rb") as fh:
            remaining = length
            while remaining:
                block = fh.read(min(CHUNK, remaining))
                if not block:
                    break
                digest.update(block)
                remaining -= len(block)
    return digest


def _entry(item: Any, what: str) -> TreeEntry:
    try:
        lfs = item.get("lfs") or {}
        kind = str(item["type"])
        return TreeEntry(
            path=str(item["path"]),
            type="directory" if kind in ("directory", "tree") else "file",
            size=int(item.get("size") or 0),
            oid=str(item.get("oid") or ""),
            lfs_sha256=str(lfs["oid"]).removeprefix("sha256:") if lfs.get("oid") else None,
            lfs_size=int(lfs["size"]) if lfs.get("size") is not None else None,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UpstreamUnavailable(200, f"{what}: an entry of the listing is malformed") from None
