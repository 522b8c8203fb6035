"""Downloading a repository snapshot from the hub into a local directory that jobs share, once: under a
lock, into a temporary directory renamed into place when complete, so no job sees half a model and
concurrent jobs download once. Used by the finetune worker (serve_transformers keeps its own, which also
merges adapters). Imports nothing from csghub; HF_ENDPOINT and HF_TOKEN come from the environment."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path


class DownloadError(RuntimeError):
    pass


def fetch(repo: str, revision: str, local_dir: Path, say: Callable[[str], None]) -> None:
    """Make `local_dir` hold `repo` at `revision` unless it does."""
    if local_dir.is_dir():
        say(f"{repo}@{revision} is already in {local_dir}")
        return
    local_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{local_dir}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if local_dir.is_dir():
            say(f"{repo}@{revision} was downloaded by another job")
            return
        for stale in local_dir.parent.glob(f"{local_dir.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a job that died mid-download
        partial = local_dir.with_name(f"{local_dir.name}.partial-{os.getpid()}")
        try:
            download(repo, revision, partial, say)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, local_dir)


def download(repo: str, revision: str, target: Path, say: Callable[[str], None]) -> None:
    # huggingface_hub reads these at import; in case it was imported already (the process starts offline),
    # the switch is also turned off where it is read, and the endpoint passed explicitly.
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import constants, snapshot_download

    constants.HF_HUB_OFFLINE = False
    endpoint, token = os.environ.get("HF_ENDPOINT"), os.environ.get("HF_TOKEN")
    say(f"downloading {repo}@{revision} from {endpoint or 'the hub'}")
    started = time.monotonic()
    try:
        snapshot_download(repo, revision=revision, local_dir=target, endpoint=endpoint, token=token)
    except Exception as exc:  # the reason, in words, for result.json
        raise DownloadError(f"could not download {repo}@{revision}: {type(exc).__name__}: {exc}") from None
    finally:
        constants.HF_HUB_OFFLINE = True
    shutil.rmtree(target / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    say(f"downloaded {size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
