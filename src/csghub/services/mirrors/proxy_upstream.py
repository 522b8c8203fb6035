"""What the pull-through cache asks of its upstream: whether a repository is there and for whom, where its
git history is, and one LFS object's bytes. Every connection goes through the source's Upstream client
(net/: the outbound address rules, checked at each connection); nothing of the upstream's response headers
goes further than here.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from csghub.core.names import RepoType
from csghub.services.context import Hub
from csghub.services.mirrors import sources
from csghub.services.mirrors.arrivals import CHUNK
from csghub.services.mirrors.upstream import Upstream, UpstreamError, UpstreamUnavailable

# Probing and listing answer fast or not at all; an object's transfer may take long between its bytes.
PROBE_TIMEOUT_S = 20.0
TRANSFER_TIMEOUT_S = 120.0
_ABSENT = ("UpstreamNotFound", "UpstreamForbidden")


def visibility(hub: Hub, source_id: int, repo_type: RepoType, repo_id: str) -> str | None:
    """ "public" if the upstream shows the repository to anyone, "internal" if only to the source's token,
    None if it has none to show. An unreachable upstream raises (UpstreamUnavailable)."""
    source = sources.find_source(hub, source_id)
    if source is None:
        return None
    with Upstream(source.base_url, sources.outbound_rules(hub.settings), timeout=PROBE_TIMEOUT_S) as anonymous:
        if _shows(anonymous, repo_type, repo_id):
            return "public"
    if source.has_token:
        with sources.upstream(hub, source_id, timeout=PROBE_TIMEOUT_S) as signed_in:
            if _shows(signed_in, repo_type, repo_id):
                return "internal"
    return None


def _shows(up: Upstream, repo_type: RepoType, repo_id: str) -> bool:
    try:
        up.repo_info(repo_type.value, repo_id)
    except UpstreamError as exc:
        if exc.code in _ABSENT:
            return False
        raise
    return True


def git_remote(hub: Hub, source_id: int, repo_type: RepoType, repo_id: str) -> tuple[str, dict[str, str]]:
    """The repository's git URL and the environment that pins git's connection to a checked address and
    carries the token (never in the URL or the arguments)."""
    with sources.upstream(hub, source_id, timeout=PROBE_TIMEOUT_S) as up:
        url = up.git_url(repo_type.value, repo_id)
        return url, up.git_env(url)


def object_bytes(hub: Hub, source_id: int, repo_type: RepoType, repo_id: str, oid: str, size: int) -> Iterator[bytes]:
    """The object's bytes as the upstream sends them (the caller verifies them)."""
    with sources.upstream(hub, source_id, timeout=TRANSFER_TIMEOUT_S) as up:
        answer = next(iter(up.lfs_batch(repo_type.value, repo_id, [(oid, size)])), {})
        action = (answer.get("actions") or {}).get("download")
        if not isinstance(action, dict) or not isinstance(action.get("href"), str):
            raise UpstreamUnavailable(200, f"The upstream offers no download of LFS object {oid}")
        header = action.get("header")
        header = header if isinstance(header, dict) else {}
        with up.open_stream(action["href"], headers={str(k): str(v) for k, v in header.items()}) as response:
            try:
                yield from response.iter_bytes(CHUNK)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(0, f"The upstream's transfer of LFS object {oid} broke: {exc}") from None
