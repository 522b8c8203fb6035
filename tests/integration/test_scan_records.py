"""Upload scanning in process: files committed while scanning was off are scanned the first time they are
listed, scans a restart cut short resume at start, and content pushed twice is one record."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from csghub.config import load_settings
from csghub.core.names import RepoId, RepoType
from csghub.db.models import FileScan, User
from csghub.services.context import Hub
from csghub.services.identity.accounts import actor_for_user, create_user
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.services.repositories.commits import InlineFile, create_commit
from csghub.services.repositories.writes import VIA_API
from csghub.services.scanning import pipeline, results, status
from csghub.wiring import build_hub
from tests.support.waiting import wait_until


class RunsCode:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


EVIL = pickle.dumps([RunsCode()])


def _hub(data_dir: Path, **settings: Any) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": data_dir, **settings}))


def _owner(hub: Hub) -> Actor:
    view = create_user(hub, "alice", email="alice@example.com", password="correct horse battery")
    with hub.db() as session:
        user = session.get(User, view.id)
        assert user is not None
        return actor_for_user(session, user)


def _commit(hub: Hub, actor: Actor, repo: repos.RepoView, files: dict[str, bytes], tmp: Path) -> None:
    ops = []
    for path, data in files.items():
        spooled = tmp / f"f{len(list(tmp.iterdir()))}"
        spooled.write_bytes(data)
        ops.append(InlineFile(path, spooled, len(data), hashlib.sha256(data).hexdigest()))
    create_commit(hub, actor, repo, "main", list(ops), summary="files", via=VIA_API)


def _states(hub: Hub, repo: repos.RepoView) -> dict[str, str]:
    git = hub.git(repo.id)
    entries = list(git.list_tree(git.resolve("main"), recursive=True))
    return {path: s.status for path, s in status.security_of(hub, repo.id, entries).items()}


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    (tmp_path / "spool").mkdir()
    return tmp_path / "spool"


def test_files_committed_while_scanning_was_off_are_scanned_when_first_listed(tmp_path: Path, spool: Path) -> None:
    off = _hub(tmp_path / "data", scan_enabled=False)
    owner = _owner(off)
    repo = repos.create_repo(off, owner, RepoType.MODEL, RepoId.of("alice", "old"))
    _commit(off, owner, repo, {"old.pkl": EVIL, "config.json": b"{}"}, spool)
    assert _states(off, repo) == {}  # off: nothing reported
    with off.db() as session:
        assert session.scalar(select(func.count()).select_from(FileScan)) == 0

    on = dataclasses.replace(off, settings=dataclasses.replace(off.settings, scan_enabled=True))
    assert _states(on, repo)["old.pkl"] == "queued"
    wait_until(lambda: _states(on, repo)["old.pkl"] != "queued", "the scan", timeout=20)
    assert _states(on, repo) == {"old.pkl": "unsafe", "config.json": "safe", ".gitattributes": "safe"}


def test_pending_scans_resume_at_start_and_content_is_one_record(tmp_path: Path, spool: Path) -> None:
    hub = _hub(tmp_path / "data")
    owner = _owner(hub)
    first = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "one"))
    second = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "two"))
    _commit(hub, owner, first, {"a.pkl": EVIL}, spool)
    _commit(hub, owner, second, {"copy/b.pickle": EVIL}, spool)  # same bytes, another name and repository
    git = hub.git(first.id)
    key = pipeline.target_of(first.id, git.entry(git.resolve("main"), "a.pkl")).key
    assert key == f"sha256:{hashlib.sha256(EVIL).hexdigest()}"  # routed to LFS by .gitattributes
    wait_until(lambda: results.find_records(hub, [key])[key].state == results.DONE, "the scan", timeout=20)
    with hub.db() as session:
        assert session.scalar(select(func.count()).select_from(FileScan)) == 1
        row = session.get(FileScan, key)
        assert row is not None
        row.state, row.level, row.imports = results.PENDING, "", "[]"  # as a restart mid-scan leaves it
    assert results.find_records(hub, [key])[key].verdict is None
    restarted = dataclasses.replace(hub, scans=type(hub.scans)("upload-scans"))
    pipeline.resume(restarted)
    wait_until(lambda: results.find_records(hub, [key])[key].state == results.DONE, "the resumed scan", timeout=20)
    assert _states(hub, first) == {"a.pkl": "unsafe", ".gitattributes": "safe"}
    assert _states(hub, second)["copy/b.pickle"] == "unsafe"
