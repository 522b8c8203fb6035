"""The one place the hub starts git programs: argv lists, never a shell, errors as GitError."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from csghub.core.errors import GitError

# Git must never prompt, read the user's config, or pick up a terminal.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "LC_ALL": "C",
    # Pushed objects pass git's fsck in every repository, also in those made before receive.fsckObjects
    # joined their config; the API's commits pass the same checker (quarantine.py).
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "receive.fsckObjects",
    "GIT_CONFIG_VALUE_0": "true",
    # A push's write lock lasts until receive-pack exits; its own `gc --auto` would prolong that, and
    # the hub packs the repository after the push anyway (services/pushes.py).
    "GIT_CONFIG_KEY_1": "receive.autogc",
    "GIT_CONFIG_VALUE_1": "false",
}


# Inside a pre-receive hook, pushed objects live in a quarantine directory named only by these.
_QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _QUARANTINE_VARS}
    env.update(_BASE_ENV)
    if extra:
        env.update(extra)
    return env


def run_git(
    git_dir: Path,
    *args: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=input,
        capture_output=True,
        env=git_env(env),
        check=False,
    )
    if check and proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise GitError(f"git {args[0]} failed: {stderr}", stderr=stderr)
    return proc


async def spawn_git(git_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> asyncio.subprocess.Process:
    """Start a git program whose stdin and stdout the caller streams."""
    return await asyncio.create_subprocess_exec(
        "git",
        *args,
        str(git_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(env),
    )
