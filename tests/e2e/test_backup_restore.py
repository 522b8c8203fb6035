"""`csghub backup` of a hub under write load, and `csghub restore` onto a fresh data folder, onto PostgreSQL
with S3 storage: every repository, object and row comes back as the backup's manifest says it was."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from csghub.db import dumps
from csghub.db.engine import make_engine
from csghub.services.backup.manifest import Manifest, read_manifest
from csghub.storage.base import blob_key
from tests.support.clients import git, setup_git_home
from tests.support.files import sha256_of
from tests.support.live import LiveHub, server_env
from tests.support.postgres import postgres_database
from tests.support.s3 import MotoServer

# Not marked transport_bound: the PostgreSQL leg runs this module too, and backs up a hub on PostgreSQL.
# Columns the restore's start-up reconciliation refreshes from the refs: a commit that landed between the
# refs' snapshot and the database's leaves the row ahead of the refs in the archive.
RECONCILED = {
    "repos": {"head_sha", "updated_at", "card_data", "tags"},
    # A runtime environment is built per machine: the restored hub finds what this machine has built.
    "runtime_frameworks": {"state", "reason", "build_handle", "updated_at"},
}


def _csghub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "csghub", *args], env=env, capture_output=True, text=True, timeout=120)


@dataclass
class Source:
    live: LiveHub
    token: str
    model: str
    dataset: str
    archive: Path
    weights: bytes
    writes_during_backup: int
    tmp: Path


def _writer(live: LiveHub, token: str, repo: str, stop: threading.Event, done: list[float], tmp: Path) -> None:
    """Commits binary files (stored through Xet by huggingface_hub) until told to stop."""
    os.environ["HF_XET_CACHE"] = str(tmp / "xet-writer")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    hf = HfApi(endpoint=live.url, token=token)
    i = 0
    while not stop.is_set():
        hf.upload_file(path_or_fileobj=os.urandom(3000), path_in_repo=f"load/{i}.bin", repo_id=repo)
        done.append(time.monotonic())
        i += 1


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    from tests.conftest import start_hub

    tmp = tmp_path_factory.mktemp("backup")
    live = start_hub(tmp / "data")
    user, token = live.user()
    model, dataset = f"{user}/weights", f"{user}/private-data"
    hf = HfApi(endpoint=live.url, token=token)
    hf.create_repo(model)
    hf.create_repo(dataset, repo_type="dataset", private=True)
    hf.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=dataset, repo_type="dataset")
    # One LFS object pushed with git and git-lfs.
    env = setup_git_home(tmp / "home")
    work = tmp / "clone"
    url = live.url.replace("http://", f"http://{user}:{token}@") + f"/{model}"
    git("clone", "-q", url, str(work), cwd=tmp, env=env)
    weights = os.urandom(300_000)
    (work / "model.bin").write_bytes(weights)
    git("lfs", "track", "*.bin", cwd=work, env=env)
    git("add", ".", cwd=work, env=env)
    git("commit", "-qm", "weights", cwd=work, env=env)
    git("push", "-q", "origin", "main", cwd=work, env=env)

    stop, done = threading.Event(), []
    thread = threading.Thread(target=_writer, args=(live, token, model, stop, done, tmp), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not done and time.monotonic() < deadline:  # the load is on before the backup starts
            time.sleep(0.01)
        archive = tmp / "archive"
        started = time.monotonic()
        backup = _csghub("backup", str(archive), "--data-dir", str(live.data_dir), env=live.env)
        ended = time.monotonic()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert backup.returncode == 0, backup.stderr
    during = sum(1 for t in done if started < t < ended)
    yield Source(live, token, model, dataset, archive, weights, during, tmp)
    live.stop()


def _table_rows(url: str) -> dict[str, list[dict]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = {}
            for table in dumps._reflect(conn):
                out = io.StringIO()
                dumps.dump_table(conn, table, out)
                found[table.name] = [json.loads(line) for line in out.getvalue().splitlines()]
            return found
    finally:
        engine.dispose()


def _archived_rows(archive: Path) -> dict[str, list[dict]]:
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted((archive / "database").glob("*.jsonl"))
    }


def _without(rows: dict[str, list[dict]], skip: dict[str, set[str]]) -> dict[str, list[dict]]:
    # A hub without an administrator issues a new one-time setup link at every start.
    rows["site_settings"] = [r for r in rows["site_settings"] if r["key"] != "setup_token_sha256"]
    return {t: [{k: v for k, v in r.items() if k not in skip.get(t, set())} for r in rs] for t, rs in rows.items()}


def _refs(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["git", f"--git-dir={path}", "for-each-ref", "--format=%(objectname) %(refname)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name: sha for sha, name in (line.split(" ", 1) for line in out.splitlines())}


def _check_restored(source: Source, restored: LiveHub, database_url: str) -> None:
    """Every repository, object and row of the manifest, on the restored hub."""
    manifest = read_manifest(source.archive)
    hub = restored.hub
    for repo_id, info in manifest.repos.items():
        path = hub.repo_path(int(repo_id))
        assert _refs(path) == info["refs"], repo_id
        fsck = subprocess.run(["git", f"--git-dir={path}", "fsck", "--strict"], capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stderr
    blobs = [f for f in manifest.files if f.path.startswith("blobs/")]
    assert blobs and not manifest.absent_blobs
    for entry in blobs:
        oid = entry.path.rsplit("/", 1)[1]
        assert b"".join(hub.blobs.read(oid)) and hub.blobs.stat(oid) == entry.size
    sample = blobs[0].path.rsplit("/", 1)[1]
    assert hashlib.sha256(b"".join(hub.blobs.read(sample))).hexdigest() == sample
    archived_rows, now_rows = _archived_rows(source.archive), _table_rows(database_url)
    # A scan still pending when the backup was taken is finished by the restored hub (it resumes pending
    # scans at start); a finished one comes back exactly as it was.
    pending = {r["key"] for r in archived_rows["file_scans"] if r["state"] == "pending"}
    for rows in (archived_rows, now_rows):
        rows["file_scans"] = [r for r in rows["file_scans"] if r["key"] not in pending]
    archived = _without(archived_rows, RECONCILED)
    now = _without(now_rows, RECONCILED)
    assert {t: len(r) for t, r in archived.items()} == {t: len(now[t]) for t in archived}
    differ = {table: (rows, now[table]) for table, rows in archived.items() if now[table] != rows}
    assert not differ, differ
    # Clients see the same content: the pushed LFS file, a file stored through Xet, and privacy kept.
    hf = HfApi(endpoint=restored.url, token=source.token)
    got = hf.hf_hub_download(source.model, "model.bin", cache_dir=source.tmp / f"dl-{secrets.token_hex(3)}")
    assert Path(got).read_bytes() == source.weights
    got = hf.hf_hub_download(source.model, "load/0.bin", cache_dir=source.tmp / f"dl-{secrets.token_hex(3)}")
    assert len(Path(got).read_bytes()) == 3000
    anonymous = httpx.get(f"{restored.url}/api/datasets/{source.dataset}", timeout=30)
    assert anonymous.status_code in (401, 404) and anonymous.headers["x-error-code"] == "RepoNotFound"
    assert hf.dataset_info(source.dataset).id == source.dataset


def _blob_files(manifest: Manifest) -> set[tuple[str, int, str]]:
    return {(f.path, f.size, f.sha256) for f in manifest.files if f.path.startswith("blobs/")}


def test_backup_under_write_load_is_sound(source: Source) -> None:
    assert source.writes_during_backup >= 1, "no commit landed while the backup ran"
    check = _csghub("backup", "--verify", str(source.archive), env=server_env())
    assert check.returncode == 0 and "is sound" in check.stderr, check.stderr
    manifest = read_manifest(source.archive)
    assert manifest.schema_revision and manifest.tables["repos"] == 2
    assert (source.archive / "settings" / "secret_key").read_text() == source.live.hub.settings.secret_key
    # Every ref of the archive reaches only objects inside it.
    for repo_id in manifest.repos:
        git_dir = source.archive / "repos" / f"{repo_id}.git"
        fsck = subprocess.run(["git", f"--git-dir={git_dir}", "fsck", "--connectivity-only"], capture_output=True)
        assert fsck.returncode == 0, fsck.stderr
    assert not list(source.archive.parent.glob(".archive.partial-*"))


def test_restore_onto_fresh_data_dir(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "restored"
    env = server_env()
    done = _csghub("restore", str(source.archive), "--data-dir", str(target), env=env)
    assert done.returncode == 0, done.stderr
    restored = LiveHub(target, env).start()
    try:
        _check_restored(source, restored, f"sqlite:///{target / 'csghub.db'}")
    finally:
        restored.stop()


def test_restore_onto_postgres_and_s3(source: Source, tmp_path: Path) -> None:
    moto = MotoServer().start()
    try:
        with postgres_database() as database_url:
            env = server_env(
                {
                    "CSGHUB_DATABASE_URL": database_url,
                    "CSGHUB_STORAGE": "s3",
                    "CSGHUB_S3_BUCKET": f"restored{secrets.token_hex(4)}",
                    "CSGHUB_S3_ENDPOINT": moto.endpoint,
                    "CSGHUB_S3_ACCESS_KEY": "test",
                    "CSGHUB_S3_SECRET_KEY": "test",
                }
            )
            target = tmp_path / "restored"
            done = _csghub("restore", str(source.archive), "--data-dir", str(target), env=env)
            assert done.returncode == 0, done.stderr
            assert not (target / "blobs").exists() or not any((target / "blobs").rglob("*"))
            restored = LiveHub(target, env).start()
            try:
                _check_restored(source, restored, database_url)
                # And back: the restored hub, on PostgreSQL and S3, backed up while it serves.
                again = tmp_path / "again"
                done = _csghub("backup", str(again), "--data-dir", str(target), env=env)
                assert done.returncode == 0, done.stderr
                first, second = read_manifest(source.archive), read_manifest(again)
                assert second.database_dialect == "postgresql" and second.repos == first.repos
                assert _blob_files(second) == _blob_files(first)
            finally:
                restored.stop()
                restored.hub.sessions.kw["bind"].dispose()
    finally:
        moto.stop()


def test_incremental_backup_copies_only_new_objects(source: Source, tmp_path: Path) -> None:
    first = read_manifest(source.archive)
    fresh = os.urandom(5000)
    HfApi(endpoint=source.live.url, token=source.token).upload_file(
        path_or_fileobj=fresh, path_in_repo="late.bin", repo_id=source.model
    )
    second = tmp_path / "second"
    done = _csghub(
        "backup",
        str(second),
        "--incremental-from",
        str(source.archive),
        "--data-dir",
        str(source.live.data_dir),
        env=source.live.env,
    )
    assert done.returncode == 0, done.stderr
    manifest = read_manifest(second)
    old = {f.path for f in first.files if f.path.startswith("blobs/")}
    new = {f.path for f in manifest.files if f.path.startswith("blobs/")}
    assert old < new
    for rel in old:  # the very same file, not a copy
        assert os.stat(second / rel).st_ino == os.stat(source.archive / rel).st_ino
    for rel in new - old:
        assert os.stat(second / rel).st_nlink == 1
    assert manifest.stats["linked_files"] >= len(old) and manifest.incremental_from == str(source.archive)
    assert _csghub("backup", "--verify", str(second), env=server_env()).returncode == 0


def test_corrupted_archive_is_caught_and_refused(source: Source, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(source.archive, damaged)
    victim = next(f for f in read_manifest(damaged).files if f.path.startswith("blobs/"))
    with open(damaged / victim.path, "r+b") as fh:
        byte = fh.read(1)
        fh.seek(0)
        fh.write(bytes([byte[0] ^ 0xFF]))
    check = _csghub("backup", "--verify", str(damaged), env=server_env())
    assert check.returncode == 1 and f"corrupt: {victim.path}" in check.stderr, check.stderr
    target = tmp_path / "target"
    refused = _csghub("restore", str(damaged), "--data-dir", str(target), env=server_env())
    assert refused.returncode == 1 and "damaged" in refused.stderr and victim.path in refused.stderr
    assert not target.exists()


def test_restore_refuses_a_non_empty_target(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    refused = _csghub("restore", str(source.archive), "--data-dir", str(target), env=server_env())
    assert refused.returncode == 1 and "not empty" in refused.stderr and "notes.txt" in refused.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_backup_of_a_corrupt_object_fails_and_leaves_no_archive(source: Source, tmp_path: Path) -> None:
    oid = next(f.path for f in read_manifest(source.archive).files if f.path.startswith("blobs/")).rsplit("/", 1)[1]
    stored = source.live.data_dir / "blobs" / blob_key(oid)
    original = stored.read_bytes()
    stored.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
    try:
        dest = tmp_path / "never"
        failed = _csghub("backup", str(dest), "--data-dir", str(source.live.data_dir), env=source.live.env)
    finally:
        stored.write_bytes(original)
    assert failed.returncode == 1 and oid[:12] in failed.stderr and "not the object itself" in failed.stderr
    assert list(tmp_path.iterdir()) == []
    assert sha256_of(stored) == oid
