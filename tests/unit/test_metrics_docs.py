"""Every metric the hub exposes is documented, and the Grafana dashboard asks only for those."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from csghub.config import load_settings
from csghub.wiring import build_hub

DOCS = Path(__file__).resolve().parents[2] / "docs"
_NAME = re.compile(r"\bcsghub_[a-z_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_exposed_metrics_are_documented_and_the_dashboard_uses_only_them(tmp_path: Path) -> None:
    hub = build_hub(load_settings({}, None, {"data_dir": tmp_path / "data"}))
    hub.metrics.record.observe_request("/api/models", "GET", 200, 0.01)  # families with labels show once used
    hub.metrics.record.count_bytes("api", 1, 1)
    hub.metrics.record.count_transfer("git", "upload-pack")
    exposed = {_family(name) for name in _NAME.findall(generate_latest(hub.metrics.registry).decode())}
    assert {"csghub_http_requests", "csghub_database_up", "csghub_storage_bytes", "csghub_queue_depth"} <= exposed
    documented = {_family(name) for name in _NAME.findall((DOCS / "operations-metrics.md").read_text())}
    assert exposed <= documented, exposed - documented
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    asked = {
        _family(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in _NAME.findall(target["expr"])
    }
    assert asked and asked <= exposed, asked - exposed
