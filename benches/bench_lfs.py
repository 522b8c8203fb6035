"""LFS upload and download of one large object through a live hub, against baselines in the same run.

    python -m benches.bench_lfs [--size-mb 1024] [--rounds 3]

Upload baseline A is what any hub must do with an upload, done by one plain Python loop: read the file
in 4 MiB blocks, sha256 each block and write it to a new file on the same disk, then fsync once (read,
hash and write run sequentially in one pass, in one thread; nothing overlaps). The hub's upload is
timed twice: a basic-transfer PUT with curl to the href of a batch answer (plus the verify call), and
`git lfs push` (batch, PUT and verify, as a user runs it). Before every round the stored blob is
removed and a fresh repository asks, so each round writes the whole object again.

Download baseline B is `python -m http.server` serving the same file to curl. The hub's download is
timed with curl on the signed LFS href (what git-lfs fetches), with curl on /resolve (what
huggingface_hub fetches), and with `git lfs fetch` (which also hashes and writes what it receives).

Every rate is the median of `--rounds` rounds, in MB/s (10^6 bytes); every ratio is the median of
the rounds' ratios, each against its baseline timed right before it in the same round, so the drifting
load of a shared machine touches both sides alike (above 1.0: faster than the baseline). The last
line is JSON and keeps the keys of earlier versions (`upload_mb_s` is the curl PUT, `download_mb_s`
the curl GET of the LFS href; the `_vs_copy` ratios are against a plain `shutil.copyfile` +
`os.sync`), plus the server's peak RSS (with its child processes), which must stay under 300 MB
whatever the size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.support.clients import create_repo, git, setup_git_home
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

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


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _copy_hash_fsync(src: Path, dst: Path) -> str:
    """Baseline A: read, hash, write, fsync: sequentially, in one pass, in one thread."""
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while block := fin.read(CHUNK):
            digest.update(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()


def _plain_copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    os.sync()


def _curl(*args: str) -> None:
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", *args], check=True, timeout=900)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class Bench:
    def __init__(self, hub: LiveHub, tmp: Path, src: Path, oid: str, size: int) -> None:
        self.hub = hub
        self.tmp = tmp
        self.src = src
        self.oid = oid
        self.size = size
        self.user, self.token = hub.user()
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.env = setup_git_home(tmp / "home")
        self.repos = 0

    def _fresh_repo(self) -> str:
        """A new repository (which holds no proof yet) and no stored blob: the next upload writes it all."""
        self.repos += 1
        repo = f"{self.user}/bench{self.repos}"
        create_repo(self.hub.url, self.token, repo)
        self.hub.hub.blobs.delete(self.oid)
        return repo

    def _batch(self, repo: str, operation: str) -> dict[str, dict[str, str]]:
        answer = httpx.post(
            f"{self.hub.url}/{repo}.git/info/lfs/objects/batch",
            json={"operation": operation, "transfers": ["basic"], "objects": [{"oid": self.oid, "size": self.size}]},
            headers=self.auth,
            timeout=60,
        )
        answer.raise_for_status()
        return {name: action for name, action in answer.json()["objects"][0]["actions"].items()}

    def _remote(self, repo: str) -> str:
        return f"http://{self.user}:{self.token}@{self.hub.host()}/{repo}.git"

    def upload_curl(self) -> float:
        actions = self._batch(self._fresh_repo(), "upload")

        def put() -> None:
            _curl("-T", str(self.src), actions["upload"]["href"])
            httpx.post(actions["verify"]["href"], json={"oid": self.oid, "size": self.size}).raise_for_status()

        return _timed(put)

    def upload_git_lfs(self) -> float:
        repo = self._fresh_repo()
        work = self.tmp / f"push{self.repos}"
        git("init", "-q", str(work), cwd=self.tmp, env=self.env)
        store = work / ".git" / "lfs" / "objects" / self.oid[:2] / self.oid[2:4]
        store.mkdir(parents=True)
        os.link(self.src, store / self.oid)  # git-lfs reads its own copy; a hard link costs no disk
        git("remote", "add", "origin", self._remote(repo), cwd=work, env=self.env)
        return _timed(lambda: git("lfs", "push", "--object-id", "origin", self.oid, cwd=work, env=self.env))

    def publish(self) -> str:
        """A repository whose main branch references the object, for the downloads."""
        repo = self._fresh_repo()
        actions = self._batch(repo, "upload")
        _curl("-T", str(self.src), actions["upload"]["href"])
        lines = [
            {"key": "header", "value": {"summary": "big"}},
            {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": self.oid, "size": self.size}},
        ]
        body = "".join(json.dumps(line) + "\n" for line in lines)
        httpx.post(
            f"{self.hub.url}/api/models/{repo}/commit/main", content=body, headers=self.auth, timeout=60
        ).raise_for_status()
        return repo

    def download_href(self, repo: str) -> float:
        href = self._batch(repo, "download")["download"]["href"]
        return _timed(lambda: _curl(href))

    def download_resolve(self, repo: str) -> float:
        url = f"{self.hub.url}/{repo}/resolve/main/big.bin"
        return _timed(lambda: _curl("-L", "-H", f"Authorization: Bearer {self.token}", url))

    def download_git_lfs(self, repo: str, round_no: int) -> float:
        work = self.tmp / f"fetch{round_no}"
        env = {**self.env, "GIT_LFS_SKIP_SMUDGE": "1"}
        git("clone", "-q", self._remote(repo), str(work), cwd=self.tmp, env=env)
        elapsed = _timed(lambda: git("lfs", "fetch", "origin", "main", cwd=work, env=env))
        fetched = work / ".git" / "lfs" / "objects" / self.oid[:2] / self.oid[2:4] / self.oid
        assert fetched.stat().st_size == self.size, "git lfs fetch did not fetch the object"
        shutil.rmtree(work)
        return elapsed


@contextmanager
def _http_server(directory: Path) -> Iterator[str]:
    """Baseline B: Python's own file server (socket.sendfile), serving the directory; yields its URL."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(directory), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _listening(port), "http.server to listen", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def _rate(size: int, seconds: list[float]) -> float:
    return size / 1e6 / statistics.median(seconds)


