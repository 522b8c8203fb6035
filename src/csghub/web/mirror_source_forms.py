"""The source form's fields: what it sends becomes a SourceSpec (services/mirrors/sources checks it),
and what the form shows: a stored source's values (never its token) or a refused form as it was sent.

Only the shape is parsed here (numbers are numbers, a proxy rule is "action pattern"); whether a URL
or a rule is acceptable is the service's to say, as it is for the API and the CLI."""

from __future__ import annotations

import dataclasses
from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.services.mirrors.sources import SourceSpec, SourceView
from csghub.web.mirror_forms import number_field

_NUMBERS = ("max_concurrency", "bandwidth_bytes_per_s", "cache_max_bytes", "object_max_bytes")


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
        max_concurrency=number_field(fields, "max_concurrency", 2),
        bandwidth_bytes_per_s=number_field(fields, "bandwidth_bytes_per_s", 0),
        upstream_proxy=fields.get("upstream_proxy") == "on",
        proxy_rules=tuple(parse_rules(fields.get("proxy_rules", ""))),
        cache_max_bytes=number_field(fields, "cache_max_bytes", 0),
        object_max_bytes=number_field(fields, "object_max_bytes", 0),
    )


def source_changes(fields: dict[str, str]) -> dict[str, Any]:
    """The edit form as the changes update_source takes: every field, the token only when it changes."""
    spec = source_spec(fields, editing=True)
    changes = {field.name: getattr(spec, field.name) for field in dataclasses.fields(spec)}
    if spec.token is None:
        del changes["token"]
    return changes


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
