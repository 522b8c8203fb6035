"""Mirroring between two live hubs of ours on loopback, one the upstream of the other: a model with LFS files
and a dataset copied byte for byte with the upstream's commit ids; a change upstream picked up by the
schedule; a mirror read-only at every door until it is deleted; cancel, retry and a batch."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from csghub.db.models import Mirror, utcnow
from tests.conftest import LiveHubFactory, start_hub
from tests.e2e.mirror_support import (
    DOWNSTREAM_ENV,
    PASSWORD,
    add_source,
    create_mirror,
    make_pair,
    mirror_of,
    push_files,
    refs_of,
    wait_for_task,
)
from tests.support.clients import api, git
from tests.support.upstream_proxy import UpstreamProxy
from tests.support.waiting import wait_until

# Bytes between two hubs; the mirror records' SQL runs on both legs in tests/integration/test_mirror_records.py
# and the mirror API modules. scripts/test runs it on SQLite only (pyproject.toml).
pytestmark = pytest.mark.transport_bound
MiB = 1024 * 1024


def _download_all(url: str, token: str, repo: str, repo_type: str, dest: Path) -> Path:
    api_ = HfApi(endpoint=url, token=token)
    return Path(api_.snapshot_download(repo, repo_type=repo_type, local_dir=dest))


def test_mirror_copies_model_and_dataset_byte_for_byte_and_follows_upstream_changes(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    pair = make_pair(live_hub_factory, tmp_path)
    add_source(pair, "up")
    model, dataset = f"{pair.up_user}/tiny", f"{pair.up_user}/table"
    files = {
        "model.safetensors": os.urandom(3 * MiB + 7),
        "config.json": b'{"a": 1}\n',
        "weights/b.bin": os.urandom(MiB),
    }
    push_files(pair, model, files)
    push_files(
        pair, dataset, {"data/train.csv": b"a,b\n1,2\n3,4\n", "extra.parquet": os.urandom(200_000)}, repo_type="dataset"
    )

    made = create_mirror(pair, f"{pair.admin}/tiny", {"source": "up", "upstream": model, "interval": 3600})
    assert made.status_code == 200, made.text
    assert made.json()["data"]["source_repo_path"] == model
    assert (
        create_mirror(
            pair, f"{pair.admin}/table", {"mirror_source_id": 1, "source_repo_path": dataset}, "dataset"
        ).status_code
        == 200
    )

    done = wait_for_task(pair, f"{pair.admin}/tiny")
    assert done["task"]["state"] == "finished", done["task"]["reason"]
    assert done["task"]["files_total"] == 2 and done["task"]["bytes_total"] == 4 * MiB + 7
    assert done["last_commit"] and done["next_sync_at"] is not None
    assert wait_for_task(pair, f"{pair.admin}/table", repo_type="dataset")["task"]["state"] == "finished"

    # The task's log says each phase; a stranger (signed in, no rights on the mirror) finds no such task.
    task_id = done["task"]["id"]
    with api(pair.downstream.url, pair.admin_token) as client:
        text = client.get(f"/api/v1/mirror/tasks/{task_id}/logs").json()["data"]["log"]
    assert "history fetched" in text and "downloading 2 LFS object(s), 4,194,311 bytes" in text, text
    assert "downloaded and verified" in text and "synced 1 ref(s), 2 LFS object(s)" in text, text
    _stranger, stranger_token = pair.downstream.user("stranger")
    with api(pair.downstream.url, stranger_token) as client:
        hidden = client.get(f"/api/v1/mirror/tasks/{task_id}/logs")
    assert hidden.status_code == 404 and hidden.json()["code"] == "MirrorTaskNotFound", hidden.text

    # The same commits, and every file's bytes.
    assert refs_of(pair.downstream, f"{pair.admin}/tiny", pair.genv, tmp_path) == refs_of(
        pair.upstream, model, pair.genv, tmp_path
    )
    assert refs_of(pair.downstream, f"{pair.admin}/table", pair.genv, tmp_path, "dataset") == refs_of(
        pair.upstream, dataset, pair.genv, tmp_path, "dataset"
    )
    local = _download_all(pair.downstream.url, pair.admin_token, f"{pair.admin}/tiny", "model", tmp_path / "m")
    for path, data in files.items():
        assert (local / path).read_bytes() == data, path
    table = _download_all(pair.downstream.url, pair.admin_token, f"{pair.admin}/table", "dataset", tmp_path / "d")
    assert (table / "data/train.csv").read_bytes() == b"a,b\n1,2\n3,4\n"

    # A new commit upstream with a new LFS file: the schedule's next pass (made due now) brings it.
    newer = os.urandom(MiB + 3)
    head = push_files(pair, model, {"more.bin": newer}, create=False)
    with pair.downstream.hub.db() as session:
        row = session.query(Mirror).filter(Mirror.upstream_id == model).one()
        row.next_sync_at = utcnow() - timedelta(seconds=1)
    wait_until(lambda: mirror_of(pair, f"{pair.admin}/tiny")["last_commit"] == head, "the scheduled sync", timeout=180)
    again = mirror_of(pair, f"{pair.admin}/tiny")
    assert again["task"]["trigger"] == "schedule" and again["task"]["files_total"] == 1  # only the new object
    fresh = HfApi(endpoint=pair.downstream.url).hf_hub_download(
        f"{pair.admin}/tiny", "more.bin", local_dir=tmp_path / "again"
    )
    assert Path(fresh).read_bytes() == newer

    # An object the database records but storage lost (a disk replaced, say): the next sync notices at the
    # import, fetches it on a second attempt, and only then moves the refs.
    lost = hashlib.sha256(files["weights/b.bin"]).hexdigest()
    pair.downstream.hub.blobs.delete(lost)
    with api(pair.downstream.url, pair.admin_token) as client:
        assert client.post(f"/api/v1/models/{pair.admin}/tiny/mirror/sync").status_code == 200
    healed = wait_for_task(pair, f"{pair.admin}/tiny")
    assert healed["task"]["state"] == "finished" and healed["task"]["attempts"] == 2, healed["task"]
    assert pair.downstream.hub.blobs.stat(lost) == MiB


def test_mirror_is_read_only_at_every_door_until_deleted(live_hub_factory: LiveHubFactory, tmp_path: Path) -> None:
    pair = make_pair(live_hub_factory, tmp_path)
    add_source(pair, "up")
    push_files(pair, f"{pair.up_user}/ro", {"a.bin": os.urandom(1000)})
    target = f"{pair.admin}/ro"
    assert create_mirror(pair, target, {"source": "up", "upstream": f"{pair.up_user}/ro"}).status_code == 200
    assert wait_for_task(pair, target)["task"]["state"] == "finished"
    down = pair.downstream
    words = f"read-only mirror of up:{pair.up_user}/ro"

    # git push over HTTP
    work = tmp_path / "clone"
    git(
        "clone",
        f"http://{pair.admin}:{pair.admin_token}@{down.host()}/{target}.git",
        str(work),
        cwd=tmp_path,
        env=pair.genv,
    )
    (work / "new.txt").write_text("mine\n")
    git("add", ".", cwd=work, env=pair.genv)
    git("commit", "-m", "try", cwd=work, env=pair.genv)
    pushed = git("push", "origin", "main", cwd=work, env=pair.genv, check=False)
    assert pushed.returncode != 0 and words in pushed.stderr

    hf = HfApi(endpoint=down.url, token=pair.admin_token)
    with pytest.raises(HfHubHTTPError) as refused:  # the commit API, as huggingface_hub uses it
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=target)
    assert refused.value.response.status_code == 403 and words in refused.value.response.text
    with pytest.raises(HfHubHTTPError) as refused:
        hf.create_branch(target, branch="dev")
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as refused:
        hf.create_tag(target, tag="v1")
    assert refused.value.response.status_code == 403

    with api(down.url, pair.admin_token) as client:
        oid = "a" * 64
        batch = client.post(
            f"/{target}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [{"oid": oid, "size": 1}]}
        )
        assert batch.status_code == 403 and words in batch.text
        raw = client.post(
            f"/api/v1/models/{target}/raw/y.txt", json={"content": base64.b64encode(b"y").decode(), "message": "y"}
        )
        assert raw.status_code == 403 and words in raw.text
        assert client.delete(f"/api/models/{target}/branch/main").status_code == 403
        # Its settings and syncs stay with its administrators: they are no write to its content.
        assert client.post(f"/api/v1/models/{target}/mirror/sync").status_code == 200
        assert client.put(f"/api/v1/models/{target}/mirror", json={"paused": True}).json()["data"]["paused"] is True

    # git push over SSH
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, capture_output=True)
    with api(down.url, pair.admin_token) as client:
        added = client.post("/api/v1/user/ssh_keys", json={"name": "k", "content": key.with_suffix(".pub").read_text()})
        assert added.status_code == 200, added.text
    ssh_env = {
        **pair.genv,
        "GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
    }
    ssh_url = f"ssh://git@127.0.0.1:{down.ssh_port}/{target}.git"
    pushed = git("push", ssh_url, "HEAD:refs/heads/main", cwd=work, env=ssh_env, check=False)
    assert pushed.returncode != 0 and words in pushed.stderr

    # The portal's upload and edit pages, signed in as the site administrator.
    with httpx.Client(base_url=down.url, timeout=60) as browser:
        signed = browser.post("/api/v1/auth/login", json={"username": pair.admin, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        for page in (f"/{target}/upload/main", f"/{target}/new/main", f"/{target}/edit/main/a.bin"):
            shown = browser.get(page)
            assert shown.status_code == 403 and "read-only mirror" in shown.text, page

    # Another user cannot even see the mirror's settings of a private repository, nor change a public one's.
    other, other_token = down.user("other")
    with api(down.url, other_token) as client:
        assert client.post(f"/api/v1/models/{target}/mirror/sync").status_code == 403
        assert client.delete(f"/api/v1/models/{target}/mirror").status_code == 403
        assert client.get("/api/v1/mirror/tasks").status_code == 403
        assert (
            client.post(f"/api/v1/models/{other}/mine/mirror", json={"source": "up", "upstream": "a/b"}).status_code
            == 403
        )

    # Deleting the mirror keeps the repository and makes it writable.
    wait_for_task(pair, target)
    with api(down.url, pair.admin_token) as client:
        assert client.delete(f"/api/v1/models/{target}/mirror").json()["msg"] == "OK"
        assert client.get(f"/api/v1/models/{target}/mirror").status_code == 404
    git("push", "origin", "main", cwd=work, env=pair.genv)


def test_cancel_retry_and_batch(live_hub_factory: LiveHubFactory, tmp_path: Path) -> None:
    # A slow source (64 KiB/s) keeps the first task running long enough to cancel it.
    pair = make_pair(live_hub_factory, tmp_path)
    add_source(pair, "slow", bandwidth_bytes_per_s=64 * 1024)
    add_source(pair, "up")
    push_files(pair, f"{pair.up_user}/big", {"big.bin": os.urandom(8 * MiB)})
    push_files(pair, f"{pair.up_user}/one", {"a.txt": b"one\n"})
    push_files(pair, f"{pair.up_user}/two", {"b.txt": b"two\n"})
    target = f"{pair.admin}/big"
    assert create_mirror(pair, target, {"source": "slow", "upstream": f"{pair.up_user}/big"}).status_code == 200
    with api(pair.downstream.url, pair.admin_token) as client:
        wait_until(
            lambda: (
                mirror_of(pair, target)["task"]["state"] == "lfs" and mirror_of(pair, target)["task"]["bytes_done"] > 0
            ),
            "the LFS transfer",
            timeout=120,
        )
        task_id = mirror_of(pair, target)["task"]["id"]
        cancelled = client.post(f"/api/v1/mirror/tasks/{task_id}/cancel").json()["data"]
        assert cancelled["state"] == "cancelled"
        assert client.post(f"/api/v1/mirror/tasks/{task_id}/cancel").status_code == 409
        assert refs_of(pair.downstream, target, pair.genv, tmp_path) != refs_of(
            pair.upstream, f"{pair.up_user}/big", pair.genv, tmp_path
        )
        listed = client.get("/api/v1/mirror/tasks", params={"state": "cancelled"}).json()
        assert [t["id"] for t in listed["data"]] == [task_id]

        retried = client.post(f"/api/v1/mirror/tasks/{task_id}/retry").json()["data"]
        assert retried["id"] != task_id and retried["trigger"] == "retry"
        # Its job would outlive this test's hub (jobs outlive their hub, to be re-adopted): ended here.
        assert client.post(f"/api/v1/mirror/tasks/{retried['id']}/cancel").json()["data"]["state"] == "cancelled"

        batch = client.post(
            "/api/v1/mirror/batch",
            json={"source": "up", "upstreams": [f"{pair.up_user}/one", f"{pair.up_user}/two"], "namespace": pair.admin},
        )
        assert batch.status_code == 200, batch.text
        assert [m["local_repo_path"] for m in batch.json()["data"]] == [f"{pair.admin}/one", f"{pair.admin}/two"]
        # Every repository the source lists for a namespace, into another namespace here.
        copies, _ = pair.downstream.user("copies")
        body = {"source": "up", "upstream_namespace": pair.up_user, "namespace": copies, "interval": 0}
        listed = client.post("/api/v1/mirror/batch", json=body)
        assert listed.status_code == 200, listed.text
        made = sorted(m["local_repo_path"] for m in listed.json()["data"])
        assert made == [f"{copies}/{name}" for name in ("big", "one", "two")]
        assert all(m["interval"] == 0 and m["next_sync_at"] is None for m in listed.json()["data"])
    for name in ("one", "two"):
        assert wait_for_task(pair, f"{pair.admin}/{name}")["task"]["state"] == "finished"
    files = {"one": b"one\n", "two": b"two\n"}
    for name, data in files.items():
        got = httpx.get(f"{pair.downstream.url}/{pair.admin}/{name}/resolve/main/{'a' if name == 'one' else 'b'}.txt")
        assert got.content == data


def test_upstream_errors_fail_the_task_with_a_reason_and_keep_nothing(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    pair = make_pair(live_hub_factory, tmp_path, {"CSGHUB_MIRROR_RETRY_SECONDS": "1"})
    blobs = {name: os.urandom(300_000) for name in ("bad500", "gated", "cut", "flip")}
    oids = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    for name, data in blobs.items():
        push_files(pair, f"{pair.up_user}/{name}", {"w.bin": data})
    private = f"{pair.up_user}/secret"
    push_files(pair, private, {"a.txt": b"hidden\n"})
    HfApi(endpoint=pair.upstream.url, token=pair.up_token).update_repo_settings(private, private=True)

    with UpstreamProxy(pair.upstream.url).running() as proxy:
        modes = {"bad500": "500", "gated": "403", "cut": "truncate", "flip": "corrupt"}
        proxy.modes = {oids[name]: mode for name, mode in modes.items()}
        add_source(pair, "up")
        add_source(pair, "auth", token=pair.up_token)  # signed in, a missing repository is a 404 (else a 401)
        add_source(pair, "odd", proxy.url)
        cases = {
            "gone": ("auth", f"{pair.up_user}/nothing-here", "has no such git repository"),
            # Hidden and missing read the same to a source without the token (the upstream's API says which).
            "secret": ("up", private, "that this source may read"),
            "typo": ("up", f"{pair.up_user}/no-such-repo", "that this source may read"),
            "bad500": ("odd", f"{pair.up_user}/bad500", "answered 500"),
            "gated": ("odd", f"{pair.up_user}/gated", "answered 403"),
            "cut": ("odd", f"{pair.up_user}/cut", "the transfer broke off"),
            "flip": ("odd", f"{pair.up_user}/flip", "sha256"),
        }
        before = {}
        for local, (source, upstream, _words) in cases.items():
            answer = create_mirror(pair, f"{pair.admin}/{local}", {"source": source, "upstream": upstream})
            assert answer.status_code == 200, answer.text
            before[local] = refs_of(pair.downstream, f"{pair.admin}/{local}", pair.genv, tmp_path)
        for local, (_source, _upstream, words) in cases.items():
            ended = wait_for_task(pair, f"{pair.admin}/{local}", timeout=240)
            task = ended["task"]
            assert task["state"] == "failed", (local, task)
            assert words in task["reason"] and ended["last_message"] == task["reason"], (local, task["reason"])
            # Nothing kept: the refs are those of the new repository, no object, no work folder.
            assert refs_of(pair.downstream, f"{pair.admin}/{local}", pair.genv, tmp_path) == before[local]
        # Every attempt's output is in the task's log, the reason of each failure in it.
        failing = wait_for_task(pair, f"{pair.admin}/bad500")["task"]["id"]
        with api(pair.downstream.url, pair.admin_token) as client:
            text = client.get(f"/api/v1/mirror/tasks/{failing}/logs").json()["data"]["log"]
        assert [f"--- attempt {n} ---" in text for n in (1, 2, 3)] == [True] * 3, text
        assert text.count("answered 500") == 3, text
        gone = wait_for_task(pair, f"{pair.admin}/gone")["task"]["id"]  # from the source with a token
        with api(pair.downstream.url, pair.admin_token) as client:
            text = client.get(f"/api/v1/mirror/tasks/{gone}/logs").json()["data"]["log"]
        assert "has no such git repository" in text and pair.up_token not in text, text
        # Lasting causes fail at once; passing ones after their 3 attempts.
        attempts = [wait_for_task(pair, f"{pair.admin}/{n}")["task"]["attempts"] for n in ("gone", "gated", "flip")]
        assert attempts == [1, 1, 1] and wait_for_task(pair, f"{pair.admin}/bad500")["task"]["attempts"] == 3
    for oid in oids.values():
        assert pair.downstream.hub.blobs.stat(oid) is None
    work = pair.downstream.data_dir / "mirrors" / "work"
    assert not work.exists() or not list(work.iterdir())
    log_text = (pair.downstream.log_path or Path()).read_text()
    # Each failure logged once, when its task failed: not per attempt, nor per object.
    assert len([line for line in log_text.splitlines() if "nothing-here" in line]) == 1
    assert len([line for line in log_text.splitlines() if "boom" in line or "answered 500" in line]) == 1


def test_hub_killed_mid_transfer_resumes_and_the_result_verifies(
    tmp_path: Path, live_hub_factory: LiveHubFactory
) -> None:
    upstream = live_hub_factory()
    downstream = start_hub(tmp_path / "down", DOWNSTREAM_ENV, own_group=True)
    try:
        pair = make_pair(lambda env=None: upstream if env is None else downstream, tmp_path)
        big = os.urandom(64 * MiB)
        oid = hashlib.sha256(big).hexdigest()
        push_files(pair, f"{pair.up_user}/big", {"big.bin": big})
        with UpstreamProxy(upstream.url).running() as proxy:
            add_source(pair, "slow", proxy.url, bandwidth_bytes_per_s=8 * MiB)
            target = f"{pair.admin}/big"
            assert create_mirror(pair, target, {"source": "slow", "upstream": f"{pair.up_user}/big"}).status_code == 200
            work = downstream.data_dir / "mirrors" / "work"
            wait_until(lambda: _partial_bytes(work) > 16 * MiB, "a quarter of the object on disk", timeout=120)
            downstream.crash()
            _power_cut(downstream.data_dir)  # the sync's job too, which would otherwise outlive its hub
            kept = _partial_bytes(work)
            assert 0 < kept < len(big)
            proxy.served.clear()
            downstream.start()
            ended = wait_for_task(pair, target, timeout=240)
            assert ended["task"]["state"] == "finished", ended["task"]["reason"]
            assert proxy.served.get(oid, 0) <= len(big) - kept + MiB  # resumed, not started over
        got = HfApi(endpoint=downstream.url).hf_hub_download(target, "big.bin", local_dir=tmp_path / "got")
        assert hashlib.sha256(Path(got).read_bytes()).hexdigest() == oid
        assert ended["task"]["attempts"] == 2
    finally:
        downstream.stop()


def _power_cut(data_dir: Path) -> None:
    """kill -9 the mirror jobs a hub in `data_dir` started (their argv names their work folder there)."""
    for proc in psutil.process_iter(["cmdline"]):
        argv = " ".join(proc.info["cmdline"] or [])
        if "csghub.services.mirrors.job" in argv and str(data_dir) in argv:
            proc.kill()
            proc.wait(timeout=10)


def _partial_bytes(work: Path) -> int:
    return sum(p.stat().st_size for p in work.glob("*/lfs/*") if p.is_file())


def test_a_source_without_git_is_mirrored_from_its_tree_listing(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    pair = make_pair(live_hub_factory, tmp_path)
    add_source(pair, "api", use_git=False)
    upstream = f"{pair.up_user}/listed"
    files = {"model.safetensors": os.urandom(2 * MiB + 1), "config.json": b'{"b": 2}\n', "sub/notes.md": b"# notes\n"}
    head = push_files(pair, upstream, files)
    target = f"{pair.admin}/listed"
    assert create_mirror(pair, target, {"source": "api", "upstream": upstream}).status_code == 200
    done = wait_for_task(pair, target)
    assert done["task"]["state"] == "finished", done["task"]["reason"]
    local = _download_all(pair.downstream.url, pair.admin_token, target, "model", tmp_path / "listed")
    for path, data in files.items():
        assert (local / path).read_bytes() == data, path
    hf = HfApi(endpoint=pair.downstream.url, token=pair.admin_token)
    commits_url = f"{pair.downstream.url}/api/models/{target}/commits/main"
    commits = httpx.get(commits_url).json()
    assert hf.list_repo_commits(target)[0].commit_id == commits[0]["id"]
    assert commits[0]["message"].endswith(f"upstream commit {head}")
    # The same blobs as upstream's tree: the files' git ids are equal.
    up_tree = {
        e.path: e.blob_id
        for e in HfApi(endpoint=pair.upstream.url).list_repo_tree(upstream, recursive=True)
        if hasattr(e, "blob_id")
    }
    down_tree = {e.path: e.blob_id for e in hf.list_repo_tree(target, recursive=True) if hasattr(e, "blob_id")}
    assert {p: down_tree[p] for p in files} == {p: up_tree[p] for p in files}
    # Nothing new upstream: another sync makes no commit.
    with api(pair.downstream.url, pair.admin_token) as client:
        assert client.post(f"/api/v1/models/{target}/mirror/sync").status_code == 200
    again = wait_for_task(pair, target)
    assert again["task"]["id"] != done["task"]["id"] and again["task"]["state"] == "finished"
    after = httpx.get(commits_url)
    assert after.status_code == 200 and after.json()[0]["id"] == commits[0]["id"], after.text
