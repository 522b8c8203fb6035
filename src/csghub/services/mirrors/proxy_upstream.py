"""What the pull-through cache asks of its upstream: whether a repository is there and for whom, where its
git history is, and one LFS object's bytes. Every connection goes through net/ (the outbound address
rules, checked at each connection); nothing of the upstream's response headers goes further than here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from csghub.core.names import RepoType
from csghub.db.models import MirrorSource
from csghub.net.client import git_connection_config, same_origin, upstream_client
from csghub.net.guard import AddressRules
from csghub.services.context import Hub
from csghub.services.mirrors.arrivals import CHUNK, FetchFailed

TIMEOUT_S = 30.0
LFS_JSON = "application/vnd.git-lfs+json"


@dataclass(frozen=True, slots=True)
class UpstreamAccess:
    base_url: str
    token: str | None
    rules: AddressRules

    def _path(self, repo_type: RepoType, repo_id: str) -> str:
        return f"{self.base_url}/{'' if repo_type is RepoType.MODEL else repo_type.plural + '/'}{repo_id}"

    def visibility(self, repo_type: RepoType, repo_id: str) -> str | None:
        """ "public" if the upstream shows the repository to anyone, "internal" if only to the source's
        token, None if it has none to show."""
        url = f"{self.base_url}/api/{repo_type.plural}/{repo_id}"
        for token, visibility in ((None, "public"), (self.token, "internal")):
            if visibility == "internal" and not token:
                break
            with upstream_client(self.rules, token, TIMEOUT_S) as client:
                try:
                    answer = client.get(url)
                except httpx.HTTPError as exc:
                    raise FetchFailed(f"The upstream did not answer: {type(exc).__name__}") from None
            if answer.status_code == 200:
                return visibility
            if answer.status_code >= 500:
                raise FetchFailed(f"The upstream answered {answer.status_code}")
        return None

    def git_remote(self, repo_type: RepoType, repo_id: str) -> tuple[str, dict[str, str]]:
        """The repository's git URL and the environment that pins git's connection to a checked address."""
        url = self._path(repo_type, repo_id)
        return url, git_connection_config(url, self.rules, self.token)

    def object_bytes(self, repo_type: RepoType, repo_id: str, oid: str, size: int) -> Iterator[bytes]:
        """The object's bytes as the upstream sends them (the caller verifies them)."""
        href, headers = self._download_action(repo_type, repo_id, oid, size)
        # A transfer link elsewhere (S3) gets only the headers the batch answer named, never our token.
        token = self.token if same_origin(href, self.base_url) else None
        try:
            with (
                upstream_client(self.rules, token, TIMEOUT_S) as client,
                client.stream("GET", href, headers=headers) as r,
            ):
                if r.status_code != 200:
                    raise FetchFailed(f"The upstream answered {r.status_code} for object {oid}")
                yield from r.iter_bytes(CHUNK)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"The upstream's transfer of object {oid} broke: {type(exc).__name__}") from None

    def _download_action(self, repo_type: RepoType, repo_id: str, oid: str, size: int) -> tuple[str, dict[str, str]]:
        url = f"{self._path(repo_type, repo_id)}.git/info/lfs/objects/batch"
        body = {"operation": "download", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}
        try:
            with upstream_client(self.rules, self.token, TIMEOUT_S) as client:
                answer = client.post(url, json=body, headers={"Accept": LFS_JSON, "Content-Type": LFS_JSON})
        except httpx.HTTPError as exc:
            raise FetchFailed(f"The upstream did not answer: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise FetchFailed(f"The upstream's LFS batch answered {answer.status_code}")
        try:
            found: Any = answer.json()["objects"][0]
            action = found["actions"]["download"]
            href, header = str(action["href"]), action.get("header") or {}
        except (ValueError, KeyError, IndexError, TypeError):
            raise FetchFailed(f"The upstream has no download for object {oid}") from None
        return href, {str(k): str(v) for k, v in header.items()}


def upstream_access(hub: Hub, source_id: int) -> UpstreamAccess:
    with hub.db() as session:
        row = session.get(MirrorSource, source_id)
        if row is None:
            raise FetchFailed(f"Mirror source #{source_id} no longer exists")
        base_url, token = row.base_url, None  # TODO: the source's token, unsealed by sources.py (part net)
    rules = AddressRules(
        allow_hosts=hub.settings.outbound_allow_hosts,
        deny_hosts=hub.settings.outbound_deny_hosts,
        allow_private=hub.settings.outbound_allow_private,
    )
    return UpstreamAccess(base_url.rstrip("/"), token, rules)
