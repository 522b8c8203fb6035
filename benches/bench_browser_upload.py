"""A large file uploaded from the portal in Debian's Chromium: hashed in the page, sent through the
LFS batch API in parts, committed. The baseline in the same run is a disk copy of the same file with
`sync`, the least any upload must cost on this machine.

    python -m benches.bench_browser_upload [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.browser import chromium
from tests.support.clients import create_repo

from benches.common import PeakRss, live_hub

PASSWORD = "bench passphrase 9"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csghub-bench-upload-", dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        big = tmp / "model.safetensors"
        with open(big, "wb") as fh:
            for _ in range(args.size_mb):
                fh.write(os.urandom(1024 * 1024))
        start = time.perf_counter()
        shutil.copyfile(big, tmp / "copy")
        subprocess.run(["sync"], check=True)
        copy_s = time.perf_counter() - start
        (tmp / "copy").unlink()

        with live_hub() as hub, chromium() as browser:
            owner, token = hub.user(password=PASSWORD)
            create_repo(hub.url, token, f"{owner}/big")
            page = browser.new_page()
            page.goto(f"{hub.url}/login")
            page.fill("input[name=username]", owner)
            page.fill("input[name=password]", PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url(f"{hub.url}/")
            page.goto(f"{hub.url}/{owner}/big/upload/main")
            page.set_input_files("[data-file-input]", str(big))
            assert hub.process is not None
            with PeakRss(hub.process.pid) as rss:
                start = time.perf_counter()
                page.click("main form button[type=submit]")
                page.wait_for_url(f"{hub.url}/{owner}/big/tree/main", timeout=1_800_000)
                upload_s = time.perf_counter() - start
            info = httpx.get(f"{hub.url}/api/models/{owner}/big", params={"blobs": "true"}).json()
            sibling = next(s for s in info["siblings"] if s["rfilename"] == "model.safetensors")
            digest = hashlib.sha256()
            with open(big, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
            assert sibling["lfs"]["sha256"] == digest.hexdigest()
    size_mb = args.size_mb * 1.048576
    print(
        json.dumps(
            {
                "bench": "browser_upload",
                "size_mb": round(size_mb),
                "upload_s": round(upload_s, 1),
                "upload_mb_s": round(size_mb / upload_s, 1),
                "copy_mb_s": round(size_mb / copy_s, 1),
                "ratio_vs_copy": round(copy_s / upload_s, 2),
                "server_peak_rss_mb": round(rss.peak / 1e6),
            }
        )
    )


if __name__ == "__main__":
    main()
