"""Which repository names the pull-through cache may bring from an upstream source.

A source's `proxy_rules` are a list of {"pattern": glob, "action": ...}, the first match deciding,
case-insensitively; a pattern is matched against "namespace/name" and against "models/namespace/name"
(the type's plural: datasets/, spaces/, codes/), so "org/*" names every type and "datasets/org/*" only
datasets. Actions: "deny" keeps the name out (it answers 404 like any missing
repository), "cache" fetches it on demand, "allow" also keeps it fresh as a scheduled mirror. A name
no rule matches is cached.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType

ACTIONS = ("allow", "deny", "cache")
DEFAULT_ACTION = "cache"
MAX_RULES = 200


def check_rules(rules: Any) -> list[dict[str, str]]:
    """The rules as stored, or InvalidArgument naming the first bad one (for the sources' create/update)."""
    if not isinstance(rules, list):
        raise InvalidArgument("'proxy_rules' must be a list of {'pattern': ..., 'action': allow|deny|cache}")
    if len(rules) > MAX_RULES:
        raise InvalidArgument(f"'proxy_rules' may hold at most {MAX_RULES} rules")
    out = []
    for n, rule in enumerate(rules):
        if not isinstance(rule, dict) or set(rule) - {"pattern", "action"}:
            raise InvalidArgument(f"Proxy rule {n}: expected an object with 'pattern' and 'action' only")
        pattern, action = rule.get("pattern"), rule.get("action", DEFAULT_ACTION)
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > 256:
            raise InvalidArgument(f"Proxy rule {n}: 'pattern' must be a glob such as 'org/*' (at most 256 characters)")
        if action not in ACTIONS:
            raise InvalidArgument(f"Proxy rule {n}: 'action' must be one of {', '.join(ACTIONS)}, not {action!r}")
        out.append({"pattern": pattern.strip(), "action": action})
    return out


def load_rules(stored: str) -> list[dict[str, str]]:
    """A source's stored rules; unreadable ones deny everything rather than open the cache wide."""
    try:
        return check_rules(json.loads(stored or "[]"))
    except (ValueError, InvalidArgument):
        return [{"pattern": "*", "action": "deny"}]


def decide(rules: list[dict[str, str]], repo_type: RepoType, repo_id: str) -> str:
    """allow, deny or cache for the repository "namespace/name" of that type."""
    names = (repo_id.lower(), f"{repo_type.plural}/{repo_id}".lower())
    for rule in rules:
        pattern = rule["pattern"].lower()
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return rule["action"]
    return DEFAULT_ACTION
