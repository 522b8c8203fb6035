"""LFS object bytes through the hub's own transfers: uploads hashed while they stream in, downloads sent
from the stored file with sendfile (whole and by range), and clients that leave or stop reading midway."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.conftest import start_hub
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub
from tests.support.raw_http import connect, head, read_answer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MiB = 1024 * 1024
CLIENT_TIMEOUT = 3


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """One hub for the module, with a short client timeout so a reader that stops is cut off quickly."""
    started = start_hub(
        tmp_path_factory.mktemp("lfs-transfer") / "data", {"CSGHUB_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT)}
    )
    yield started
    started.stop()


def _upload(hub: LiveHub, data: bytes) -> tuple[str, str, str]:
    """Upload `data` as an LFS object and reference it from a commit; (repo, token, download href)."""
    user, token = hub.user()
    repo = f"{user}/objects"
    create_repo(hub.url, token, repo)
    oid = hashlib.sha256(data).hexdigest()
    obj = {"oid": oid, "size": len(data)}
    with api(hub.url, token) as client:
        batch = client.post(f"/{repo}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [obj]})
        actions = batch.json()["objects"][0]["actions"]
        pieces = (data[i : i + 300_000] for i in range(0, len(data), 300_000))  # odd sizes: no batch aligns
        assert httpx.put(actions["upload"]["href"], content=pieces).status_code == 200
        assert httpx.post(actions["verify"]["href"], json=obj).json() == {"message": "verified"}
        lines = [
            {"key": "header", "value": {"summary": "object"}},
            {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", **obj}},
        ]
        committed = client.post(
            f"/api/models/{repo}/commit/main", content="".join(json.dumps(line) + "\n" for line in lines)
        )
        assert committed.status_code == 200, committed.text
        batch = client.post(f"/{repo}.git/info/lfs/objects/batch", json={"operation": "download", "objects": [obj]})
    return repo, token, batch.json()["objects"][0]["actions"]["download"]["href"]


@pytest.fixture(scope="module")
def small(hub: LiveHub) -> tuple[bytes, str, str, str]:
    data = os.urandom(5 * MiB + 123)
    return (data, *_upload(hub, data))


@pytest.fixture(scope="module")
def large(hub: LiveHub) -> tuple[bytes, str]:
    # Far more than loopback socket buffers hold, so a reader that stops really stalls the sender.
    data = os.urandom(64 * MiB)
    return data, _upload(hub, data)[2]


def test_lfs_download_is_exact_whole_and_by_range(small: tuple[bytes, str, str, str]) -> None:
    data, _, _, href = small
    size = len(data)
    whole = httpx.get(href)
    assert whole.content == data
    assert whole.headers["content-length"] == str(size)
    assert whole.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(href, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{size}"
    assert httpx.get(href, headers={"Range": "bytes=-10"}).content == data[-10:]
    assert httpx.get(href, headers={"Range": f"bytes={4 * MiB}-"}).content == data[4 * MiB :]
    beyond = httpx.get(href, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.json()["code"] == "RangeNotSatisfiable"


def test_resolve_of_an_lfs_file_is_exact_whole_and_by_range(hub: LiveHub, small: tuple[bytes, str, str, str]) -> None:
    data, repo, token, _ = small
    with api(hub.url, token) as client:
        assert client.get(f"/{repo}/resolve/main/big.bin").content == data
        part = client.get(f"/{repo}/resolve/main/big.bin", headers={"Range": "bytes=5242880-"})
        assert part.status_code == 206 and part.content == data[5 * MiB :]
        head_only = client.head(f"/{repo}/resolve/main/big.bin")
        assert head_only.headers["content-length"] == str(len(data)) and head_only.content == b""


def test_download_left_midway_leaves_the_server_serving(hub: LiveHub, large: tuple[bytes, str]) -> None:
    data, href = large
    path = href.removeprefix(hub.url)
    for _ in range(3):
        with connect(hub.url) as sock:
            sock.sendall(head("GET", path, chunked=False))
            assert sock.recv(64 * 1024).startswith(b"HTTP/1.1 200")
            # Close with unread bytes and no lingering: the kernel resets the connection under the sender.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert hashlib.sha256(httpx.get(href, timeout=60).content).digest() == hashlib.sha256(data).digest()
    log = hub.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-2000:]


def _server_side_open(hub: LiveHub, client: socket.socket) -> bool:
    """Whether the server still holds its end of `client`'s connection open for sending."""
    assert hub.process is not None
    ours = client.getsockname()
    return any(
        tuple(conn.raddr) == ours and conn.status == psutil.CONN_ESTABLISHED
        for conn in psutil.Process(hub.process.pid).net_connections(kind="tcp")
    )


def test_reader_that_stops_is_cut_off_while_others_are_served(hub: LiveHub, large: tuple[bytes, str]) -> None:
    data, href = large
    with connect(hub.url) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        stalled.sendall(head("GET", href.removeprefix(hub.url), chunked=False))
        wait_until(lambda: _server_side_open(hub, stalled), "the download to start", timeout=10)
        # The sender waits on this reader in a worker thread: the event loop answers everyone else.
        started = time.monotonic()
        assert httpx.get(f"{hub.url}/health", timeout=10).json() == {"status": "ok"}
        assert time.monotonic() - started < CLIENT_TIMEOUT
        # Not one byte read: the server gives up on this reader after its client timeout.
        wait_until(lambda: not _server_side_open(hub, stalled), "the stalled download to be cut off", timeout=30)
        answer = read_answer(stalled, time.monotonic() + 30)
    assert answer.status == 200 and answer.headers["content-length"] == str(len(data))
    assert 0 < len(answer.body) < len(data)
