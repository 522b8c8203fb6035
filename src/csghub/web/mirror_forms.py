"""The mirroring forms' fields: what the "New mirror" form sends becomes a MirrorSpec, the panel's
interval a number of seconds (web/mirror_source_forms.py does the same for the source form).

Only the shape is parsed here (numbers are numbers); whether a name, a source or an interval is
acceptable is services/mirrors' to say, so the portal, the API and the CLI refuse the same.
"""

from __future__ import annotations

from csghub.core.names import RepoType
from csghub.http.params import whole_number
from csghub.services.mirrors.records import MirrorSpec

DEFAULT_INTERVAL = 86400


def number_field(fields: dict[str, str], key: str, default: int) -> int:
    found = whole_number(fields.get(key, "").strip(), key)
    return default if found is None else found


def interval_of(fields: dict[str, str]) -> int:
    return number_field(fields, "interval_seconds", DEFAULT_INTERVAL)


def posted_interval(fields: dict[str, str]) -> int | None:
    """The interval a refused form sent, to show it chosen again (None when it was not a number)."""
    raw = fields.get("interval_seconds", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def mirror_spec(fields: dict[str, str]) -> MirrorSpec:
    """The "New mirror" form: the local name defaults to the upstream's, in the chosen namespace."""
    upstream = fields.get("upstream", "").strip().strip("/")
    name = fields.get("name", "").strip() or upstream.rsplit("/", 1)[-1]
    namespace = fields.get("namespace", "").strip()
    return MirrorSpec(
        source=fields.get("source", "").strip(),
        upstream=upstream,
        repo_type=RepoType.parse(fields.get("repo_type", "model").strip()),
        repo=f"{namespace}/{name}" if namespace and name else "",
        interval_seconds=interval_of(fields),
        visibility=fields.get("visibility", "public"),
    )
