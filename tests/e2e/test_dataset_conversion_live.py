"""The live hub converts every dataset push (here: plain git over HTTP) in the background and publishes
refs/convert/parquet, which git clients see; a conversion that was running when the hub was killed
(-9) is finished by the restarted hub."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from csghub.core.names import RepoId, RepoType
from csghub.services.datasets.catalog import load_catalog
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from tests.conftest import start_hub
from tests.support.clients import create_repo, git, setup_git_home
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

DEADLINE_S = 90.0


def _repo_id(live: LiveHub, repo: str) -> int:
    admin = Actor(user_id=0, is_admin=True)
    return repos.get_repo(live.hub, admin, RepoType.DATASET, RepoId.parse(repo)).id


def _push(live: LiveHub, token: str, repo: str, files: dict[str, bytes], work: Path) -> str:
    env = setup_git_home(work / "home")
    clone = work / "clone"
    url = f"{live.url}/datasets/{repo}".replace("://", f"://user:{token}@")
    if not clone.exists():
        git("clone", "-q", url, str(clone), cwd=work, env=env)
    for path, data in files.items():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_bytes(data)
    git("add", "-A", cwd=clone, env=env)
    git("commit", "-qm", "data", cwd=clone, env=env)
    git("push", "-q", "origin", "HEAD:main", cwd=clone, env=env)
    return git("rev-parse", "HEAD", cwd=clone, env=env).stdout.strip()


def _remote_refs(live: LiveHub, token: str, repo: str, work: Path) -> dict[str, str]:
    url = f"{live.url}/datasets/{repo}".replace("://", f"://user:{token}@")
    out = git("ls-remote", url, cwd=work, env=setup_git_home(work / "home")).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def test_a_git_push_to_a_dataset_is_converted_and_its_parquet_ref_is_visible(live: LiveHub, tmp_path: Path) -> None:
    owner, token = live.user()
    repo = f"{owner}/reviews"
    create_repo(live.url, token, repo, repo_type="dataset")
    rows = b"text,label\n" + b"".join(f"review {i},{i % 2}\n".encode() for i in range(500))
    head = _push(live, token, repo, {"data/train.csv": rows, "data/test.csv": b"text,label\nok,1\n"}, tmp_path)
    repo_id = _repo_id(live, repo)
    wait_until(lambda: load_catalog(live.hub, repo_id).state == "ready", "the conversion", timeout=DEADLINE_S, poll=0.2)
    catalog = load_catalog(live.hub, repo_id)
    assert catalog.source_sha == head
    assert [(s.split, s.num_rows) for s in catalog.splits] == [("train", 500), ("test", 1)]
    refs = _remote_refs(live, token, repo, tmp_path)
    assert refs["refs/heads/main"] == head
    assert refs["refs/convert/parquet"] == catalog.parquet_sha


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[LiveHub]:
    hub = start_hub(tmp_path / "data", own_group=True)
    yield hub
    hub.stop()


def test_a_conversion_running_when_the_hub_is_killed_finishes_after_the_restart(
    crashable: LiveHub, tmp_path: Path
) -> None:
    owner, token = crashable.user()
    repo = f"{owner}/big"
    create_repo(crashable.url, token, repo, repo_type="dataset")
    rng = random.Random(7)
    # Large enough that the job is still at work when the hub dies (several seconds of DuckDB and statistics).
    body = "".join(f"{i},{rng.random()},{'word ' * rng.randint(1, 30)}\n" for i in range(400_000))
    head = _push(crashable, token, repo, {"train.csv": ("id,score,text\n" + body).encode()}, tmp_path)
    repo_id = _repo_id(crashable, repo)
    running = lambda: load_catalog(crashable.hub, repo_id).state == "running"  # noqa: E731
    wait_until(running, "the job to start", timeout=30, poll=0.05)
    crashable.crash()
    assert load_catalog(crashable.hub, repo_id).state == "running"
    crashable.start()
    wait_until(
        lambda: load_catalog(crashable.hub, repo_id).state == "ready", "the conversion", timeout=DEADLINE_S, poll=0.2
    )
    catalog = load_catalog(crashable.hub, repo_id)
    assert catalog.source_sha == head and catalog.num_rows == 400_000
    # The job's work folder goes right after the record says ready.
    work = crashable.data_dir / "datasets" / "work"
    wait_until(lambda: not any(work.iterdir()), "the work folder to be removed", timeout=30, poll=0.05)
