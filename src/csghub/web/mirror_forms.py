"""The mirroring forms' fields: what the source form and the "New mirror" form send becomes a SourceSpec
or a MirrorSpec (services/mirrors checks them), and what a form shows again after a refusal.

Only the shape is parsed here (numbers are numbers, a rule is "action pattern"); whether a URL, a name
or a rule is acceptable is the services' to say, so the portal, the API and the CLI refuse the same.
"""

from __future__ import annotations

from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.http.params import whole_number
from csghub.core.names import RepoType
from csghub.services.mirrors.records import MirrorSpec
from csghub.services.mirrors.sources import SourceSpec, SourceView
from csghub.web.mirror_panels import INTERVALS

DEFAULT_INTERVAL = 86400
_NUMBERS = ("max_concurrency", "bandwidth_bytes_per_s", "cache_max_bytes", "object_max_bytes")


def _number(fields: dict[str, str], key: str, default: int) -> int:
    found = whole_number(fields.get(key, "").strip(), key)
    return default if found is None else found


def parse_rules(text: str) -> list[dict[str, str]]:
    """The proxy rules' text area: one rule a line, "allow|deny|cache pattern" (first match wins)."""
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise InvalidArgument(f"Proxy rule on line {number} must be an action and a pattern, like 'allow org/*'")
        rules.append({"action": words[0].lower(), "pattern": words[1]})
    return rules


def rules_text(rules: list[dict[str, Any]]) -> str:
    return "\n".join(f"{rule.get('action', '')} {rule.get('pattern', '')}" for rule in rules)


def source_spec(fields: dict[str, str], *, editing: bool) -> SourceSpec:
    """The posted source form as a spec. The token field is write-only: left empty while editing, the
    stored token stays (None); "clear_token" removes it ("")."""
    token: str | None = fields.get("token", "").strip() or None
    if editing and fields.get("clear_token") == "on":
        token = ""
    return SourceSpec(
        name=fields.get("name", "").strip(),
        base_url=fields.get("base_url", "").strip(),
        token=token,
        use_git=fields.get("use_git") == "on",
        max_concurrency=_number(fields, "max_concurrency", 2),
        bandwidth_bytes_per_s=_number(fields, "bandwidth_bytes_per_s", 0),
        upstream_proxy=fields.get("upstream_proxy") == "on",
        proxy_rules=parse_rules(fields.get("proxy_rules", "")),
        cache_max_bytes=_number(fields, "cache_max_bytes", 0),
        object_max_bytes=_number(fields, "object_max_bytes", 0),
    )


def source_form(source: SourceView | None) -> dict[str, Any]:
    """The source form's values: a stored source's (never its token), or a new one's defaults."""
    if source is None:
        return {"use_git": True, "max_concurrency": 2, "proxy_rules": "", "has_token": False}
    values: dict[str, Any] = {key: getattr(source, key) for key in ("name", "base_url", "use_git", *_NUMBERS)}
    values["upstream_proxy"] = source.upstream_proxy
    values["proxy_rules"] = rules_text(list(source.proxy_rules))
    values["has_token"] = source.has_token
    return values


def posted_source_form(fields: dict[str, str], has_token: bool) -> dict[str, Any]:
    """A refused form shown again as it was sent, checkboxes included; the token is never sent back."""
    values: dict[str, Any] = {key: fields.get(key, "") for key in ("name", "base_url", "proxy_rules", *_NUMBERS)}
    values.update({key: fields.get(key) == "on" for key in ("use_git", "upstream_proxy")})
    values["has_token"] = has_token
    return values


def interval_of(fields: dict[str, str]) -> int:
    return _number(fields, "interval_seconds", DEFAULT_INTERVAL)


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
