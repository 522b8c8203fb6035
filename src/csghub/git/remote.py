"""Fetching another server's git history into a bare repository of ours (mirrors, the pull-through cache).

The caller hands in the environment that pins the connection (net/client.git_connection_config): the
checked address, no redirects, http(s) only, the token as a header and never in the URL or argv.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from csghub.git.runner import run_git

# Branches and tags as the upstream has them; what it deleted goes here too.
MIRROR_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# A stalled upstream ends the fetch (under 1 KB/s for a minute) instead of holding its callers forever.
_STALL = ("-c", "http.lowSpeedLimit=1024", "-c", "http.lowSpeedTime=60")


def fetch_refs(git_dir: Path, url: str, env: Mapping[str, str]) -> None:
    """Make the repository's branches and tags those of `url` (objects verified by git's fsck)."""
    run_git(
        git_dir,
        *_STALL,
        "-c",
        "fetch.fsckObjects=true",
        "fetch",
        "--quiet",
        "--prune",
        "--no-write-fetch-head",
        "--no-auto-gc",
        url,
        *MIRROR_REFSPECS,
        env=env,
    )


def remote_default_branch(git_dir: Path, url: str, env: Mapping[str, str]) -> str | None:
    """The branch the upstream's HEAD names, or None when it names none."""
    out = run_git(git_dir, *_STALL, "ls-remote", "--symref", url, "HEAD", env=env).stdout.decode(errors="replace")
    for line in out.splitlines():
        target, _, name = line.partition("\t")
        if name == "HEAD" and target.startswith("ref: refs/heads/"):
            return target.removeprefix("ref: refs/heads/")
    return None
