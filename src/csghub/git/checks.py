"""Read-only checks of repositories and of the git programs themselves, for `csghub doctor`."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from csghub.git.runner import git_env, run_git

# "error: refs/heads/main: invalid sha1 pointer 0123...": a ref that names a missing object or holds garbage.
_REF_ERROR = re.compile(r"^error: ((?:refs/|HEAD)\S*): (.+)$")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class FsckResult:
    ok: bool
    # Ref -> what is wrong with it, as git says it.
    bad_refs: dict[str, str]
    # Every other complaint, one line each (missing or corrupt objects, broken links).
    errors: tuple[str, ...]


def fsck(git_dir: Path, *, connectivity_only: bool = False) -> FsckResult:
    """`git fsck` of a bare repository (dangling objects are no fault; notices and warnings are not errors)."""
    args = ["fsck", "--no-dangling", "--no-progress"]
    if connectivity_only:
        args.append("--connectivity-only")
    proc = run_git(git_dir, *args, check=False)
    if proc.returncode == 0:
        return FsckResult(True, {}, ())
    bad_refs: dict[str, str] = {}
    errors: list[str] = []
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("notice:", "warning", "Checking ")):
            continue
        match = _REF_ERROR.match(line)
        if match:
            bad_refs.setdefault(match[1], match[2])
        elif line not in errors:
            errors.append(line)
    if not bad_refs and not errors:
        errors.append(f"git fsck exited with status {proc.returncode}")
    return FsckResult(False, bad_refs, tuple(errors))


def tool_version(*argv: str) -> tuple[str, tuple[int, ...]] | None:
    """A git program's first output line and its version numbers; None when it does not run."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, env=git_env(), timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = proc.stdout.decode(errors="replace").strip().splitlines()[:1]
    if proc.returncode != 0 or not line:
        return None
    match = _VERSION.search(line[0])
    numbers = tuple(int(part) for part in match.groups() if part is not None) if match else ()
    return line[0], numbers


def branch_commit(git_dir: Path, branch: str) -> str | None:
    """The commit a branch names; None when the branch is absent or names no readable commit."""
    proc = run_git(git_dir, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
    sha = proc.stdout.decode(errors="replace").strip()
    return sha if proc.returncode == 0 and sha else None


def ref_exists(git_dir: Path, ref: str) -> bool:
    """Whether the ref is there at all (loose or packed), whatever it names."""
    return (
        run_git(git_dir, "show-ref", "--verify", "--quiet", ref, check=False).returncode == 0
        or (git_dir / ref).is_file()
    )


def readable_tips(git_dir: Path) -> list[str]:
    """The objects the refs name that the repository has (broken refs are fsck's to report)."""
    listed = run_git(git_dir, "for-each-ref", "--format=%(objectname)", check=False).stdout.split()
    if not listed:
        return []
    check = run_git(
        git_dir, "cat-file", "--batch-check=%(objectname) %(objecttype)", input=b"\n".join(set(listed)) + b"\n"
    )
    return sorted(
        fields[0].decode()
        for fields in (line.split() for line in check.stdout.splitlines())
        if fields[-1] != b"missing"
    )
