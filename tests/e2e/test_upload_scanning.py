"""Upload scanning end to end: pickles with an os.system import, pushed through every door of a live hub
(huggingface_hub's upload with hf_xet, git with and without LFS), are flagged `dangerous` in Hugging
Face's securityFileStatus, while safetensors and a plain pickle are clean; with scan_block_dangerous the
same writes are refused and nothing lands."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from playwright.sync_api import Browser, expect

from csghub.db.models import FileScan
from csghub.services.identity import accounts, tokens
from tests.conftest import LiveHubFactory, start_hub
from tests.e2e.mirror_support import DOWNSTREAM_ENV, Pair, add_source, create_mirror, push_files, wait_for_task
from tests.support.browser import sign_in
from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)


class _RunsCode:
    """Unpickling this runs a shell command: the classic malicious pickle."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


def _evil_pickle(padding: int = 0) -> bytes:
    return pickle.dumps({"weights": [os.urandom(padding)], "hook": _RunsCode()})


def _on_disk(folder: Path, name: str, data: bytes) -> Path:
    """A file to upload by path, as users mostly do (others in these tests are uploaded as bytes)."""
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def _torch_zip() -> bytes:
    """The layout torch.save writes (a zip with archive/data.pkl), built without torch."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_RunsCode()))
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/data/0", os.urandom(4096))
    return out.getvalue()


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)


BENIGN = pickle.dumps({"layers": [[1, 2, 3], [4, 5]], "names": ["a", "b"]})


@pytest.fixture
def hf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


def _clone(hub: LiveHub, user: str, token: str, repo: str, work: Path, env: dict[str, str]) -> None:
    git("clone", f"http://{user}:{token}@{hub.host()}/{repo}.git", str(work), cwd=work.parent, env=env)


def _push_files(work: Path, env: dict[str, str], files: dict[str, bytes], *, lfs: bool) -> Any:
    for name, data in files.items():
        (work / name).write_bytes(data)
        if not lfs:  # a plain git blob: the LFS rule that matches its name is unset for it alone
            with open(work / ".gitattributes", "a") as fh:
                fh.write(f"{name} -filter -diff -merge\n")
    git("add", ".gitattributes", *files, cwd=work, env=env)
    git("commit", "-m", "add files", cwd=work, env=env)
    return git("push", "origin", "main", cwd=work, env=env, check=False)


def _security(hub: LiveHub, token: str, repo: str) -> dict[str, Any]:
    files = HfApi(endpoint=hub.url, token=token).list_repo_tree(repo, recursive=True, expand=True)
    return {f.path: getattr(f, "security", None) for f in files}


def _flagged(security: Any) -> set[str]:
    scan = security["pickle_import_scan"]
    return {f"{i['module']}.{i['name']}" for i in scan["imports"] if i["safety"] == "dangerous"}


def test_dangerous_pickles_from_every_door_are_flagged_and_clean_files_are_safe(
    live: LiveHub, tmp_path: Path, hf_env: None
) -> None:
    user, token = live.user()
    repo = f"{user}/scanned"
    hf = HfApi(endpoint=live.url, token=token)
    hf.create_repo(repo)
    hf.upload_file(
        path_or_fileobj=_on_disk(tmp_path / "up", "x.pkl", _evil_pickle(300_000)),
        path_in_repo="via-xet.pkl",
        repo_id=repo,
    )
    checkpoint = _torch_zip()
    hf.upload_file(path_or_fileobj=checkpoint, path_in_repo="torch-zip.bin", repo_id=repo)
    hf.upload_file(path_or_fileobj=_safetensors(), path_in_repo="model.safetensors", repo_id=repo)
    hf.upload_file(path_or_fileobj=BENIGN, path_in_repo="benign.pkl", repo_id=repo)
    env = setup_git_home(tmp_path / "home")
    work = tmp_path / "w"
    _clone(live, user, token, repo, work, env)
    pushed = _push_files(work, env, {"lfs.pt": _evil_pickle(1000)}, lfs=True)
    assert pushed.returncode == 0, pushed.stderr
    pushed = _push_files(work, env, {"plain.pickle": _evil_pickle(10)}, lfs=False)
    assert pushed.returncode == 0, pushed.stderr

    pickles = {"via-xet.pkl", "torch-zip.bin", "benign.pkl", "lfs.pt", "plain.pickle"}
    wait_until(lambda: all(_security(live, token, repo)[p]["status"] != "queued" for p in pickles), "scans", timeout=30)
    security = _security(live, token, repo)
    # Each door stored its file its own way: Xet (huggingface_hub with hf_xet), git-lfs, a plain git blob.
    listed = {f.path: f for f in hf.list_repo_tree(repo, recursive=True)}
    assert getattr(listed["via-xet.pkl"], "xet_hash", None) and getattr(listed["torch-zip.bin"], "xet_hash", None)
    assert listed["lfs.pt"].lfs is not None and not getattr(listed["lfs.pt"], "xet_hash", None)
    assert getattr(listed["plain.pickle"], "lfs", None) is None
    for path in ("via-xet.pkl", "torch-zip.bin", "lfs.pt", "plain.pickle"):
        assert security[path]["status"] == "unsafe" and not security[path]["safe"], (path, security[path])
        assert security[path]["pickle_import_scan"]["highestSafetyLevel"] == "dangerous"
        assert _flagged(security[path]) & {"os.system", "posix.system"}, security[path]
    assert security["benign.pkl"]["status"] == "safe"
    assert security["benign.pkl"]["pickle_import_scan"] == {"highestSafetyLevel": "innocuous", "imports": []}
    assert security["model.safetensors"]["status"] == "safe"
    assert security["model.safetensors"]["pickle_import_scan"] is None
    # get_paths_info with expand answers the same.
    infos = hf.get_paths_info(repo, ["lfs.pt", "model.safetensors"], expand=True)
    by_path = {i.path: i.security for i in infos}
    assert by_path["lfs.pt"]["status"] == "unsafe" and by_path["model.safetensors"]["status"] == "safe"
    # The same content pushed again (another repository) is known at once: keyed by content.
    key = f"sha256:{hashlib.sha256(checkpoint).hexdigest()}"
    with live.hub.db() as session:
        row = session.get(FileScan, key)
        assert row is not None and row.scanned_at is not None
        first_scan = row.scanned_at
    other = f"{user}/copy"
    hf.create_repo(other)
    hf.upload_file(path_or_fileobj=checkpoint, path_in_repo="again.bin", repo_id=other)
    assert _security(live, token, other)["again.bin"]["status"] == "unsafe"
    with live.hub.db() as session:
        again = session.get(FileScan, key)
        assert again is not None and again.scanned_at == first_scan  # scanned once, not again
    # Without expand, the listing stays as it was.
    plain = httpx.get(f"{live.url}/api/models/{repo}/tree/main", headers={"Authorization": f"Bearer {token}"})
    assert plain.status_code == 200 and all("securityFileStatus" not in e for e in plain.json())


def test_private_repository_scan_results_are_hidden_from_others(live: LiveHub, hf_env: None) -> None:
    owner, token = live.user()
    _, stranger = live.user()
    repo = f"{owner}/secret-weights"
    create_repo(live.url, token, repo, private=True)
    HfApi(endpoint=live.url, token=token).upload_file(path_or_fileobj=_torch_zip(), path_in_repo="w.bin", repo_id=repo)
    with api(live.url, stranger) as client:
        tree = client.get(f"/api/models/{repo}/tree/main", params={"expand": "true"})
        info = client.post(f"/api/models/{repo}/paths-info/main", data={"paths": "w.bin", "expand": "true"})
        page = client.get(f"/{repo}/blob/main/w.bin")
    assert tree.status_code == 404 and info.status_code == 404 and page.status_code == 404
    assert "posix" not in tree.text + info.text + page.text


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """A hub that refuses dangerous pickles, scanning inline up to 1 MB."""
    env = {"CSGHUB_SCAN_BLOCK_DANGEROUS": "true", "CSGHUB_SCAN_INLINE_MAX_BYTES": "1000000"}
    hub = start_hub(tmp_path_factory.mktemp("guarded") / "data", env)
    yield hub
    hub.stop()


def test_blocking_mode_refuses_dangerous_pushes_and_commits_and_flags_files_over_the_inline_bound(
    guarded: LiveHub, tmp_path: Path, hf_env: None
) -> None:
    hub = guarded
    user, token = hub.user()
    repo = f"{user}/guarded"
    hf = HfApi(endpoint=hub.url, token=token)
    hf.create_repo(repo)
    with pytest.raises(HfHubHTTPError) as refused:
        hf.upload_file(
            path_or_fileobj=_on_disk(tmp_path / "up", "e.pkl", _evil_pickle(300_000)),
            path_in_repo="evil.pkl",
            repo_id=repo,
        )
    response = refused.value.response
    assert response.status_code == 403
    message = response.json()["error"]
    assert "evil.pkl" in message and "posix.system" in message, message
    with pytest.raises(HfHubHTTPError) as refused_zip:
        hf.upload_file(path_or_fileobj=_torch_zip(), path_in_repo="ckpt.pt", repo_id=repo)
    assert refused_zip.value.response.status_code == 403
    # Clean files still go in.
    hf.upload_file(path_or_fileobj=BENIGN, path_in_repo="benign.pkl", repo_id=repo)
    hf.upload_file(path_or_fileobj=_safetensors(), path_in_repo="model.safetensors", repo_id=repo)

    env = setup_git_home(tmp_path / "home")
    for lfs in (True, False):
        work = tmp_path / f"w-{lfs}"
        _clone(hub, user, token, repo, work, env)
        name = "lfs.pt" if lfs else "plain.pickle"
        pushed = _push_files(work, env, {name: _evil_pickle(100)}, lfs=lfs)
        assert pushed.returncode != 0
        assert name in pushed.stderr and "posix.system" in pushed.stderr, pushed.stderr
    # Over SSH too (the same pre-receive check), with LFS.
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, capture_output=True)
    with api(hub.url, token) as client:
        added = client.post("/api/v1/user/ssh_keys", json={"name": "k", "content": key.with_suffix(".pub").read_text()})
    assert added.status_code == 200, added.text
    env["GIT_SSH_COMMAND"] = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR"
    )
    work = tmp_path / "w-ssh"
    git("clone", f"ssh://git@127.0.0.1:{hub.ssh_port}/{repo}.git", str(work), cwd=tmp_path, env=env)
    pushed = _push_files(work, env, {"over-ssh.ckpt": _evil_pickle(100)}, lfs=True)
    assert pushed.returncode != 0 and "over-ssh.ckpt" in pushed.stderr and "posix.system" in pushed.stderr
    files = {f.path for f in hf.list_repo_tree(repo, recursive=True)}
    assert files == {".gitattributes", "benign.pkl", "model.safetensors"}
    # A file over scan_inline_max_bytes is not scanned before answering: accepted, then flagged.
    hf.upload_file(
        path_or_fileobj=_on_disk(tmp_path / "up", "l.pkl", _evil_pickle(1_500_000)),
        path_in_repo="large.pkl",
        repo_id=repo,
    )
    wait_until(lambda: _security(hub, token, repo)["large.pkl"]["status"] != "queued", "the scan", timeout=30)
    assert _security(hub, token, repo)["large.pkl"]["status"] == "unsafe"


def test_portal_shows_scan_badges_and_the_dangerous_imports_in_english_and_chinese(
    live: LiveHub, browser: Browser, hf_env: None
) -> None:
    user, token = live.user()
    repo = f"{user}/portal-scan"
    hf = HfApi(endpoint=live.url, token=token)
    hf.create_repo(repo)
    hf.upload_file(path_or_fileobj=_torch_zip(), path_in_repo="pytorch_model.bin", repo_id=repo)
    hf.upload_file(path_or_fileobj=BENIGN, path_in_repo="benign.pkl", repo_id=repo)
    hf.upload_file(path_or_fileobj=_safetensors(), path_in_repo="model.safetensors", repo_id=repo)
    wait_until(lambda: _security(live, token, repo)["pytorch_model.bin"]["status"] == "unsafe", "the scan", timeout=30)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/{repo}/tree/main")
    row = page.locator("table.files tr", has_text="pytorch_model.bin")
    expect(row.locator(".badge.scan-unsafe")).to_have_text("Unsafe")
    expect(page.locator("table.files tr", has_text="benign.pkl").locator(".badge.scan-safe")).to_have_text("Safe")
    expect(page.locator("table.files tr", has_text="model.safetensors").locator(".badge.scan")).to_have_count(0)
    page.goto(f"{live.url}/{repo}/blob/main/pytorch_model.bin")
    expect(page.locator(".scan-details .scan-imports")).to_contain_text("posix.system")
    context.add_cookies([{"name": "lang", "value": "zh", "url": live.url}])
    page.reload()
    expect(page.locator(".badge.scan-unsafe")).to_have_text("不安全")
    expect(page.locator(".scan-details")).to_contain_text("除非信任其作者")
    context.close()


def test_mirrored_pickles_are_flagged_not_refused(
    live: LiveHub, live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    # The module's hub is the upstream; the mirror's side blocks dangerous pushes, yet a mirror copies
    # what its upstream holds, and flags it.
    downstream = live_hub_factory({**DOWNSTREAM_ENV, "CSGHUB_SCAN_BLOCK_DANGEROUS": "true"})
    up_user, up_token = live.user("up")
    admin = f"root{os.urandom(3).hex()}"
    accounts.create_user(downstream.hub, admin, email=f"{admin}@example.com", password="mirror admin", is_admin=True)
    admin_token = tokens.create_token(downstream.hub, admin, scope="write")[0]
    pair = Pair(live, downstream, up_user, up_token, admin, admin_token, setup_git_home(tmp_path / "home"), tmp_path)
    add_source(pair, "up")
    upstream = f"{pair.up_user}/mirrored"
    push_files(pair, upstream, {"pytorch_model.bin": _torch_zip(), "model.safetensors": _safetensors()})
    made = create_mirror(pair, f"{pair.admin}/copy", {"source": "up", "upstream": upstream, "interval": 3600})
    assert made.status_code == 200, made.text
    assert wait_for_task(pair, f"{pair.admin}/copy")["task"]["state"] == "finished"
    down, repo = pair.downstream, f"{pair.admin}/copy"
    wait_until(
        lambda: _security(down, pair.admin_token, repo)["pytorch_model.bin"]["status"] != "queued", "scan", timeout=30
    )
    security = _security(down, pair.admin_token, repo)
    assert security["pytorch_model.bin"]["status"] == "unsafe"
    assert _flagged(security["pytorch_model.bin"]) & {"os.system", "posix.system"}
    assert security["model.safetensors"]["status"] == "safe"


def test_portal_upload_and_editor_are_refused_in_blocking_mode(guarded: LiveHub, browser: Browser) -> None:
    user, token = guarded.user(password="correct horse battery")
    repo = f"{user}/web-guarded"
    create_repo(guarded.url, token, repo)
    context, page, _ = sign_in(browser, guarded.url, user, "correct horse battery")
    page.goto(f"{guarded.url}/{repo}/upload/main")
    page.set_input_files(
        "[data-file-input]",
        files=[{"name": "uploaded.bin", "mimeType": "application/octet-stream", "buffer": _torch_zip()}],
    )
    page.click("main form button[type=submit]")
    expect(page.locator("[data-error]")).to_contain_text("uploaded.bin")
    expect(page.locator("[data-error]")).to_contain_text("posix.system")
    # A protocol-0 pickle is text: the editor can write one.
    page.goto(f"{guarded.url}/{repo}/new/main")
    page.fill("input[name=path]", "typed.pkl")
    page.fill("textarea[name=content]", pickle.dumps(_RunsCode(), protocol=0).decode())
    page.click("main form button[type=submit]")
    expect(page.locator("main")).to_contain_text("'typed.pkl' imports posix.system")
    context.close()
    tree = httpx.get(f"{guarded.url}/api/models/{repo}/tree/main", headers={"Authorization": f"Bearer {token}"})
    assert [e["path"] for e in tree.json()] == [".gitattributes"]
