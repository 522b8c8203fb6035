"""/metrics on a live hub: who may read it, and counters that move by what real clients did (the HF API,
git clone and push over HTTP, a git-lfs upload), labelled by route templates, never by repository names."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from csghub.services.identity import accounts, tokens
from tests.conftest import start_hub
from tests.support.clients import create_repo, git, setup_git_home, write_file
from tests.support.live import LiveHub
from tests.support.scrapes import Scrape, scrape
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MODEL_INFO = "/api/{type_plural}/{namespace}/{name}"
LFS_PUT = "/lfs/objects/{oid}/{size}"
UPLOAD_PACK = "/{repo_path}/git-upload-pack"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    started = start_hub(tmp_path_factory.mktemp("metrics") / "data")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def admin_token(hub: LiveHub) -> str:
    """A site administrator's read-only token: all Prometheus needs."""
    name = f"root{secrets.token_hex(3)}"
    accounts.create_user(hub.hub, name, email=f"{name}@example.com", password="a-long-password-1", is_admin=True)
    return tokens.create_token(hub.hub, name, scope="read")[0]


def _settled(hub: LiveHub, token: str, done: Callable[[Scrape], bool]) -> Scrape:
    """The first scrape in which `done` holds: a request is recorded just after its answer is sent."""
    found: list[Scrape] = []

    def check() -> bool:
        found[:] = [scrape(hub.url, token)]
        return done(found[0])

    wait_until(check, "the metrics to record the requests", timeout=10, poll=0.05)
    return found[0]


def test_metrics_are_not_found_for_anonymous_and_non_admin_callers(hub: LiveHub, admin_token: str) -> None:
    _user, token = hub.user()
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        answer = httpx.get(f"{hub.url}/metrics", headers=headers)
        assert answer.status_code == 404
        assert "csghub_" not in answer.text
        # The answer a path that does not exist gets, but for its request id.
        nowhere = httpx.get(f"{hub.url}/no/such/path", headers={**headers, "Accept": "application/json"})
        assert {**answer.json(), "request_id": ""} == {**nowhere.json(), "request_id": ""}
        assert answer.json()["code"] == "NotFound"
    shown = httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {admin_token}"})
    assert shown.status_code == 200
    assert shown.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE csghub_http_requests_total counter" in shown.text


def test_api_calls_count_by_route_template_with_their_bytes(hub: LiveHub, admin_token: str) -> None:
    user, token = hub.user()
    repo = f"{user}/hidden-{secrets.token_hex(4)}"
    create_repo(hub.url, token, repo, private=True)
    before = scrape(hub.url, admin_token)
    answers = [
        httpx.get(f"{hub.url}/api/models/{repo}", headers={"Authorization": f"Bearer {token}"}) for _ in range(3)
    ]
    refused = httpx.get(f"{hub.url}/api/models/{repo}")  # anonymous: private means not found
    assert [a.status_code for a in answers] == [200, 200, 200] and refused.status_code == 401
    after = _settled(
        hub,
        admin_token,
        lambda s: (
            s.value("csghub_http_requests_total", route=MODEL_INFO, method="GET", status="401")
            > before.value("csghub_http_requests_total", route=MODEL_INFO, method="GET", status="401")
        ),
    )

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("csghub_http_requests_total", route=MODEL_INFO, method="GET", status="200") == 3
    assert delta("csghub_http_requests_total", route=MODEL_INFO, method="GET", status="401") == 1
    assert delta("csghub_http_request_duration_seconds_count", route=MODEL_INFO, method="GET") == 4
    assert delta("csghub_http_request_duration_seconds_sum", route=MODEL_INFO, method="GET") > 0
    # What the four answers carried, to the byte (their bodies; nothing else spoke the API meanwhile).
    sent = sum(len(a.content) for a in [*answers, refused])
    assert delta("csghub_transfer_bytes_total", protocol="api", direction="out") == sent
    assert delta("csghub_transfer_bytes_total", protocol="api", direction="in") == 0
    assert after.value("csghub_http_requests_in_flight") >= 1  # the scrape itself
    assert repo.split("/")[1] not in after.text and user not in after.text