def _paired(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """The median over rounds of each round's ratio to the baseline timed next to it."""
    return statistics.median(base / own for base, own in zip(times[baseline], times[name], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    rounds = args.rounds
    with tempfile.TemporaryDirectory(prefix="csghub-bench-lfs-", dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "files").mkdir()
        src = tmp / "files" / "object.bin"
        oid = _make_file(src, size)
        copy = tmp / "copy.bin"

        times: dict[str, list[float]] = {name: [] for name in ("copy", "baseline_a", "baseline_b")}
        with live_hub() as hub:
            bench = Bench(hub, tmp, src, oid, size)
            assert hub.process is not None
            with PeakRss(hub.process.pid) as rss:
                for _ in range(rounds):
                    times["copy"].append(_timed(lambda: _plain_copy(src, copy)))
                    copy.unlink()
                    start = time.perf_counter()
                    assert _copy_hash_fsync(src, copy) == oid
                    times["baseline_a"].append(time.perf_counter() - start)
                    copy.unlink()
                    times.setdefault("upload_curl", []).append(bench.upload_curl())
                    times.setdefault("upload_git_lfs", []).append(bench.upload_git_lfs())
                repo = bench.publish()
                with _http_server(tmp / "files") as plain:
                    for n in range(rounds):  # each round next to its baseline: the machine's load drifts
                        times["baseline_b"].append(_timed(lambda: _curl(f"{plain}/{src.name}")))
                        times.setdefault("download_href", []).append(bench.download_href(repo))
                        times.setdefault("download_resolve", []).append(bench.download_resolve(repo))
                        times.setdefault("download_git_lfs", []).append(bench.download_git_lfs(repo, n))

        rate = {name: _rate(size, seconds) for name, seconds in times.items()}
        ratio = {name: _paired(times, name, "baseline_a") for name in ("upload_curl", "upload_git_lfs")}
        ratio.update({name: _paired(times, name, "baseline_b") for name in ("download_href", "download_resolve")})
        ratio["download_git_lfs"] = _paired(times, "download_git_lfs", "baseline_b")
        print(f"{args.size_mb} MiB, median of {rounds} rounds (MB/s; ratio to the baseline)", file=sys.stderr)
        print(f"  baseline A  read+sha256+write+fsync  {rate['baseline_a']:8.1f}", file=sys.stderr)
        for name in ("upload_curl", "upload_git_lfs"):
            print(f"  {name:<35}{rate[name]:8.1f}  {ratio[name]:.2f}x A", file=sys.stderr)
        print(f"  baseline B  http.server -> curl      {rate['baseline_b']:8.1f}", file=sys.stderr)
        for name in ("download_href", "download_resolve", "download_git_lfs"):
            print(f"  {name:<35}{rate[name]:8.1f}  {ratio[name]:.2f}x B", file=sys.stderr)
        print(
            json.dumps(
                {
                    "bench": "lfs",
                    "size_mb": round(size / 1e6),
                    "rounds": rounds,
                    "disk_copy_mb_s": round(rate["copy"], 1),
                    "upload_mb_s": round(rate["upload_curl"], 1),
                    "download_mb_s": round(rate["download_href"], 1),
                    "upload_vs_copy": round(rate["upload_curl"] / rate["copy"], 2),
                    "download_vs_copy": round(rate["download_href"] / rate["copy"], 2),
                    "baseline_a_mb_s": round(rate["baseline_a"], 1),
                    "baseline_b_mb_s": round(rate["baseline_b"], 1),
                    "upload_git_lfs_mb_s": round(rate["upload_git_lfs"], 1),
                    "download_resolve_mb_s": round(rate["download_resolve"], 1),
                    "download_git_lfs_mb_s": round(rate["download_git_lfs"], 1),
                    "upload_vs_a": round(ratio["upload_curl"], 2),
                    "upload_git_lfs_vs_a": round(ratio["upload_git_lfs"], 2),
                    "download_vs_b": round(ratio["download_href"], 2),
                    "download_resolve_vs_b": round(ratio["download_resolve"], 2),
                    "download_git_lfs_vs_b": round(ratio["download_git_lfs"], 2),
                    "server_peak_rss_mb": round(rss.peak_mb, 1),
                    "spread_s": {name: [round(s, 2) for s in seconds] for name, seconds in times.items()},
                }
            )
        )


if __name__ == "__main__":
    main()
