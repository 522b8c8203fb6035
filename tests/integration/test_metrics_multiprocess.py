"""With PROMETHEUS_MULTIPROC_DIR, each server process writes its values there and a scrape from any of them
adds them up (prometheus-client reads the variable when it is imported: each step is a process of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

COUNT = """
from csghub.services.observability.metrics import Metrics
metrics = Metrics()
metrics.record.started()
metrics.record.observe_request("/api/{type_plural}", "GET", 200, 0.02)
metrics.record.count_bytes("git", 5, 7)
metrics.record.started()  # left in flight: the process ends as a server's shutdown would
metrics.close()
"""
SCRAPE = """
import sys
from csghub.services.observability.metrics import Metrics
from csghub.services.observability.scrape import scrape
from csghub.services.permissions import Actor
body, _ = scrape(Metrics(), Actor(user_id=1, name="root", is_admin=True))
sys.stdout.write(body.decode())
"""


def _run(code: str, folder: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_scrape_adds_up_the_values_of_every_process(tmp_path: Path) -> None:
    for _ in range(2):
        _run(COUNT, tmp_path)
    assert len(list(tmp_path.glob("*.db"))) >= 2  # files of each process
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(_run(SCRAPE, tmp_path))
        for sample in family.samples
    }
    route = (("method", "GET"), ("route", "/api/{type_plural}"), ("status", "200"))
    assert samples[("csghub_http_requests_total", route)] == 2
    assert samples[("csghub_http_request_duration_seconds_count", route[:2])] == 2
    assert samples[("csghub_transfer_bytes_total", (("direction", "out"), ("protocol", "git")))] == 14
    # Live gauges count only processes that have not shut down.
    assert samples.get(("csghub_http_requests_in_flight", ()), 0) == 0
