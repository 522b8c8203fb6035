"""A dataset's listing tags follow its conversion, in process: the size category of the rows it counted
(none once the dataset has no data), and a dataset from before the viewer, queued at start, gets the
tags of today's rules (`language:en`, not the bare `en` it was given before)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import delete

from csghub.config import load_settings
from csghub.core.names import RepoId, RepoType
from csghub.db.models import DatasetConversion, Repo, User
from csghub.services.context import Hub
from csghub.services.datasets import conversions
from csghub.services.identity.accounts import actor_for_user, create_user
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.services.repositories.commits import DeletedFile, InlineFile, create_commit
from csghub.services.repositories.writes import VIA_API
from csghub.wiring import build_hub

CARD = b"---\nlanguage: [en]\ntask_categories: [text-classification]\n---\n# People\n"
ROWS = b"name,age\n" + b"".join(f"person {i},{i % 90}\n".encode() for i in range(1200))


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": tmp_path / "data"}))


@pytest.fixture
def owner(hub: Hub) -> Actor:
    view = create_user(hub, "alice", email="alice@example.com", password="correct horse battery")
    with hub.db() as session:
        user = session.get(User, view.id)
        assert user is not None
        return actor_for_user(session, user)


def _commit(hub: Hub, actor: Actor, repo: repos.RepoView, files: dict[str, bytes | None], tmp: Path) -> None:
    ops: list[InlineFile | DeletedFile] = []
    for path, data in files.items():
        if data is None:
            ops.append(DeletedFile(path))
            continue
        spooled = tmp / f"f{len(list(tmp.iterdir()))}"
        spooled.write_bytes(data)
        ops.append(InlineFile(path, spooled, len(data), hashlib.sha256(data).hexdigest()))
    create_commit(hub, actor, repo, "main", ops, summary="data", via=VIA_API)


def _tags(hub: Hub, repo_id: int) -> list[str]:
    return repos.get_repo_by_id(hub, repo_id).tags


def test_a_conversion_gives_the_dataset_its_row_counts_size_category(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = repos.create_repo(hub, owner, RepoType.DATASET, RepoId.of("alice", "people"))
    _commit(hub, owner, repo, {"README.md": CARD, "train.csv": ROWS}, tmp_path)
    assert "size_categories:1K<n<10K" not in _tags(hub, repo.id), "no rows counted yet"
    conversions.run_pending(hub)
    assert _tags(hub, repo.id) == ["task_categories:text-classification", "language:en", "size_categories:1K<n<10K"]
    [listed] = repos.list_repos(hub, owner, repos.RepoQuery(RepoType.DATASET, tags=("size_categories:1K<n<10K",)))
    assert (listed.id, listed.num_rows, listed.size_category) == (repo.id, 1200, "1K<n<10K")

    _commit(hub, owner, repo, {"train.csv": None}, tmp_path)
    conversions.run_pending(hub)
    assert _tags(hub, repo.id) == ["task_categories:text-classification", "language:en"], "no data, no size"


def test_a_dataset_from_before_the_viewer_gets_todays_tags_once_converted(
    hub: Hub, owner: Actor, tmp_path: Path
) -> None:
    repo = repos.create_repo(hub, owner, RepoType.DATASET, RepoId.of("alice", "older"))
    _commit(hub, owner, repo, {"README.md": CARD, "train.csv": ROWS}, tmp_path)
    with hub.db() as session:  # as a hub of the previous release left it: bare language tags, no record
        session.execute(delete(DatasetConversion).where(DatasetConversion.repo_id == repo.id))
        row = session.get(Repo, repo.id)
        assert row is not None
        row.tags = json.dumps(["task_categories:text-classification", "en"])
    assert conversions.backfill(hub) == 1
    conversions.run_pending(hub)
    assert _tags(hub, repo.id) == ["task_categories:text-classification", "language:en", "size_categories:1K<n<10K"]
