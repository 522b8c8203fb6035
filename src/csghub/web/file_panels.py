"""What the file pages add to a listing, a file and a card, as Hugging Face shows them: the latest commit
and commit count over the tree, each entry's last commit, a file's LFS/Xet storage and safetensors
header, a model's size, and the downloads of the last month drawn as an inline SVG chart.

Each helper returns template values; the services compute them (and keep them per commit or object).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from markupsafe import Markup, escape

from csghub.core.names import RepoType
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories import downloads, file_history, lfs, tensors
from csghub.services.repositories.files import Snapshot, TreeEntry

_SCALES = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))


def format_count(number: int) -> str:
    """A parameter count as people say it: 1.24B, 350M, 7K."""
    for scale, unit in _SCALES:
        if number >= scale:
            return f"{number / scale:.3g}{unit}"
    return str(number)


def tree_context(snapshot: Snapshot, folder: str) -> dict[str, Any]:
    last = file_history.last_commits(snapshot, folder)
    return {"head": file_history.head(snapshot), "last": last.commits, "last_complete": last.complete}


def blob_context(hub: Hub, actor: Actor, snapshot: Snapshot, entry: TreeEntry) -> dict[str, Any]:
    """Where the file's bytes live (git, LFS or Xet) and, for safetensors, what its header says; the
    header is content, so only those who may download see it (a gated repository's files wait)."""
    storage: dict[str, Any] | None = None
    if entry.lfs is not None:
        xet_hash = lfs.xet_hashes_of(hub, snapshot.repo.id, [entry.lfs.oid]).get(entry.lfs.oid)
        storage = {
            "kind": "Xet" if xet_hash else "Git LFS",
            "sha256": entry.lfs.oid,
            "xet_hash": xet_hash,
            "pointer_size": entry.size,
            "size": entry.lfs.size,
        }
    summary = None
    if entry.path.endswith(tensors.SUFFIX) and can(actor, Action.DOWNLOAD, snapshot.repo.resource):
        summary = tensors.summarise_files(hub, snapshot, [entry.path]).get(entry.path)
    return {"storage": storage, "tensors": summary, "format_count": format_count}


def card_context(hub: Hub, actor: Actor, snapshot: Snapshot) -> dict[str, Any]:
    repo = snapshot.repo
    model_size = None
    if repo.type is RepoType.MODEL and can(actor, Action.DOWNLOAD, repo.resource):
        model_size = tensors.model_size(hub, snapshot)
    chart = None
    if repo.type in (RepoType.MODEL, RepoType.DATASET):
        days = downloads.daily_downloads(hub, repo.id)
        chart = {"svg": downloads_chart(days), "total": sum(count for _, count in days)}
    return {"model_size": model_size, "chart": chart, "format_count": format_count}


# The chart's drawing box; the SVG scales to its container's width (a phone's too).
_WIDTH, _HEIGHT, _GAP = 300, 60, 2


def downloads_chart(days: list[tuple[date, int]]) -> Markup:
    """One bar per day, scaled to the busiest day; each bar names its day and count (hover, screen
    readers). Colours come from the stylesheet, so the chart follows the light and dark themes."""
    peak = max((count for _, count in days), default=0) or 1
    step = _WIDTH / max(len(days), 1)
    bars = []
    for index, (day, count) in enumerate(days):
        height = round(count / peak * (_HEIGHT - 2), 2)
        x = round(index * step, 2)
        label = escape(f"{day.isoformat()}: {count}")
        bars.append(
            f'<rect class="bar" x="{x}" y="{round(_HEIGHT - height, 2)}" width="{round(step - _GAP, 2)}" '
            f'height="{max(height, 0.5)}"><title>{label}</title></rect>'
        )
    return Markup(
        f'<svg class="downloads-chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(f"{days[0][0]} to {days[-1][0]}" if days else "")}">'
        f'<line class="axis" x1="0" y1="{_HEIGHT - 0.5}" x2="{_WIDTH}" y2="{_HEIGHT - 0.5}"/>'
        + "".join(bars)
        + "</svg>"
    )
