"""LFS upload and download of one large object through a live hub, against a plain disk copy.

    python -m benches.bench_lfs [--size-mb 1024]

Prints MB/s for upload and download, the ratio to copying the same file on the same disk in the same
run, and the server's peak RSS (which must stay under 300 MB whatever the size).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.clients import create_repo

from benches.common import PeakRss, live_hub

CHUNK = 4 * 1024 * 1024


def _make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(CHUNK)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            piece = block[: min(CHUNK, size - written)]
            # Vary every block so nothing upstream can compress or dedupe it away.
            piece = written.to_bytes(8, "little") + piece[8:]
            fh.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


def _file_chunks(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            yield block


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="csghub-bench-lfs-", dir="/tmp") as tmp:
        src = Path(tmp) / "object.bin"
        oid = _make_file(src, size)

        start = time.perf_counter()
        shutil.copyfile(src, Path(tmp) / "copy.bin")
        os.sync()
        copy_s = time.perf_counter() - start
        os.unlink(Path(tmp) / "copy.bin")

        with live_hub() as hub:
            user, token = hub.user()
            repo = f"{user}/bench"
            create_repo(hub.url, token, repo)
            auth = {"Authorization": f"Bearer {token}"}
            assert hub.process is not None
            with PeakRss(hub.process.pid) as rss, httpx.Client(timeout=600, headers=auth) as client:
                batch = client.post(
                    f"{hub.url}/{repo}.git/info/lfs/objects/batch",
                    json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]},
                ).json()
                actions = batch["objects"][0]["actions"]
                start = time.perf_counter()
                put = httpx.put(actions["upload"]["href"], content=_file_chunks(src), timeout=600)
                put.raise_for_status()
                httpx.post(actions["verify"]["href"], json={"oid": oid, "size": size}).raise_for_status()
                upload_s = time.perf_counter() - start

                # Reference the object from a commit so the repo may download it.
                lines = [
                    {"key": "header", "value": {"summary": "big"}},
                    {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid, "size": size}},
                ]
                body = "".join(json.dumps(line) + "\n" for line in lines)
                client.post(f"{hub.url}/api/models/{repo}/commit/main", content=body).raise_for_status()

                start = time.perf_counter()
                digest = hashlib.sha256()
                with client.stream("GET", f"{hub.url}/{repo}/resolve/main/big.bin") as response:
                    response.raise_for_status()
                    for block in response.iter_bytes(CHUNK):
                        digest.update(block)
                download_s = time.perf_counter() - start
                assert digest.hexdigest() == oid, "downloaded bytes differ"

        mb = size / 1e6
        print(
            json.dumps(
                {
                    "bench": "lfs",
                    "size_mb": round(mb),
                    "disk_copy_mb_s": round(mb / copy_s, 1),
                    "upload_mb_s": round(mb / upload_s, 1),
                    "download_mb_s": round(mb / download_s, 1),
                    "upload_vs_copy": round(copy_s / upload_s, 2),
                    "download_vs_copy": round(copy_s / download_s, 2),
                    "server_peak_rss_mb": round(rss.peak_mb, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
