"""Upload and download of one large file through Xet and through LFS, in the same run; bytes stored
for a re-upload with 1% changed; server peak RSS; cost of the sha256 check per GB.

    python -m benches.bench_xet [--size-mb 1024]

Each client runs in its own process with a fresh cache, as a new user would.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.clients import create_repo

from benches.common import PeakRss, live_hub

_UPLOAD = (
    "import sys; from huggingface_hub import HfApi; "
    "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_file("
    "path_or_fileobj=sys.argv[3], path_in_repo=sys.argv[4], repo_id=sys.argv[5])"
)
_DOWNLOAD = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "print(hf_hub_download(sys.argv[4], sys.argv[3], endpoint=sys.argv[1], token=sys.argv[2]))"
)


def _make_file(path: Path, size: int) -> str:
    """Incompressible bytes with no repeats, so neither compression nor dedup flatters Xet."""
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        remaining = size
        while remaining:
            block = os.urandom(min(remaining, 1 << 22))
            fh.write(block)
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


def _client(script: str, args: list[str], home: Path, *, xet: bool) -> tuple[float, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "HF_HOME": str(home / "hf"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return elapsed, proc.stdout.strip()


def _xorb_bytes(hub) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from csghub.db.models import XetXorb

    with hub.db() as session:
        return int(session.scalar(select(func.coalesce(func.sum(XetXorb.serialized_size), 0))) or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="csghub-bench-xet-", dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        # Different bytes for each path: the same bytes would already be stored and skip the transfer.
        sources = {"xet": tmp / "xet.bin", "lfs": tmp / "lfs.bin"}
        shas = {label: _make_file(path, size) for label, path in sources.items()}
        src, sha = sources["xet"], shas["xet"]
        with live_hub() as hub:
            user, token = hub.user()
            repo = f"{user}/bench"
            create_repo(hub.url, token, repo)
            assert hub.process is not None
            results: dict[str, object] = {"bench": "xet", "size_mb": round(size / 1e6)}
            with PeakRss(hub.process.pid) as rss:
                for label, xet in (("xet", True), ("lfs", False)):
                    up, _ = _client(
                        _UPLOAD,
                        [hub.url, token, str(sources[label]), f"{label}.bin", repo],
                        tmp / f"u-{label}",
                        xet=xet,
                    )
                    down, path = _client(_DOWNLOAD, [hub.url, token, f"{label}.bin", repo], tmp / f"d-{label}", xet=xet)
                    digest = hashlib.sha256()
                    with open(path.splitlines()[-1], "rb") as fh:
                        for block in iter(lambda: fh.read(1 << 22), b""):
                            digest.update(block)
                    assert digest.hexdigest() == shas[label], f"{label} download differs"
                    results[f"{label}_upload_mb_s"] = round(size / 1e6 / up, 1)
                    results[f"{label}_download_mb_s"] = round(size / 1e6 / down, 1)
                    os.unlink(path.splitlines()[-1])

                data = bytearray(src.read_bytes())
                rng = random.Random(7)
                for _ in range(20):
                    at = rng.randrange(0, size - size // 2000)
                    data[at : at + size // 2000] = os.urandom(size // 2000)
                edited = tmp / "edited.bin"
                edited.write_bytes(data)
                del data
                before = _xorb_bytes(hub.hub)
                _client(_UPLOAD, [hub.url, token, str(edited), "edited.bin", repo], tmp / "u-edit", xet=True)
                results["reupload_1pct_new_bytes_mb"] = round((_xorb_bytes(hub.hub) - before) / 1e6, 2)
                results["reupload_1pct_new_bytes_ratio"] = round((_xorb_bytes(hub.hub) - before) / size, 4)
            results["xet_vs_lfs_upload"] = round(results["xet_upload_mb_s"] / results["lfs_upload_mb_s"], 2)  # type: ignore[operator]
            results["xet_vs_lfs_download"] = round(results["xet_download_mb_s"] / results["lfs_download_mb_s"], 2)  # type: ignore[operator]
            results["server_peak_rss_mb"] = round(rss.peak_mb, 1)

            # The sha256 check a commit runs on a Xet file: rebuild from xorbs and hash, per GB.
            from csghub.services.repositories import lfs
            from csghub.services.xet import store as xet_store

            xet_hash = lfs.xet_hash_of(hub.hub, sha)
            assert xet_hash is not None
            stored = xet_store.get_file(hub.hub, xet_hash)
            start = time.perf_counter()
            digest = hashlib.sha256()
            for block in xet_store.read_file(hub.hub, stored):
                digest.update(block)
            check_s = time.perf_counter() - start
            assert digest.hexdigest() == sha
            results["sha256_check_s_per_gb"] = round(check_s / (size / 1024**3), 2)
        print(json.dumps(results))


if __name__ == "__main__":
    main()
