"""`csghub doctor` against a live hub's data: clean after real pushes (git, git-lfs, hf_xet), then each kind
of damage named precisely (an LFS object's flipped byte, a Xet xorb's flipped byte, a ref at a missing
object, a database head behind git, orphaned temp files), --json with one entry per problem, --repair
fixing what is safe and saying what it cannot, and exit status 2 when the hub's data cannot be checked."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from csghub.db.models import LfsObject, Repo, RepoLfsObject, XetXorb
from tests.support.clients import client_env, create_repo, git, setup_git_home
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MISSING_SHA = "0123456789abcdef0123456789abcdef01234567"
HOUR = 3600


def _doctor(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "csghub", "doctor", "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _report(data_dir: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = _doctor(data_dir, env, "--json", *args)
    return done.returncode, json.loads(done.stdout)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _push_lfs(live: LiveHub, tmp: Path, user: str, token: str, repo: str) -> dict[str, bytes]:
    """A git push with three LFS files on main and a second branch."""
    env = setup_git_home(tmp / "home")
    work = tmp / "work"
    git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp, env=env)
    files = {"weights.bin": os.urandom(200_000), "gone.bin": os.urandom(100_000), "lost.bin": os.urandom(50_000)}
    git("lfs", "track", "*.bin", cwd=work, env=env)
    for name, data in files.items():
        (work / name).write_bytes(data)
    git("add", ".", cwd=work, env=env)
    git("commit", "-m", "weights", cwd=work, env=env)
    git("branch", "dev", cwd=work, env=env)
    git("push", "origin", "main", "dev", cwd=work, env=env)
    return files


def _upload_xet(live: LiveHub, tmp: Path, token: str, repo: str) -> None:
    script = (
        "import sys; from huggingface_hub import HfApi; "
        "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_file("
        "path_or_fileobj=sys.argv[4], path_in_repo='xet.bin', repo_id=sys.argv[3])"
    )
    path = tmp / "xet.bin"
    path.write_bytes(os.urandom(300_000))
    env = client_env(tmp / "hf-home", {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_XET_CACHE": str(tmp / "xet-cache")})
    done = subprocess.run(
        [sys.executable, "-c", script, live.url, token, repo, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _by_kind(report: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for problem in report["problems"]:
        found.setdefault((problem["check"], problem["kind"]), []).append(problem)
    return found


def test_doctor_names_each_damage_and_repairs_what_is_safe(live_hub_factory: Any, tmp_path: Path) -> None:
    live: LiveHub = live_hub_factory()
    user, token = live.user()
    repo = f"{user}/doctored"
    create_repo(live.url, token, repo)
    files = _push_lfs(live, tmp_path, user, token, repo)
    _upload_xet(live, tmp_path, token, repo)
    data_dir, env = live.data_dir, live.env

    status, healthy = _report(data_dir, env)
    assert status == 0, healthy
    assert healthy["problems"] == [] and healthy["checked"]["repositories"] == 1
    assert healthy["checked"]["lfs objects"] == 4 and healthy["checked"]["xet xorbs"] >= 1
    assert healthy["checked"]["lfs pointers"] >= 4
    quick = _doctor(data_dir, env, "--quick")
    assert quick.returncode == 0 and "healthy" in quick.stdout, quick.stdout + quick.stderr

    hub = live.hub
    with hub.db() as session:
        row = session.scalars(select(Repo).where(Repo.name == "doctored")).one()
        repo_id, label = row.id, f"model:{row.full_name}"
        xorb_hash, xorb_blob = session.execute(select(XetXorb.hash, XetXorb.blob_oid)).one()
        orphan_oid = hashlib.sha256(b"bytes that never arrived").hexdigest()
        session.add(LfsObject(oid=orphan_oid, size=24))
        # As if the database came from a backup older than the push of lost.bin.
        lost_oid = hashlib.sha256(files["lost.bin"]).hexdigest()
        session.execute(delete(RepoLfsObject).where(RepoLfsObject.oid == lost_oid))
        session.execute(delete(LfsObject).where(LfsObject.oid == lost_oid))
    weights_oid = hashlib.sha256(files["weights.bin"]).hexdigest()
    gone_oid = hashlib.sha256(files["gone.bin"]).hexdigest()
    git_dir = hub.repo_path(repo_id)

    # The damage: bytes flipped in an LFS object and in a xorb, an object deleted, a ref at a missing
    # object, main moved behind the database's back, and temp files no process owns.
    _flip_byte(hub.blobs.local_path(weights_oid))  # type: ignore[arg-type]
    _flip_byte(hub.blobs.local_path(xorb_blob))  # type: ignore[arg-type]
    hub.blobs.delete(gone_oid)
    (git_dir / "refs" / "heads" / "dev").write_text(MISSING_SHA + "\n")
    moved = _commit_behind_the_database(git_dir, tmp_path)
    stale_upload = data_dir / "tmp" / "uploads" / "abandoned.part"
    stale_upload.write_bytes(b"half an upload")
    _age(stale_upload, 2 * HOUR)
    live_upload = data_dir / "tmp" / "uploads" / "in-flight.part"
    live_upload.write_bytes(b"being written")
    stale_pack = git_dir / "objects" / "pack" / "tmp_pack_dead"
    stale_pack.write_bytes(b"PACK")
    _age(stale_pack, 2 * HOUR)

    status, damaged = _report(data_dir, env)
    assert status == 1, damaged
    found = _by_kind(damaged)
    assert [p["subject"] for p in found[("lfs", "corrupt")]] == [weights_oid]
    assert label in found[("lfs", "corrupt")][0]["message"]
    assert sorted(p["subject"] for p in found[("lfs", "missing")]) == sorted([gone_oid, orphan_oid])
    assert [p["subject"] for p in found[("xet", "corrupt")]] == [xorb_hash]
    assert [p["subject"] for p in found[("refs", "broken-ref")]] == [f"{label} refs/heads/dev"]
    assert MISSING_SHA in found[("refs", "broken-ref")][0]["message"]
    assert [p["subject"] for p in found[("refs", "stale-head")]] == [f"{label} refs/heads/main"]
    assert moved in found[("refs", "stale-head")][0]["message"]
    assert sorted(p["subject"] for p in found[("temp", "stale-temp")]) == sorted([str(stale_upload), str(stale_pack)])
    [lost] = found[("lfs", "unrecorded")]
    assert lost["subject"] == lost_oid and "lost.bin" in lost["message"] and lost["repo"] == label
    assert len(damaged["problems"]) == 9  # one entry per problem, nothing else
    assert stale_upload.exists() and _recorded_head(live, repo_id) != moved  # read-only without --repair

    repair = _doctor(data_dir, env, "--repair")  # the readable report, this time
    assert repair.returncode == 1, repair.stdout + repair.stderr
    for name in (weights_oid, gone_oid, orphan_oid, xorb_hash, "refs/heads/dev", str(stale_upload), str(stale_pack)):
        assert name in repair.stdout, (name, repair.stdout)
    assert "5 problems, 4 repaired" in repair.stdout
    assert "not repaired: refs are never rewritten" in repair.stdout and "repaired: removed" in repair.stdout
    assert not stale_upload.exists() and not stale_pack.exists() and live_upload.exists()
    assert _recorded_head(live, repo_id) == moved
    assert hub.blobs.local_path(weights_oid) is not None  # corrupt bytes are kept for a human to look at

    status, after = _report(data_dir, env)
    assert status == 1
    left = _by_kind(after)
    assert sorted(left) == [
        ("lfs", "corrupt"),
        ("lfs", "missing"),
        ("lfs", "unrecorded"),
        ("refs", "broken-ref"),
        ("xet", "corrupt"),
    ]
    assert [p["subject"] for p in left[("lfs", "missing")]] == [gone_oid]  # referenced: its row stays


def _commit_behind_the_database(git_dir: Path, tmp: Path) -> str:
    env = client_env(tmp / "bare-home")
    tree = git(f"--git-dir={git_dir}", "rev-parse", "refs/heads/main^{tree}", cwd=tmp, env=env).stdout.strip()
    parent = git(f"--git-dir={git_dir}", "rev-parse", "refs/heads/main", cwd=tmp, env=env).stdout.strip()
    new = git(f"--git-dir={git_dir}", "commit-tree", tree, "-p", parent, "-m", "moved", cwd=tmp, env=env)
    sha = new.stdout.strip()
    git(f"--git-dir={git_dir}", "update-ref", "refs/heads/main", sha, parent, cwd=tmp, env=env)
    return sha


def _recorded_head(live: LiveHub, repo_id: int) -> str:
    with live.hub.db() as session:
        row = session.get(Repo, repo_id)
        assert row is not None
        return row.head_sha


def test_doctor_exits_2_when_it_cannot_check(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSGHUB_")}
    nothing = _doctor(tmp_path / "nowhere", env, "--json")
    assert nothing.returncode == 2
    assert json.loads(nothing.stdout)["unchecked"][0]["reason"].startswith("no hub data in")

    data_dir = tmp_path / "data"
    for folder in ("repos", "blobs", "tmp"):
        (data_dir / folder).mkdir(parents=True)
    (data_dir / "secret_key").write_text("k" * 64)
    (data_dir / "secret_key").chmod(0o600)
    unreachable = {**env, "CSGHUB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    status, report = _report(data_dir, unreachable)
    assert status == 2 and report["status"] == "unchecked"
    assert [u["check"] for u in report["unchecked"]] == ["database"]
    text = _doctor(data_dir, unreachable)
    assert text.returncode == 2 and "could not check" in text.stdout
