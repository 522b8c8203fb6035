"""The environment every process the hub starts gets: only what it needs, and switches that keep
engines from phoning home (measured in /work/shared/research: `transformers serve` checks PyPI for
updates and probes huggingface.co; Ray reports usage and resolves a routable address)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

OFFLINE_ENV: Mapping[str, str] = MappingProxyType(
    {
        "HF_HUB_OFFLINE": "1",  # a launcher that downloads from the hub turns it off for that step only
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keeps Ray on loopback (see the research note)
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONUNBUFFERED": "1",  # logs are read while the process runs
    }
)

# Passed through from the hub's own environment: what a process needs to find programs, write files and
# reach the package index the way the hub's machine is set up to. Never the hub's settings or secrets.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
INHERITED_PREFIXES = ("PIP_",)


def minimal_env(extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The base environment of a child process: inherited essentials, the offline switches, then `extra`."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(OFFLINE_ENV)
    env.update(extra or {})
    return env
