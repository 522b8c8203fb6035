"""The dataset viewer's conversion jobs, in process: queued by a commit, run as batch work on the local
runner (a real child process with DuckDB), published on refs/convert/parquet as LFS files, recorded in
the catalog; a broken file's readable error; a newer push while a job runs; a job that outlives its hub."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from csghub.config import load_settings
from csghub.core.errors import NotFound, RateLimited, Unauthenticated
from csghub.core.names import RepoId, RepoType
from csghub.db.models import DatasetConversion, User
from csghub.git.lfs import parse_pointer
from csghub.services.context import Hub
from csghub.services.datasets import conversions
from csghub.services.datasets.catalog import PARQUET_REF, get_catalog, load_catalog
from csghub.services.datasets.rows import Filter
from csghub.services.datasets.viewer import RowsQuery, ViewerNotReady, read_rows, run_sql
from csghub.services.identity.accounts import actor_for_user, create_user
from csghub.services.permissions import ANONYMOUS, Actor
from csghub.services.repositories.commits import InlineFile, create_commit
from csghub.services.repositories.repos import RepoView, create_repo
from csghub.services.repositories.writes import VIA_API
from csghub.wiring import build_hub


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


def _commit(hub: Hub, actor: Actor, repo: RepoView, files: dict[str, bytes], tmp: Path) -> str:
    ops = []
    for path, data in files.items():
        spooled = tmp / f"f{len(list(tmp.iterdir()))}"
        spooled.write_bytes(data)
        ops.append(InlineFile(path, spooled, len(data), hashlib.sha256(data).hexdigest()))
    return create_commit(hub, actor, repo, "main", ops, summary="data", via=VIA_API).sha


def _dataset(hub: Hub, actor: Actor, name: str = "people", visibility: str = "public") -> RepoView:
    return create_repo(hub, actor, RepoType.DATASET, RepoId.of("alice", name), visibility=visibility)


def _state(hub: Hub, repo_id: int) -> str:
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        return row.state if row else "absent"


TRAIN = b"name,age\n" + b"".join(f"person {i},{i % 90}\n".encode() for i in range(250))
TEST = b"name,age\nzed,41\nyan,17\n"


def test_a_commit_queues_a_conversion_that_publishes_parquet_and_a_catalog(
    hub: Hub, owner: Actor, tmp_path: Path
) -> None:
    repo = _dataset(hub, owner)
    sha = _commit(hub, owner, repo, {"train.csv": TRAIN, "test.csv": TEST}, tmp_path)
    assert _state(hub, repo.id) == "queued"
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.state == "ready" and catalog.source_sha == sha and catalog.error == ""
    splits = [(s.config, s.split, s.num_rows) for s in catalog.splits]
    assert splits == [("default", "train", 250), ("default", "test", 2)]
    train = catalog.get_split("default", "train")
    assert [s.path for s in train.shards] == ["default/train/0000.parquet"]
    assert [f["name"] for f in train.features] == ["name", "age"]
    assert train.statistics is not None and train.statistics["num_examples"] == 250
    # The ref holds LFS pointers to the shards, stored in the blob store under their sha256.
    git = hub.git(repo.id)
    assert git.ref_target(PARQUET_REF) == catalog.parquet_sha
    entries = {e.path: e for e in git.list_tree(catalog.parquet_sha, recursive=True) if e.kind == "file"}
    assert set(entries) == {".gitattributes", "default/train/0000.parquet", "default/test/0000.parquet"}
    pointer = parse_pointer(git.read_small_blob(entries["default/train/0000.parquet"].oid))
    assert pointer is not None and pointer.oid == train.shards[0].oid
    stored = b"".join(hub.blobs.read(pointer.oid))
    assert hashlib.sha256(stored).hexdigest() == pointer.oid
    # The default branch is untouched, and the rows read back through the viewer.
    assert git.ref_target("refs/heads/main") == sha
    page = read_rows(hub, owner, repo, RowsQuery("default", "train", offset=240, length=20))
    assert page.num_rows_total == 250
    assert [r["row"]["name"] for r in page.rows] == [f"person {i}" for i in range(240, 250)]
    found = read_rows(hub, owner, repo, RowsQuery("default", "test", filters=(Filter("age", "gt", 20),)))
    assert [r["row"]["name"] for r in found.rows] == ["zed"]
    result = run_sql(hub, owner, repo, "SELECT count(*) AS n FROM train WHERE age < 10")
    assert result.rows == [{"n": sum(1 for i in range(250) if i % 90 < 10)}]
    with hub.db() as session:
        assert session.get(DatasetConversion, repo.id).num_rows == 252  # type: ignore[union-attr]


def test_a_second_push_converts_again_on_top_of_the_previous_parquet_commit(
    hub: Hub, owner: Actor, tmp_path: Path
) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {"train.csv": TRAIN}, tmp_path)
    conversions.run_pending(hub)
    first = load_catalog(hub, repo.id).parquet_sha
    second = _commit(hub, owner, repo, {"train.csv": TEST}, tmp_path)
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.source_sha == second and catalog.num_rows == 2
    assert hub.git(repo.id).repo[catalog.parquet_sha].parents[0].id.__str__() == first


def test_a_broken_file_fails_with_an_error_naming_it_and_the_previous_rows_stay(
    hub: Hub, owner: Actor, tmp_path: Path
) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {"data/train.jsonl": b'{"a": 1}\n{"a": 2}\n'}, tmp_path)
    conversions.run_pending(hub)
    _commit(hub, owner, repo, {"data/train.jsonl": b'{"a": 1}\n{"a": 2\n{"a": 3}\n'}, tmp_path)
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.state == "failed"
    assert "data/train.jsonl" in catalog.error
    # What the last good commit converted stays readable meanwhile.
    assert catalog.num_rows == 2
    assert read_rows(hub, owner, repo, RowsQuery("default", "train")).num_rows_total == 2


def test_a_dataset_without_data_files_is_empty_with_a_reason(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {"notes.txt": b"nothing tabular here\n"}, tmp_path)
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.state == "empty" and "no data files" in catalog.error
    with pytest.raises(ViewerNotReady, match="no data files"):
        read_rows(hub, owner, repo, RowsQuery("default", "train"))


def test_a_private_dataset_is_not_found_for_others(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner, "secret", visibility="private")
    _commit(hub, owner, repo, {"train.csv": TEST}, tmp_path)
    conversions.run_pending(hub)
    assert get_catalog(hub, owner, repo).state == "ready"
    bob = create_user(hub, "bob", email="bob@example.com", password="another horse battery")
    with hub.db() as session:
        user = session.get(User, bob.id)
        assert user is not None
        other = actor_for_user(session, user)
    # As for any private repository: anonymous callers are asked to sign in (401), others are told it is not there.
    for actor in (ANONYMOUS, other):
        with pytest.raises((NotFound, Unauthenticated), match="Repository not found"):
            get_catalog(hub, actor, repo)
        with pytest.raises((NotFound, Unauthenticated), match="Repository not found"):
            run_sql(hub, actor, repo, "SELECT 1")
        with pytest.raises((NotFound, Unauthenticated), match="Repository not found"):
            read_rows(hub, actor, repo, RowsQuery("default", "train"))


def test_a_push_while_converting_queues_the_newer_commit(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {"train.csv": TRAIN}, tmp_path)
    conversions.tick(hub)  # started, not finished
    assert _state(hub, repo.id) == "running"
    newer = _commit(hub, owner, repo, {"train.csv": TEST}, tmp_path)
    assert _state(hub, repo.id) == "running"
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.state == "ready" and catalog.source_sha == newer and catalog.num_rows == 2


def test_a_job_outlives_a_restart_of_the_hub(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner)
    sha = _commit(hub, owner, repo, {"train.csv": TRAIN}, tmp_path)
    conversions.tick(hub)
    with hub.db() as session:
        job = json.loads(session.get(DatasetConversion, repo.id).handle)  # type: ignore[union-attr]
    # A new hub on the same data: a new runner that never started the process finds it again.
    hub.compute.close()
    again = build_hub(hub.settings)
    conversions.run_pending(again)
    catalog = load_catalog(again, repo.id)
    assert catalog.state == "ready" and catalog.source_sha == sha
    assert not Path(job["work"]).exists()  # the work folder went once published


def test_a_lost_job_runs_again(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {"train.csv": TEST}, tmp_path)
    conversions.tick(hub)
    with hub.db() as session:
        row = session.get(DatasetConversion, repo.id)
        assert row is not None
        job = json.loads(row.handle)
        job["handle"]["ref"] = "999999:1.0"  # a pid the runner never started: lost
        row.handle = json.dumps(job)
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.state == "ready" and catalog.num_rows == 2
    with hub.db() as session:
        assert session.get(DatasetConversion, repo.id).attempts == 2  # type: ignore[union-attr]


def test_shards_hold_the_rows_in_order(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {"train.csv": TRAIN}, tmp_path)
    conversions.run_pending(hub)
    shard = load_catalog(hub, repo.id).get_split("default", "train").shards[0]
    local = hub.blobs.local_path(shard.oid)
    assert local is not None
    assert pq.read_table(local).column("name").to_pylist()[:3] == ["person 0", "person 1", "person 2"]


def test_data_files_stored_in_lfs_are_converted_from_the_blob_store(hub: Hub, owner: Actor, tmp_path: Path) -> None:
    repo = _dataset(hub, owner)
    _commit(hub, owner, repo, {".gitattributes": b"*.csv filter=lfs diff=lfs merge=lfs -text\n"}, tmp_path)
    sha = _commit(hub, owner, repo, {"train.csv": TRAIN}, tmp_path)
    entry = next(e for e in hub.git(repo.id).list_tree(sha, recursive=True) if e.path == "train.csv")
    assert entry.lfs is not None  # an LFS pointer in git, the bytes in the blob store
    conversions.run_pending(hub)
    catalog = load_catalog(hub, repo.id)
    assert catalog.state == "ready" and catalog.num_rows == 250
    assert catalog.get_split("default", "train").num_bytes_original == len(TRAIN)
    assert not any((hub.settings.datasets_dir / "work").iterdir())


def test_duckdb_queries_beyond_the_slots_wait_then_are_told_to_retry(tmp_path: Path) -> None:
    settings = load_settings(
        {}, None, {"data_dir": tmp_path / "data", "dataset_query_slots": 1, "dataset_query_timeout": 1}
    )
    hub = build_hub(settings)
    view = create_user(hub, "carol", email="carol@example.com", password="correct horse battery")
    with hub.db() as session:
        user = session.get(User, view.id)
        assert user is not None
        carol = actor_for_user(session, user)
    repo = create_repo(hub, carol, RepoType.DATASET, RepoId.of("carol", "d"))
    _commit(hub, carol, repo, {"train.csv": TEST}, tmp_path)
    conversions.run_pending(hub)
    with hub.dataset_queries.hold(1, 1.0, "a test"):  # the one slot is taken
        with pytest.raises(RateLimited, match="busy"):
            run_sql(hub, carol, repo, "SELECT 1")
        with pytest.raises(RateLimited, match="busy"):
            read_rows(hub, carol, repo, RowsQuery("default", "train", search="zed"))
        # Plain paging runs no DuckDB query and needs no slot.
        assert read_rows(hub, carol, repo, RowsQuery("default", "train")).num_rows_total == 2
    assert run_sql(hub, carol, repo, "SELECT count(*) AS n FROM train").rows == [{"n": 2}]