def test_clone_push_and_lfs_upload_move_the_transfer_counters(hub: LiveHub, admin_token: str, tmp_path: Path) -> None:
    user, token = hub.user()
    name = f"secret-{secrets.token_hex(4)}"
    repo = f"{user}/{name}"
    create_repo(hub.url, token, repo, private=True)
    write_file(hub.url, token, repo, "noise.txt", os.urandom(150_000).hex())  # 300 kB that packs to ~150 kB
    env = setup_git_home(tmp_path / "home")
    before = scrape(hub.url, admin_token)

    work = tmp_path / "work"
    git("clone", f"http://{user}:{token}@{hub.host()}/{repo}.git", str(work), cwd=tmp_path, env=env)
    weights = os.urandom(MiB)
    (work / "weights.bin").write_bytes(weights)
    git("add", "weights.bin", cwd=work, env=env)
    git("commit", "-m", "weights", cwd=work, env=env)
    git("push", "origin", "main", cwd=work, env=env)
    after = _settled(
        hub,
        admin_token,
        lambda s: (
            s.value("csghub_transfers_total", protocol="git", operation="receive-pack")
            > before.value("csghub_transfers_total", protocol="git", operation="receive-pack")
        ),
    )

    def delta(metric: str, **labels: str) -> float:
        return after.value(metric, **labels) - before.value(metric, **labels)

    fetches = delta("csghub_http_requests_total", route=UPLOAD_PACK, method="POST", status="200")
    assert fetches >= 1
    assert delta("csghub_transfers_total", protocol="git", operation="upload-pack") == fetches
    assert delta("csghub_transfers_total", protocol="git", operation="receive-pack") == 1
    assert delta("csghub_transfer_bytes_total", protocol="git", direction="out") >= 140_000
    assert delta("csghub_transfers_total", protocol="lfs", operation="upload") == 1
    assert delta("csghub_http_requests_total", route=LFS_PUT, method="PUT", status="200") == 1
    lfs_in = delta("csghub_transfer_bytes_total", protocol="lfs", direction="in")
    assert MiB <= lfs_in < MiB + 64 * 1024  # the object, plus the batch request's few hundred bytes
    # The blob store's figures come from the database at scrape time.
    assert delta("csghub_storage_objects", kind="lfs") == 1
    assert delta("csghub_storage_bytes", kind="lfs") == MiB
    assert after.value("csghub_repositories", type="model") >= 1
    assert after.value("csghub_database_up") == 1
    assert after.value("csghub_db_pool_size") >= 1
    for queue in ("finetune", "mirror", "dataset_conversion"):
        assert ("csghub_queue_depth", frozenset({("queue", queue)})) in after.samples
    assert name not in after.text and user not in after.text

    # A download of the object: sent with sendfile, which the counts must see too.
    oid = hashlib.sha256(weights).hexdigest()
    auth = {"Authorization": f"Bearer {token}"}
    batch = httpx.post(
        f"{hub.url}/{repo}.git/info/lfs/objects/batch",
        headers=auth,
        json={"operation": "download", "objects": [{"oid": oid, "size": MiB}]},
    )
    download = httpx.get(batch.json()["objects"][0]["actions"]["download"]["href"])
    assert download.content == weights
    later = _settled(
        hub,
        admin_token,
        lambda s: (
            s.value("csghub_transfers_total", protocol="lfs", operation="download")
            > after.value("csghub_transfers_total", protocol="lfs", operation="download")
        ),
    )
    assert (
        later.value("csghub_transfers_total", protocol="lfs", operation="download")
        - after.value("csghub_transfers_total", protocol="lfs", operation="download")
        == 1
    )
    lfs_out = later.value("csghub_transfer_bytes_total", protocol="lfs", direction="out") - after.value(
        "csghub_transfer_bytes_total", protocol="lfs", direction="out"
    )
    assert lfs_out == len(batch.content) + MiB


