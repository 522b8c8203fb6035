"""Leftovers of killed writers: removed when old enough while serving, all of them at start."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from csghub.git.leftovers import leftovers, remove_leftovers


def _bare(tmp_path: Path) -> Path:
    bare = tmp_path / "1.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    inner = [Path(root) / name for root, dirs, files in os.walk(path) for name in dirs + files]
    for each in [*inner, path]:
        os.utime(each, (then, then))


def _leave(bare: Path) -> dict[str, Path]:
    quarantine = bare / "objects" / "tmp_objdir-incoming-Ab12Cd"
    (quarantine / "pack").mkdir(parents=True)
    (quarantine / "pack" / "tmp_pack_x").write_bytes(b"p" * 1000)
    made = {
        "quarantine": quarantine,
        "temp pack": bare / "objects" / "pack" / "tmp_pack_y",
        "loose temp": bare / "objects" / "ab" / "tmp_obj_z",
        "ref lock": bare / "refs" / "heads" / "main.lock",
        "packed-refs lock": bare / "packed-refs.lock",
    }
    for name, path in made.items():
        if name != "quarantine":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * 10)
    return made


def test_leftovers_untouched_for_long_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    bare = _bare(tmp_path)
    made = _leave(bare)
    for name in ("quarantine", "ref lock"):
        _age(made[name], 7200)
    removed = remove_leftovers(bare, older_than=3600)
    assert removed.paths == 2 and removed.bytes == 1010
    assert not made["quarantine"].exists() and not made["ref lock"].exists()
    assert all(made[name].exists() for name in ("temp pack", "loose temp", "packed-refs lock"))


def test_a_quarantine_being_written_counts_as_fresh(tmp_path: Path) -> None:
    bare = _bare(tmp_path)
    made = _leave(bare)
    _age(made["quarantine"], 7200)
    os.utime(made["quarantine"] / "pack" / "tmp_pack_x")  # git is still appending to the pack
    remove_leftovers(bare, older_than=3600)
    assert made["quarantine"].exists()


def test_at_start_every_leftover_goes_and_the_repository_stays_whole(tmp_path: Path) -> None:
    bare = _bare(tmp_path)
    _leave(bare)
    assert len(leftovers(bare)) == 5
    remove_leftovers(bare, older_than=None)
    assert leftovers(bare) == []
    fsck = subprocess.run(["git", "--git-dir", str(bare), "fsck"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert (bare / "HEAD").exists() and (bare / "config").exists()
