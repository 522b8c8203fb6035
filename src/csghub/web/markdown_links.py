"""Relative links and images in rendered markdown, resolved against the repository being shown.

A model card's `![x](images/a.png)` means the repository's file, not a path under the page's URL: it
becomes `/{repo}/resolve/{rev}/images/a.png`, and a link `docs/guide.md` becomes the blob page. Paths
are joined to the folder of the document, `.` and `..` resolved, and never climb above the
repository's root. Absolute URLs, site paths (`/datasets/...`) and fragments are left alone (the
sanitiser still decides which schemes may stay).

The rewrite runs as the sanitiser's attribute filter, so that raw HTML (`<img src="assets/logo.png">`,
common in cards) is resolved the same way as markdown."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

# A scheme (`https:`, `mailto:`, `javascript:`) or a protocol-relative `//host`: not ours to resolve.
_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.\-]*:|//)")
# Prefixed to every id in rendered markdown (nh3's id_prefix) so that a README cannot take over the
# page's own ids; fragment links get the same prefix so that footnotes and anchors still work.
ID_PREFIX = "user-content-"


@dataclass(frozen=True, slots=True)
class RepoLinks:
    """Where a document lives: the repository's page path (`/datasets/ns/name`), the revision in the
    URL, and the folder of the document inside the repository ('' for the root)."""

    base: str
    revision: str
    folder: str = ""

    @classmethod
    def for_file(cls, base: str, revision: str, path: str) -> RepoLinks:
        return cls(base, revision, path.rpartition("/")[0])


def _join(folder: str, relative: str) -> tuple[str, bool]:
    """`relative` from `folder`, normalised; `..` at the root stays at the root. Also: names a folder."""
    parts: list[str] = [p for p in folder.split("/") if p]
    for part in relative.split("/"):
        step = unquote(part)  # `%2e%2e` is `..` to the server that answers the URL
        if step in ("", "."):
            continue
        if step == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    folderish = relative in ("", ".", "..") or relative.endswith(("/", "/.", "/.."))
    return "/".join(parts), folderish


def resolve_url(links: RepoLinks, url: str, *, image: bool) -> str:
    """`url` as written in the document -> the URL the page should use."""
    if not url or url.startswith(("#", "/", "?")) or _ABSOLUTE.match(url):
        return url
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    path, rest = url[:cut], url[cut:]
    joined, folderish = _join(links.folder, path)
    revision = quote(links.revision, safe="")
    if image:
        return f"{links.base}/resolve/{revision}/{joined}{rest}"
    if folderish or not joined:
        return f"{links.base}/tree/{revision}" + (f"/{joined}" if joined else "") + rest
    return f"{links.base}/blob/{revision}/{joined}{rest}"


def attribute_filter(links: RepoLinks | None) -> Callable[[str, str, str], str | None]:
    """The sanitiser's per-attribute hook for one document: URLs resolved, fragment links prefixed."""

    def rewrite(element: str, attribute: str, value: str) -> str | None:
        if attribute == "href" and value.startswith("#") and len(value) > 1:
            return "#" + ID_PREFIX + value[1:]
        if links is None:
            return value
        if element == "img" and attribute == "src":
            return resolve_url(links, value, image=True)
        if element == "a" and attribute == "href":
            return resolve_url(links, value, image=False)
        return value

    return rewrite