def test_git_over_ssh_counts_sessions_transfers_and_bytes(hub: LiveHub, admin_token: str, tmp_path: Path) -> None:
    user, token = hub.user()
    repo = f"{user}/ssh-{secrets.token_hex(3)}"
    create_repo(hub.url, token, repo, private=True)
    write_file(hub.url, token, repo, "noise.txt", os.urandom(100_000).hex())  # ~100 kB once packed
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, capture_output=True)
    added = httpx.post(
        f"{hub.url}/api/v1/user/ssh_keys",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "laptop", "content": key.with_suffix(".pub").read_text().strip()},
    )
    assert added.status_code == 200, added.text
    env = setup_git_home(tmp_path / "home")
    env["GIT_SSH_COMMAND"] = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR"
    )
    before = scrape(hub.url, admin_token)
    git("clone", f"ssh://git@127.0.0.1:{hub.ssh_port}/{repo}.git", str(tmp_path / "w"), cwd=tmp_path, env=env)
    after = _settled(
        hub,
        admin_token,
        lambda s: (
            s.value("csghub_transfers_total", protocol="ssh", operation="upload-pack")
            > before.value("csghub_transfers_total", protocol="ssh", operation="upload-pack")
        ),
    )

    def delta(metric: str, **labels: str) -> float:
        return after.value(metric, **labels) - before.value(metric, **labels)

    assert delta("csghub_transfers_total", protocol="ssh", operation="upload-pack") == 1
    assert delta("csghub_ssh_sessions_total") >= 1  # the clone, and git-lfs-authenticate if git-lfs asked
    assert after.value("csghub_ssh_sessions_active") == 0
    assert delta("csghub_transfer_bytes_total", protocol="ssh", direction="out") >= 90_000
    assert delta("csghub_transfer_bytes_total", protocol="ssh", direction="in") > 0  # the client's wants
    assert repo.split("/")[1] not in after.text


def test_xet_upload_and_download_by_huggingface_hub_are_counted(
    hub: LiveHub, admin_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hf_xet  # noqa: F401 - the default client, as users have it
    from huggingface_hub import HfApi, hf_hub_download

    user, token = hub.user()
    repo = f"{user}/xet-{secrets.token_hex(3)}"
    data = os.urandom(2 * MiB)
    (tmp_path / "weights.bin").write_bytes(data)
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    api = HfApi(endpoint=hub.url, token=token)
    api.create_repo(repo, private=True)
    before = scrape(hub.url, admin_token)
    api.upload_file(path_or_fileobj=tmp_path / "weights.bin", path_in_repo="weights.bin", repo_id=repo)
    got = hf_hub_download(repo, "weights.bin", endpoint=hub.url, token=token, cache_dir=tmp_path / "hf")
    assert Path(got).read_bytes() == data
    after = _settled(
        hub,
        admin_token,
        lambda s: (
            s.value("csghub_transfers_total", protocol="xet", operation="download")
            > before.value("csghub_transfers_total", protocol="xet", operation="download")
        ),
    )

    def delta(metric: str, **labels: str) -> float:
        return after.value(metric, **labels) - before.value(metric, **labels)

    assert delta("csghub_transfers_total", protocol="xet", operation="upload") >= 1  # one xorb or more
    assert delta("csghub_transfer_bytes_total", protocol="xet", direction="in") >= 2 * MiB  # random: no compression
    assert delta("csghub_transfer_bytes_total", protocol="xet", direction="out") >= 2 * MiB
    assert delta("csghub_storage_objects", kind="xet_xorb") >= 1
    assert delta("csghub_storage_bytes", kind="xet_xorb") >= 2 * MiB
    assert repo.split("/")[1] not in after.text
