"""A hub set up again at the address of an earlier one (a reinstall, a new data folder): hf_xet keeps a
cache per CAS URL of what it uploaded there, so a client that uploaded to the old hub must not be led to
skip uploading to the new one what only the old one stored. The CAS URL names the store, not just the
address, so the new hub is a new cache for the client and the upload goes through whole."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveHubFactory
from tests.support.clients import client_env, create_repo

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

_UPLOAD = (
    "import sys; from huggingface_hub import HfApi; "
    "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_folder("
    "folder_path=sys.argv[3], repo_id=sys.argv[4], commit_message='weights')"
)
_DOWNLOAD = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "print(hf_hub_download(sys.argv[3], 'weights.bin', endpoint=sys.argv[1], token=sys.argv[2], cache_dir=sys.argv[4]))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(script: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_xet_upload_to_a_new_hub_at_an_old_hubs_address(live_hub_factory: LiveHubFactory, tmp_path: Path) -> None:
    data = random.Random(7).randbytes(3 * 1024 * 1024)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(data)
    (folder / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    # One client machine: one HOME, one Xet cache, for both hubs.
    env = client_env(tmp_path / "home", {"HF_XET_CACHE": str(tmp_path / "xet-cache")})
    port = _free_port()

    old = live_hub_factory(port=port)
    user, token = old.user("alice")
    create_repo(old.url, token, f"{user}/m")
    _run(_UPLOAD, env, old.url, token, str(folder), f"{user}/m")
    old.stop()

    new = live_hub_factory(port=port)
    assert new.url == old.url
    user, token = new.user("alice")
    create_repo(new.url, token, f"{user}/m")
    _run(_UPLOAD, env, new.url, token, str(folder), f"{user}/m")
    downloaded = _run(_DOWNLOAD, env, new.url, token, f"{user}/m", str(tmp_path / "dl"))
    assert Path(downloaded).read_bytes() == data
