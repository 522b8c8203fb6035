"""What a repository's history says about paths: the last commit of each entry of a folder, a path's
own history (following renames), and a revision's commit count, read through `git log` / `git rev-list`.

The walks run in git (C), streamed: the last-commit walk stops as soon as every entry is placed, and
is bounded in commits and in time so that a huge history costs a bounded wait; what it did not reach
is reported, never guessed.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from csghub.core.errors import GitError
from csghub.git.repository import CommitInfo
from csghub.git.runner import git_env, run_git

# One header per commit: record separator, then fields split by unit separators; the subject goes
# last so that a separator inside it cannot shift the other fields.
_FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%s"
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class LastCommits:
    """Entry name -> the newest commit that changed it; `complete` is False when the walk stopped at its
    bound with names still unplaced (those are "older" than what it read)."""

    commits: dict[str, CommitInfo]
    complete: bool
    walked: int


def _commit_from_header(header: bytes) -> CommitInfo:
    sha, parents, name, email, when, subject = header[1:].decode("utf-8", errors="replace").split("\x1f", 5)
    return CommitInfo(
        sha=sha,
        title=subject,
        message=subject,
        author_name=name,
        author_email=email,
        date=datetime.fromtimestamp(int(when or 0), UTC),
        parents=tuple(parents.split()),
    )


def _log_args(sha: str, *extra: str) -> list[str]:
    # quotePath off and -z: names arrive as git stores them, NUL-separated, never C-quoted; literal
    # pathspecs: a path holding `*` or starting with `:` names itself, not a pattern.
    return ["--literal-pathspecs", "-c", "core.quotePath=false", "log", "-z", f"--format={_FORMAT}", *extra, sha]


def last_commits(
    git_dir: Path, sha: str, folder: str, names: set[str], *, max_commits: int, max_seconds: float
) -> LastCommits:
    """The newest commit reachable from `sha` that changed each of `names` (entries of `folder`)."""
    if not names:
        return LastCommits({}, True, 0)
    prefix = f"{folder}/" if folder else ""
    args = _log_args(sha, "--name-only", "--no-renames", f"--max-count={max_commits}")
    args += ["--", folder] if folder else []
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
        bufsize=0,
    )
    # The time bound: past it the walk is killed, its output ends, and what is unplaced stays "older".
    timer = threading.Timer(max_seconds, proc.kill)
    timer.start()
    found: dict[str, CommitInfo] = {}
    current: CommitInfo | None = None
    walked = 0
    pending = b""
    assert proc.stdout is not None
    try:
        while len(found) < len(names):
            chunk = proc.stdout.read(_CHUNK)  # unbuffered: whatever the pipe holds, up to _CHUNK
            if not chunk:
                break
            *tokens, pending = (pending + chunk).split(b"\0")
            for token in tokens:
                if token.startswith(b"\x1e"):
                    current, walked = _commit_from_header(token), walked + 1
                    continue
                path = token.lstrip(b"\n").decode("utf-8", errors="replace")
                if current is None or not path.startswith(prefix):
                    continue
                name = path[len(prefix) :].split("/", 1)[0]
                if name in names and name not in found:
                    found[name] = current
    finally:
        timer.cancel()
        proc.stdout.close()
        proc.kill()
        proc.wait()
    # Every entry was added by some commit, so a walk that ran out of history placed them all.
    return LastCommits(found, len(found) == len(names), walked)


def path_log(git_dir: Path, sha: str, path: str, *, follow: bool, skip: int, limit: int) -> list[CommitInfo]:
    """Commits reachable from `sha` that changed `path` (a file's renames followed), newest first."""
    args = _log_args(sha, f"--skip={skip}", f"--max-count={limit}", *(["--follow"] if follow else []))
    out = run_git(git_dir, *args, "--", path or ".").stdout
    return [_commit_from_header(t.lstrip(b"\n")) for t in out.split(b"\0") if t.lstrip(b"\n").startswith(b"\x1e")]


def commit_count(git_dir: Path, sha: str) -> int:
    out = run_git(git_dir, "rev-list", "--count", sha).stdout.strip()
    try:
        return int(out)
    except ValueError:
        raise GitError(f"git rev-list gave no count: {out[:80]!r}") from None
