"""Mirror throughput of a repository holding one large LFS object, against a plain download of the same
object from the upstream in the same run.

    python -m benches.bench_mirror [--size-mb 1024] [--rounds 1]

Two live hubs on loopback: the upstream holds a model with one object of `--size-mb` random bytes; the
downstream mirrors it (a mirror source pointing at the upstream, then `POST .../mirror`). A round times
the baseline first: the object streamed from the upstream's `/resolve/` by httpx into a file, hashed
with sha256 as it arrives and fsynced (what any verified download does). Then the mirror: from the
create request until its task says finished (git fetch, the LFS download with its sha256 check, the
import into the blob store and the ref update), each round into a new mirror after the last round's mirror was deleted
(and its object with it), so every round moves every byte. Prints the rates in MB/s (10^6 bytes) and
the median of the rounds' ratios (mirror / baseline; the target is >= 0.8) as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.support.live import LiveHub, server_env

from benches.bench_lfs import _make_file
from csghub.core.names import RepoId, RepoType
from csghub.services.identity import accounts, tokens
from csghub.services.mirrors.sources import SourceSpec, create_source
from csghub.services.permissions import Actor
from csghub.services.repositories import repos

CHUNK = 4 * 1024 * 1024


@contextmanager
def _hub(root: Path, name: str, extra: dict[str, str] | None = None) -> Iterator[LiveHub]:
    hub = LiveHub(root / name, server_env(extra)).start()
    try:
        yield hub
    finally:
        hub.stop()


def _admin(hub: LiveHub, name: str) -> str:
    accounts.create_user(hub.hub, name, email=f"{name}@example.com", is_admin=True)
    return tokens.create_token(hub.hub, name, scope="write")[0]


def _upload(hub: LiveHub, token: str, repo: str, path: Path, oid: str) -> None:
    """The object through the LFS batch API and a commit naming it, as `git lfs push` would leave it."""
    size = path.stat().st_size
    obj = {"oid": oid, "size": size}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=hub.url, headers=headers, timeout=600) as client:
        made = client.post("/api/repos/create", json={"name": repo.split("/")[1], "type": "model"})
        assert made.status_code == 200, made.text
        batch = client.post(f"/{repo}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": [obj]})
        actions = batch.json()["objects"][0]["actions"]
        with open(path, "rb") as fh:
            assert httpx.put(
                actions["upload"]["href"], content=iter(lambda: fh.read(CHUNK), b""), timeout=600
            ).is_success
        assert httpx.post(actions["verify"]["href"], json=obj).is_success
        lines = [
            {"key": "header", "value": {"summary": "big object"}},
            {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", **obj}},
        ]
        committed = client.post(f"/api/models/{repo}/commit/main", content="".join(json.dumps(x) + "\n" for x in lines))
        assert committed.status_code == 200, committed.text


def _plain_download(hub: LiveHub, repo: str, dest: Path, oid: str) -> float:
    start = time.perf_counter()
    digest = hashlib.sha256()
    with (
        httpx.stream("GET", f"{hub.url}/{repo}/resolve/main/big.bin", timeout=600) as response,
        open(dest, "wb") as out,
    ):
        for block in response.iter_bytes(CHUNK):
            digest.update(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    took = time.perf_counter() - start
    assert digest.hexdigest() == oid
    dest.unlink()
    return took


def _mirror(down: LiveHub, token: str, target: str, upstream: str, oid: str, previous: str) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    if previous:  # every round moves every byte: the last round's mirror goes, and its object with it
        repos.delete_repo(down.hub, Actor(user_id=0, is_admin=True), RepoType.MODEL, RepoId.parse(previous))
        assert down.hub.blobs.stat(oid) is None
    with httpx.Client(base_url=down.url, headers=headers, timeout=60) as client:
        start = time.perf_counter()
        made = client.post(f"/api/v1/models/{target}/mirror", json={"source": "up", "upstream": upstream})
        assert made.status_code == 200, made.text
        while True:
            task = client.get(f"/api/v1/models/{target}/mirror").json()["data"]["task"]
            if task["state"] in ("finished", "failed", "cancelled"):
                break
            time.sleep(0.05)
        took = time.perf_counter() - start
    assert task["state"] == "finished", task["reason"]
    print(f"  task: created {task['created_at']}, started {task['started_at']}, finished {task['finished_at']}")
    assert down.hub.blobs.stat(oid) is not None
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="csghub-bench-mirror-", dir="/tmp") as tmp:
        root = Path(tmp)
        source_file = root / "big.bin"
        oid = _make_file(source_file, size)
        with _hub(root, "up") as up, _hub(root, "down", {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}) as down:
            up_token = _admin(up, "alice")
            _upload(up, up_token, "alice/big", source_file, oid)
            source_file.unlink()
            admin_token = _admin(down, "root")
            create_source(down.hub, Actor(user_id=0, is_admin=True), SourceSpec(name="up", base_url=up.url))
            plain, mirrored, ratios = [], [], []
            for round_ in range(args.rounds):
                plain.append(_plain_download(up, "alice/big", root / "plain.bin", oid))
                previous = f"root/big{round_ - 1}" if round_ else ""
                mirrored.append(_mirror(down, admin_token, f"root/big{round_}", "alice/big", oid, previous))
                ratios.append(plain[-1] / mirrored[-1])
                rates = f"plain {size / plain[-1] / 1e6:.0f} MB/s, mirror {size / mirrored[-1] / 1e6:.0f} MB/s"
                print(f"round {round_ + 1}: {rates}", flush=True)
    result = {
        "size_bytes": size,
        "rounds": args.rounds,
        "plain_download_mb_s": round(size / statistics.median(plain) / 1e6, 1),
        "mirror_mb_s": round(size / statistics.median(mirrored) / 1e6, 1),
        "mirror_vs_plain": round(statistics.median(ratios), 3),
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
