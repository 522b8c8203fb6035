"""The doctor's checks on a real hub in this process (SQLite, the local blob store): what --repair may
drop (rows of objects whose bytes are gone, only when nothing live uses them) and what it never touches,
--quick against the full re-hash, objects in S3, and the settings it checks."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from csghub.config import load_settings
from csghub.core.names import RepoId, RepoType
from csghub.db.models import LfsObject, User, XetFile, XetXorb
from csghub.services.context import Hub
from csghub.services.doctor.findings import Report
from csghub.services.doctor.options import DoctorOptions
from csghub.services.doctor.run import run_doctor
from csghub.services.identity.accounts import actor_for_user, create_user
from csghub.services.repositories.repos import create_repo
from csghub.services.xet import store as xet_store
from csghub.storage.s3 import S3BlobStore
from csghub.wiring import build_hub, open_hub
from csghub.xet.shards import serialize_shard
from tests.integration.test_xet_store import DATA, _two_xorb_upload
from tests.support.s3 import MotoServer

REPAIR = DoctorOptions(repair=True)


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    """A hub made as `serve` makes it, then opened as `csghub doctor` opens it (settings as configured)."""
    settings = load_settings({}, None, {"data_dir": tmp_path / "data"})
    build_hub(settings)
    return open_hub(settings)


def _kinds(report: Report) -> list[tuple[str, str, str]]:
    return sorted((p.check, p.kind, p.subject) for p in report.open_problems)


def _upload_file(hub: Hub) -> tuple[list[str], str]:
    """Two xorbs and the file a shard registers over them; (xorb names, file name)."""
    xorbs, shard = _two_xorb_upload()
    for name, data in xorbs:
        xet_store.store_xorb(hub, name, data)
    [registered] = xet_store.register_shard(hub, serialize_shard(shard))
    return [name for name, _ in xorbs], registered.hash


def _blob_of(hub: Hub, xorb: str) -> str:
    with hub.db() as session:
        row = session.get(XetXorb, xorb)
        assert row is not None
        return row.blob_oid


def test_doctor_is_clean_on_a_fresh_hub_with_xet_data(hub: Hub) -> None:
    _upload_file(hub)
    report = run_doctor(hub, DoctorOptions())
    assert report.exit_status == 0, report.as_dict()
    assert report.checked["xet xorbs"] == 2 and report.checked["xet files"] == 1


def test_repair_drops_rows_of_vanished_xet_data_that_nothing_uses(hub: Hub) -> None:
    xorbs, file = _upload_file(hub)
    hub.blobs.delete(_blob_of(hub, xorbs[0]))

    report = run_doctor(hub, DoctorOptions())
    assert _kinds(report) == [("xet", "missing", xorbs[0])] and report.exit_status == 1

    # The xorb's row goes, and so does the file over it: it can never be rebuilt and nothing uses it.
    repaired = run_doctor(hub, REPAIR)
    assert [(p.kind, p.subject, bool(p.repaired)) for p in repaired.problems] == [
        ("missing", xorbs[0], True),
        ("missing", file, True),
    ]
    with hub.db() as session:
        assert session.get(XetXorb, xorbs[0]) is None and session.get(XetXorb, xorbs[1]) is not None
        assert session.get(XetFile, file) is None
    assert run_doctor(hub, DoctorOptions()).exit_status == 0


def test_repair_keeps_rows_of_xet_data_an_lfs_object_uses(hub: Hub) -> None:
    xorbs, file = _upload_file(hub)
    oid = hashlib.sha256(DATA).hexdigest()
    with hub.db() as session:
        session.add(LfsObject(oid=oid, size=len(DATA), xet_hash=file))
    hub.blobs.delete(_blob_of(hub, xorbs[1]))

    repaired = run_doctor(hub, REPAIR)
    [problem] = repaired.problems
    assert (problem.kind, problem.subject, problem.repaired) == ("missing", xorbs[1], "")
    assert "never deleted" in problem.unfixable
    with hub.db() as session:
        assert session.get(XetXorb, xorbs[1]) is not None and session.get(XetFile, file) is not None


def test_quick_checks_sizes_and_the_full_run_rehashes(hub: Hub) -> None:
    flipped, truncated = os.urandom(5000), os.urandom(6000)
    for data in (flipped, truncated):
        oid = hashlib.sha256(data).hexdigest()
        hub.blobs.put(oid, len(data), [data])
        with hub.db() as session:
            session.add(LfsObject(oid=oid, size=len(data)))
    flipped_oid, truncated_oid = (hashlib.sha256(d).hexdigest() for d in (flipped, truncated))
    damaged = {flipped_oid: flipped[:10] + bytes([flipped[10] ^ 1]) + flipped[11:], truncated_oid: truncated[:-1]}
    for oid, data in damaged.items():
        path = hub.blobs.local_path(oid)
        assert path is not None
        path.chmod(0o644)
        path.write_bytes(data)

    assert _kinds(run_doctor(hub, DoctorOptions(quick=True))) == [("lfs", "missing", truncated_oid)]
    full = run_doctor(hub, DoctorOptions())
    assert _kinds(full) == sorted([("lfs", "corrupt", flipped_oid), ("lfs", "missing", truncated_oid)])
    # Unlinked, but its bytes are there: repair deletes no bytes and keeps the row of bytes it keeps.
    after = run_doctor(hub, REPAIR)
    assert [p.subject for p in after.problems if p.repaired] == []
    assert hub.blobs.local_path(flipped_oid) is not None


def test_settings_secret_key_mode_is_narrowed_and_stray_directories_are_kept(hub: Hub) -> None:
    key = hub.settings.data_dir / "secret_key"
    key.chmod(0o644)
    stray = hub.settings.repos_dir / "999" / "abc.git"
    stray.mkdir(parents=True)

    report = run_doctor(hub, DoctorOptions())
    assert _kinds(report) == [
        ("repositories", "orphaned-directory", str(stray)),
        ("settings", "secret-key", str(key)),
    ]
    repaired = run_doctor(hub, REPAIR)
    assert [p.kind for p in repaired.problems if p.repaired] == ["secret-key"]
    assert key.stat().st_mode & 0o777 == 0o600 and stray.is_dir()
    assert _kinds(run_doctor(hub, DoctorOptions())) == [("repositories", "orphaned-directory", str(stray))]


def test_doctor_checks_objects_in_s3_and_names_an_unreachable_store(tmp_path: Path) -> None:
    server = MotoServer().start()
    try:
        overrides = {
            "data_dir": tmp_path / "data",
            "storage": "s3",
            "s3_bucket": "doctor",
            "s3_endpoint": server.endpoint,
            "s3_region": "us-east-1",
            "s3_access_key": "test",
            "s3_secret_key": "test",
        }
        settings = load_settings({}, None, overrides)
        build_hub(settings)
        hub = open_hub(settings)
        kept, swapped = os.urandom(3000), os.urandom(4000)
        for data in (kept, swapped):
            hub.blobs.put(hashlib.sha256(data).hexdigest(), len(data), [data])
            with hub.db() as session:
                session.add(LfsObject(oid=hashlib.sha256(data).hexdigest(), size=len(data)))
        assert run_doctor(hub, DoctorOptions()).exit_status == 0
        swapped_oid = hashlib.sha256(swapped).hexdigest()
        store = hub.blobs
        assert isinstance(store, S3BlobStore)
        store.client.put_object(Bucket="doctor", Key=store._key(swapped_oid), Body=os.urandom(4000))
        kept_oid = hashlib.sha256(kept).hexdigest()
        store.delete(kept_oid)
        assert _kinds(run_doctor(hub, DoctorOptions())) == sorted(
            [("lfs", "corrupt", swapped_oid), ("lfs", "missing", kept_oid)]
        )
    finally:
        server.stop()
    gone = run_doctor(open_hub(settings), DoctorOptions(quick=True))
    assert ("settings", "storage", "s3") in _kinds(gone) and gone.exit_status == 1


def test_fsck_errors_and_a_missing_repository_directory_are_named(hub: Hub) -> None:
    view = create_user(hub, "alice", email="alice@example.com", password="")
    with hub.db() as session:
        user = session.get(User, view.id)
        assert user is not None
        alice = actor_for_user(session, user)
    damaged = create_repo(hub, alice, RepoType.MODEL, RepoId.of("alice", "damaged"))
    gone = create_repo(hub, alice, RepoType.DATASET, RepoId.of("alice", "gone"))
    shutil.rmtree(hub.repo_path(gone.id))
    objects = hub.repo_path(damaged.id) / "objects"
    stored = [p for p in objects.rglob("*") if p.is_file() and (p.parent.name != "pack" or p.suffix == ".pack")]
    for path in stored:  # every object made unreadable: git names each
        path.chmod(0o644)
        path.write_bytes(b"not a git object")

    report = run_doctor(hub, DoctorOptions())
    problems = {(p.check, p.kind): p for p in report.open_problems}
    assert problems[("repositories", "missing-directory")].subject == "dataset:alice/gone"
    fsck = [p for p in report.open_problems if p.check == "fsck"]
    assert fsck and all(p.repo == "model:alice/damaged" for p in fsck)
    corrupt = {path.parent.name + path.name for path in stored if path.parent.name != "pack"}
    assert corrupt and corrupt <= {p.subject.split()[-1] for p in fsck}  # each corrupt object by its id
    assert report.exit_status == 1
