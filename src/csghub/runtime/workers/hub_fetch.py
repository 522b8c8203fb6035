"""Downloading a repository snapshot from the hub into a local directory that workers share, once: under a
lock, into a temporary directory renamed into place when complete, so no worker sees half a model and
concurrent workers download once. Used by the endpoint launchers (which may merge an adapter into the
directory first) and the finetune worker. Imports nothing from csghub; HF_ENDPOINT and HF_TOKEN come from
the environment."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path


class DownloadError(RuntimeError):
    pass


def fetch(repo: str, revision: str, local_dir: Path, say: Callable[[str], None], *, repo_type: str = "model") -> None:
    """Make `local_dir` hold `repo` at `revision` unless it does."""
    fill = lambda target: download(repo, revision, target, say, repo_type=repo_type)  # noqa: E731
    prepare_once(local_dir, f"{repo}@{revision}", say, fill)


def prepare_once(local_dir: Path, what: str, say: Callable[[str], None], fill: Callable[[Path], None]) -> None:
    """Make `local_dir` exist, filled by `fill(partial)` into a private partial directory that is renamed
    into place only once `fill` returned; a partial left by a worker that died is removed first."""
    if local_dir.is_dir():
        say(f"{what} is already in {local_dir}")
        return
    local_dir.parent.mkdir(parents=True, exist_ok=True)
    # Hidden: a notebook's checkout lies in the folder its user browses.
    with open(local_dir.with_name(f".{local_dir.name}.lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if local_dir.is_dir():
            say(f"{what} was downloaded by another worker")
            return
        for stale in local_dir.parent.glob(f"{local_dir.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        partial = local_dir.with_name(f"{local_dir.name}.partial-{os.getpid()}")
        try:
            fill(partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, local_dir)


def download(repo: str, revision: str, target: Path, say: Callable[[str], None], *, repo_type: str = "model") -> None:
    # huggingface_hub reads these at import; in case it was imported already (the process starts offline),
    # the switch is also turned off where it is read, and the endpoint passed explicitly.
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import constants, snapshot_download

    constants.HF_HUB_OFFLINE = False
    endpoint, token = os.environ.get("HF_ENDPOINT"), os.environ.get("HF_TOKEN")
    say(f"downloading {repo_type} {repo}@{revision} from {endpoint or 'the hub'}")
    started = time.monotonic()
    try:
        snapshot_download(
            repo, revision=revision, repo_type=repo_type, local_dir=target, endpoint=endpoint, token=token
        )
    except Exception as exc:  # the reason, in words, for the caller's log or result
        raise DownloadError(f"could not download {repo}@{revision}: {type(exc).__name__}: {exc}") from None
    finally:
        constants.HF_HUB_OFFLINE = True
    shutil.rmtree(target / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    say(f"downloaded {size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
