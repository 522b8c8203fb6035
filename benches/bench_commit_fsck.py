"""What git's fsck costs a commit made through the API: the same commit of many files written straight
into the repository (no check, as before) versus through the quarantine and `git index-pack --strict`.

    python -m benches.bench_commit_fsck [--files 2000] [--large 10] [--large-size 1048576] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from csghub.git.repository import FileChange, GitRepo


def _files(count: int, large: int, large_size: int) -> list[tuple[str, bytes]]:
    small = [(f"dir{i % 40}/file-{i}.txt", f"file {i}\n".encode() * 40) for i in range(count)]
    return small + [(f"weights/part-{i}.bin", os.urandom(large_size)) for i in range(large)]


def _commit(repo: GitRepo, parent: str | None, files: list[tuple[str, bytes]]) -> str:
    changes = [FileChange(path, repo.write_blob(data)) for path, data in files]
    return repo.create_commit(
        parent=parent, changes=changes, deleted_folders=[], message="bench", author_name="b", author_email="b@x"
    )


def _direct(git: GitRepo, files: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    _commit(git, None, files)
    return time.perf_counter() - start


def _checked(git: GitRepo, files: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    with git.quarantined() as staged:
        sha = _commit(staged, None, files)
        staged.admit_objects(sha)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--large", type=int, default=10)
    parser.add_argument("--large-size", type=int, default=1024 * 1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    direct: list[float] = []
    checked: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            # Fresh content each round so nothing is already in the repository.
            files = _files(args.files, args.large, args.large_size)
            files = [(p, d + str(r).encode()) for p, d in files]
            direct.append(_direct(GitRepo.init_bare(Path(tmp) / f"direct-{r}.git"), files))
            checked.append(_checked(GitRepo.init_bare(Path(tmp) / f"checked-{r}.git"), files))
    best_direct, best_checked = min(direct), min(checked)
    print(
        json.dumps(
            {
                "files": args.files + args.large,
                "bytes": args.files * 360 + args.large * args.large_size,
                "direct_s": round(best_direct, 3),
                "checked_s": round(best_checked, 3),
                "ratio": round(best_checked / best_direct, 2),
                "added_s": round(best_checked - best_direct, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
