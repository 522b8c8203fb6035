"""The real huggingface_hub client against a live hub, with hf_xet installed and with Xet disabled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveHubFactory
from tests.e2e import hf_scenario
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)


def test_hf_client_scenario_with_hf_xet_installed(live: LiveHub, tmp_path: Path) -> None:
    import hf_xet  # noqa: F401 - the scenario must run as users have it: hf_xet present

    user, token = live.user()
    seen = hf_scenario.run(live.url, token, user, tmp_path)
    assert seen["commits"] == 2


def test_hf_client_scenario_with_xet_disabled_goes_through_lfs(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    # Small parts so the 30 MB file goes through the multipart transfer, the path for big files.
    hub = live_hub_factory({"CSGHUB_PREUPLOAD_LFS": "true", "CSGHUB_LFS_PART_SIZE": str(5 * 1024 * 1024)})
    user, token = hub.user()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(tmp_path / "hf"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.e2e.hf_scenario", hub.url, token, user, str(tmp_path)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["commits"] == 2
    # The server told the client to use LFS for the binary, so it went through the batch API.
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.post(
            f"/api/models/{user}/tiny-model/preupload/main",
            json={"files": [{"path": "other.safetensors", "size": 20 << 20, "sample": ""}]},
        ).json()
    assert answer["files"][0]["uploadMode"] == "lfs"
