"""Files written into an archive being built: hashed as they are copied, or taken from the previous backup.

Every object of the hub is content-addressed (blobs by sha256, git objects and packs by their own hashes),
so a file of the same name in the previous archive holds the same object: an incremental backup hard-links
it (and takes its recorded hash) instead of copying it again. Across file systems, where a link cannot be
made, it is copied from the previous archive, which is still cheaper than reading storage.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path

from csghub.services.backup.manifest import BackupInvalid, FileEntry, hash_file


class ArchiveWriter:
    def __init__(self, root: Path, previous: Path | None = None, previous_files: dict[str, FileEntry] | None = None):
        self.root = root
        self.previous = previous
        self.previous_files = previous_files or {}
        self._lock = threading.Lock()
        self.entries: dict[str, FileEntry] = {}
        self.stats = {"copied_files": 0, "copied_bytes": 0, "linked_files": 0, "linked_bytes": 0}

    def _target(self, rel: str) -> Path:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _record(self, entry: FileEntry, how: str) -> FileEntry:
        with self._lock:
            self.entries[entry.path] = entry
            self.stats[f"{how}_files"] += 1
            self.stats[f"{how}_bytes"] += entry.size
        return entry

    def link_previous(self, rel: str) -> FileEntry | None:
        """Take `rel` from the previous archive if it has it; None when it does not."""
        known = self.previous_files.get(rel)
        if known is None or self.previous is None:
            return None
        source = self.previous / rel
        try:
            os.link(source, self._target(rel))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            return self.add_file(rel, source, from_previous=False)
        return self._record(known, "linked")

    def add_stream(
        self, rel: str, chunks: Iterable[bytes], *, sha256: str | None = None, size: int | None = None
    ) -> FileEntry:
        """Write a stream, hashing it; with `sha256`/`size`, bytes that are not those fail the backup."""
        digest = hashlib.sha256()
        written = 0
        with open(self._target(rel), "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
        found = digest.hexdigest()
        if (sha256 is not None and found != sha256) or (size is not None and written != size):
            raise BackupInvalid(f"{rel}: storage returned {written} bytes hashing to {found}, not the object itself")
        return self._record(FileEntry(rel, written, found), "copied")

    def add_file(self, rel: str, source: Path, *, from_previous: bool = True, sha256: str | None = None) -> FileEntry:
        """Copy a file of this machine (or link it from the previous archive); with `sha256`, a file whose
        bytes do not hash to it fails the backup."""
        if from_previous:
            linked = self.link_previous(rel)
            if linked is not None:
                return linked
        with open(source, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            digest = hashlib.sha256()
            if size:
                # Hashed from the page cache through a mapping and copied by the kernel (copy_file_range):
                # no pass of the bytes through Python's buffers. Stored objects never change in place.
                with mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) as view:
                    digest.update(view)
            with open(self._target(rel), "wb") as out:
                _copy_range(src.fileno(), out.fileno(), size)
        found = digest.hexdigest()
        if sha256 is not None and found != sha256:
            raise BackupInvalid(f"{rel}: the stored file hashes to {found}, not the object itself")
        return self._record(FileEntry(rel, size, found), "copied")

    def add_bytes(self, rel: str, data: bytes) -> FileEntry:
        return self.add_stream(rel, [data])

    def add_written(self, rel: str) -> FileEntry:
        """Record a file something else already wrote into the archive (the database dump, refs)."""
        size, digest = hash_file(self.root / rel)
        return self._record(FileEntry(rel, size, digest), "copied")

    def add_tree(self, rel: str) -> None:
        """Record every file under a folder something else wrote into the archive."""
        for path in sorted((self.root / rel).rglob("*")):
            if path.is_file():
                self.add_written(path.relative_to(self.root).as_posix())


def _copy_range(src: int, dst: int, size: int) -> None:
    offset = 0
    while offset < size:
        try:
            sent = os.copy_file_range(src, dst, size - offset, offset, offset)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            sent = os.sendfile(dst, src, offset, size - offset)  # a file system without copy_file_range
        if sent == 0:
            raise FileNotFoundError(f"the file shrank while it was copied ({offset} of {size} bytes)")
        offset += sent


def flush_to_disk(root: Path) -> None:
    """Everything written reaches the disk before the archive is named: a crash never leaves a named
    archive with files missing their bytes."""
    os.sync()
    fd = os.open(root.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_partial(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
