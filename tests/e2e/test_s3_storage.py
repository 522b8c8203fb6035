"""The hub on S3-compatible storage: LFS bytes go straight between clients and the object store."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from pycsghub.file_download import http_get

from tests.conftest import LiveHubFactory
from tests.support.clients import create_repo, git, setup_git_home
from tests.support.s3 import MotoServer

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)


@pytest.fixture
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


def test_s3_hub_git_lfs_and_hf_download_roundtrip(
    live_hub_factory: LiveHubFactory, moto: MotoServer, tmp_path: Path
) -> None:
    hub = live_hub_factory(
        {
            "CSGHUB_STORAGE": "s3",
            "CSGHUB_S3_BUCKET": f"hub{secrets.token_hex(4)}",
            "CSGHUB_S3_ENDPOINT": moto.endpoint,
            "CSGHUB_S3_ACCESS_KEY": "test",
            "CSGHUB_S3_SECRET_KEY": "test",
        }
    )
    user, token = hub.user()
    repo = f"{user}/on-s3"
    create_repo(hub.url, token, repo)
    env = setup_git_home(tmp_path / "home")
    work = tmp_path / "w"
    git("clone", f"http://{user}:{token}@{hub.host()}/{repo}", str(work), cwd=tmp_path, env=env)
    payload = os.urandom(7 * 1024 * 1024 + 3)
    (work / "weights.bin").write_bytes(payload)
    git("add", "weights.bin", cwd=work, env=env)
    git("commit", "-m", "weights", cwd=work, env=env)
    git("push", "origin", "main", cwd=work, env=env)

    fresh = tmp_path / "fresh"
    git("clone", f"http://{hub.host()}/{repo}", str(fresh), cwd=tmp_path, env=env)
    assert (fresh / "weights.bin").read_bytes() == payload

    # The object lives in the bucket under its sha256, not on the hub's disk.
    oid = hashlib.sha256(payload).hexdigest()
    assert hub.hub.blobs.stat(oid) == len(payload)
    assert not list((hub.data_dir / "blobs").rglob(oid))

    # huggingface_hub follows the resolve redirect to a presigned URL of the object store.
    path = hf_hub_download(repo, "weights.bin", endpoint=hub.url, token=token, cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == payload
    # pycsghub's http_get on CSGHub's own download URL is sent the same way.
    v1 = f"{hub.url}/api/v1/models/{repo}/resolve/weights.bin"
    redirect = httpx.get(v1, headers={"Authorization": f"Bearer {token}"})
    assert redirect.status_code == 302 and redirect.headers["x-linked-size"] == str(len(payload))
    http_get(url=v1, local_dir=str(tmp_path), file_name="via-v1.bin", token=token, quiet=True)
    assert (tmp_path / "via-v1.bin").read_bytes() == payload
    info = HfApi(endpoint=hub.url, token=token).model_info(repo, files_metadata=True)
    assert {s.rfilename: s.lfs.sha256 for s in info.siblings if s.lfs} == {"weights.bin": oid}

    # Xet uploads land in the same bucket; hf_xet fetches xorb ranges from presigned URLs.
    xet_payload = os.urandom(3_000_000)
    hf = HfApi(endpoint=hub.url, token=token)
    hf.upload_file(path_or_fileobj=xet_payload, path_in_repo="via-xet.safetensors", repo_id=repo)
    head = httpx.head(
        f"{hub.url}/{repo}/resolve/main/via-xet.safetensors", headers={"Authorization": f"Bearer {token}"}
    )
    assert "x-xet-hash" in head.headers
    got = hf_hub_download(repo, "via-xet.safetensors", endpoint=hub.url, token=token, cache_dir=tmp_path / "c2")
    assert Path(got).read_bytes() == xet_payload


def test_s3_hub_takes_a_large_upload_from_the_browser(
    live_hub_factory: LiveHubFactory, moto: MotoServer, tmp_path: Path
) -> None:
    """Parts go from the page straight to presigned S3 URLs; the hub sets the bucket's CORS rules."""
    import hashlib

    from playwright.sync_api import expect

    from tests.support.browser import chromium
    from tests.support.clients import create_repo

    hub = live_hub_factory(
        {
            "CSGHUB_STORAGE": "s3",
            "CSGHUB_S3_BUCKET": f"hub{secrets.token_hex(4)}",
            "CSGHUB_S3_ENDPOINT": moto.endpoint,
            "CSGHUB_S3_ACCESS_KEY": "test",
            "CSGHUB_S3_SECRET_KEY": "test",
            "CSGHUB_LFS_PART_SIZE": str(5 * 1024 * 1024),
        }
    )
    password = "s3 browser passphrase"
    owner, token = hub.user(password=password)
    create_repo(hub.url, token, f"{owner}/big")
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(12_000_000))
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{hub.url}/login")
        page.fill("input[name=username]", owner)
        page.fill("input[name=password]", password)
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{hub.url}/")
        page.goto(f"{hub.url}/{owner}/big/upload/main")
        page.set_input_files("[data-file-input]", str(big))
        page.click("main form button[type=submit]")
        page.wait_for_function(
            "() => location.pathname.endsWith('/tree/main') || !document.querySelector('[data-error]').hidden",
            timeout=60_000,
        )
        assert page.url == f"{hub.url}/{owner}/big/tree/main", page.inner_text("[data-error]")
        expect(page.locator("tr", has_text="weights.bin").locator(".badge.lfs")).to_have_text("LFS")
    fetched = httpx.get(f"{hub.url}/{owner}/big/resolve/main/weights.bin", follow_redirects=True)
    assert hashlib.sha256(fetched.content).hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
