"""csghub-cli's options against a live hub, run as a user runs the console script: repository types,
`--revision` naming a branch that does not exist yet, a path in the repository, allow and ignore
patterns, and where downloads land (`--local-dir`, `--cache-dir`).

With xnet (the default) the CLI speaks the Hugging Face surface under /hf; with
CSGHUB_DISABLE_XNET=true it creates branches through /api/v1, pushes with git and git-lfs, and
downloads under /csg.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.clients import client_env, setup_git_home
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

CLI = str(Path(sys.executable).parent / "csghub-cli")
BIG = 1_500_000  # over the 1 MB from which the git mode tracks a file with git-lfs


def _env(hub: LiveHub, token: str, root: Path, *, xnet: bool) -> dict[str, str]:
    home = root / "home"
    setup_git_home(home)  # the git mode pushes with git and git-lfs
    extra = {"CSGHUB_DOMAIN": hub.url, "CSGHUB_TOKEN": token, "CSGHUB_HOME": str(home)}
    if not xnet:
        extra["CSGHUB_DISABLE_XNET"] = "true"
    return client_env(home, extra)


def _cli(env: dict[str, str], root: Path, args: list[str]) -> None:
    proc = subprocess.run([CLI, *args], env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _folder(root: Path) -> Path:
    folder = root / "src"
    (folder / "nested").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "notes.txt").write_text("read me\n")
    (folder / "nested" / "weights.bin").write_bytes(os.urandom(BIG))
    return folder


def _files(root: Path) -> set[str]:
    """The files a download left, without the clients' bookkeeping folders."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).parts[0].startswith(".")
    }


def _branches(hub: LiveHub, token: str, repo_type: str, repo: str, branch: str) -> tuple[dict[str, str], list[str]]:
    """The branch heads, and the commits of `branch` newest first."""
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}) as client:
        refs = client.get(f"/api/{repo_type}s/{repo}/refs").json()
        history = client.get(f"/api/{repo_type}s/{repo}/commits/{quote(branch, safe='')}").json()
    return {b["name"]: b["targetCommit"] for b in refs["branches"]}, [c["id"] for c in history]


def _tree(hub: LiveHub, token: str, repo_type: str, repo: str, revision: str) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}) as client:
        path = f"/api/{repo_type}s/{repo}/tree/{quote(revision, safe='')}"
        tree = client.get(path, params={"recursive": "1"}).json()
    return {e["path"]: e for e in tree if e["type"] == "file"}


# `-t space` needs the git mode: with xnet the SDK calls huggingface_hub's create_repo without a
# space SDK, which refuses before sending anything.
@pytest.mark.parametrize(("repo_type", "xnet"), [("model", True), ("dataset", True), ("space", False)])
def test_csghub_cli_upload_to_new_branch_then_download_by_pattern(
    live: LiveHub, tmp_path: Path, repo_type: str, xnet: bool
) -> None:
    user, token = live.user()
    env = _env(live, token, tmp_path, xnet=xnet)
    # The git mode clones into /tmp/csg/<name> whatever the caller wants: a name no other run uses.
    name = f"cli-{repo_type}-{user}"
    repo = f"{user}/{name}"
    folder = _folder(tmp_path)
    upload = ["upload", repo, str(folder), "weights", "-t", repo_type, "--revision", "feature", "--username", user]
    _cli(env, tmp_path, upload)
    shutil.rmtree(Path("/tmp/csg") / name, ignore_errors=True)  # the git mode's clone, left behind

    heads, history = _branches(live, token, repo_type, repo, "feature")
    assert set(heads) == {"main", "feature"}
    assert history[0] == heads["feature"] and heads["main"] in history[1:]  # branched from main
    assert not any(path.startswith("weights/") for path in _tree(live, token, repo_type, repo, "main"))
    on_feature = _tree(live, token, repo_type, repo, "feature")
    assert on_feature["weights/nested/weights.bin"]["lfs"]["size"] == BIG
    assert "lfs" not in on_feature["weights/config.json"]

    out = tmp_path / "out"
    download = ["download", repo, "-t", repo_type, "--revision", "feature"]
    _cli(env, tmp_path, [*download, "--local-dir", str(out), "--ignore-patterns", "*.bin"])
    assert {"weights/config.json", "weights/notes.txt"} <= _files(out)
    assert "weights/nested/weights.bin" not in _files(out)
    assert (out / "weights" / "notes.txt").read_text() == "read me\n"

    if xnet:  # huggingface_hub's cache: one snapshot folder per commit
        cache = tmp_path / "cache"
        _cli(env, tmp_path, [*download, "--cache-dir", str(cache), "--allow-patterns", "*.bin"])
        snapshot = cache / f"{repo_type}s--{user}--{name}" / "snapshots" / heads["feature"]
        assert _files(snapshot) == {"weights/nested/weights.bin"}
    else:
        snapshot = tmp_path / "only-bin"
        _cli(env, tmp_path, [*download, "--local-dir", str(snapshot), "--allow-patterns", "*.bin"])
        assert _files(snapshot) == {"weights/nested/weights.bin"}
    weights = snapshot / "weights" / "nested" / "weights.bin"
    assert weights.read_bytes() == (folder / "nested" / "weights.bin").read_bytes()


def test_csghub_cli_git_mode_uploads_one_file_into_a_folder_of_a_new_branch(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    env = _env(live, token, tmp_path, xnet=False)
    repo = f"{user}/cli-one"
    one = tmp_path / "one.txt"
    one.write_text("one file\n")
    _cli(env, tmp_path, ["upload", repo, str(one), "docs", "-t", "dataset", "-r", "fix/typo"])

    heads, history = _branches(live, token, "dataset", repo, "fix/typo")
    assert set(heads) == {"main", "fix/typo"} and heads["main"] in history[1:]
    assert "docs/one.txt" in _tree(live, token, "dataset", repo, "fix/typo")
    assert "docs/one.txt" not in _tree(live, token, "dataset", repo, "main")
    out = tmp_path / "out"
    _cli(env, tmp_path, ["download", repo, "docs/one.txt", "-t", "dataset", "-r", "fix/typo", "--local-dir", str(out)])
    assert (out / "docs" / "one.txt").read_text() == "one file\n"
