"""The mirrors' JSON: request bodies read into the service's specs (CSGHub's field names and ours), and
views written in CSGHub's shapes (snake_case, as its /api/v1 answers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from csghub.api.serialize import iso
from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.http.openapi import FLAG, REPO_TYPE, TEXT, TEXTS, VISIBILITY, WHOLE, json_body
from csghub.services.mirrors.records import BatchSpec, MirrorSpec, MirrorView, TaskView

INTERVAL: dict[str, Any] = {"oneOf": [WHOLE, TEXT]}
CREATE_BODY = json_body(
    source=TEXT,
    mirror_source_id=WHOLE,
    upstream=TEXT,
    source_repo_path=TEXT,
    source_url=TEXT,
    type=REPO_TYPE,
    interval=INTERVAL,
    visibility=VISIBILITY,
    private=FLAG,
)
UPDATE_BODY = json_body(interval=INTERVAL, paused=FLAG, optional=True)
BATCH_BODY = json_body(
    "upstreams", source=TEXT, mirror_source_id=WHOLE, upstreams=TEXTS, type=REPO_TYPE, namespace=TEXT, interval=INTERVAL
)


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"'{key}' must be a string")
    return value.strip()


def _interval(body: dict[str, Any], default: int | None) -> int | None:
    """Seconds, as a number or CSGHub's string of digits."""
    value = body.get("interval")
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidArgument("'interval' must be a whole number of seconds")
    return int(value)


def _source(body: dict[str, Any]) -> str:
    source = _text(body, "source") or str(body.get("mirror_source_id") or "")
    if not source:
        raise InvalidArgument("Name the mirror source: 'source' (its name or id) or 'mirror_source_id'")
    return source


def _upstream_from_url(url: str) -> tuple[str, RepoType | None]:
    """CSGHub's `source_url` (https://hub/[datasets/]ns/name[.git]) as an upstream id and, if it says, type."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) < 2:
        raise InvalidArgument(f"'source_url' does not name a repository: {url!r}")
    ns, name = parts[-2], parts[-1].removesuffix(".git")
    kind = (
        RepoType.parse(parts[-3])
        if len(parts) >= 3 and parts[-3] in ("datasets", "spaces", "codes", "models")
        else None
    )
    return f"{ns}/{name}", kind


def _visibility(body: dict[str, Any]) -> str:
    if "visibility" in body:
        return _text(body, "visibility")
    return "private" if body.get("private") is True else "public"


def mirror_spec(body: dict[str, Any], repo_type: RepoType, target: RepoId) -> MirrorSpec:
    upstream = _text(body, "upstream") or _text(body, "source_repo_path")
    if not upstream and _text(body, "source_url"):
        upstream, _kind = _upstream_from_url(_text(body, "source_url"))
    if not upstream:
        raise InvalidArgument("Name the upstream repository: 'upstream' (\"ns/name\" on the source)")
    interval = _interval(body, 86400)
    assert interval is not None
    return MirrorSpec(_source(body), upstream, repo_type, str(target), interval, _visibility(body))


def batch_spec(body: dict[str, Any]) -> BatchSpec:
    upstreams = body.get("upstreams")
    if not isinstance(upstreams, list) or not all(isinstance(u, str) for u in upstreams):
        raise InvalidArgument("'upstreams' must be a list of \"ns/name\" strings")
    interval = _interval(body, 86400)
    assert interval is not None
    repo_type = RepoType.parse(_text(body, "type") or "model")
    return BatchSpec(_source(body), tuple(upstreams), repo_type, _text(body, "namespace"), interval, _visibility(body))


def update_fields(body: dict[str, Any]) -> tuple[int | None, bool | None]:
    paused = body.get("paused")
    if paused is not None and not isinstance(paused, bool):
        raise InvalidArgument("'paused' must be true or false")
    return _interval(body, None), paused


def _when(value: Any) -> str | None:
    return iso(value) if value is not None else None


def task_json(view: TaskView) -> dict[str, Any]:
    return {
        "id": view.id,
        "mirror_id": view.mirror_id,
        "repo_type": view.repo_type.value,
        "repo_path": view.repo_id,
        "state": view.state,
        "status": view.state,  # CSGHub's name for it
        "reason": view.reason,
        "trigger": view.trigger,
        "attempts": view.attempts,
        "next_attempt_at": _when(view.next_attempt_at),
        "bytes_done": view.bytes_done,
        "bytes_total": view.bytes_total,
        "files_done": view.files_done,
        "files_total": view.files_total,
        "progress": int(100 * view.bytes_done / view.bytes_total) if view.bytes_total else 0,
        "created_at": _when(view.created_at),
        "started_at": _when(view.started_at),
        "finished_at": _when(view.finished_at),
    }


def mirror_json(view: MirrorView) -> dict[str, Any]:
    return {
        "id": view.id,
        "repo_type": view.repo_type.value,
        "local_repo_path": view.repo_id,
        "source_repo_path": view.upstream_id,
        "mirror_source": {"source_name": view.source},
        "upstream_type": view.upstream_type.value,
        "mode": view.mode,
        "interval": view.interval_seconds,
        "paused": view.paused,
        "last_updated_at": _when(view.last_synced_at),
        "last_commit": view.last_commit,
        "last_message": view.last_error,
        "next_sync_at": _when(view.next_sync_at),
        "status": view.task.state if view.task is not None else "",
        "progress": task_json(view.task)["progress"] if view.task is not None else 0,
        "task": task_json(view.task) if view.task is not None else None,
        "created_at": _when(view.created_at),
    }
