"""LocalBlobStore: objects as files under the data directory, written to a temp file, fsynced, renamed."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from csghub.core.errors import BlobNotFound, InvalidArgument
from csghub.storage.base import HashingCounter, blob_key, check_stream, iter_file, validate_oid


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileSpan:
    """Bytes [offset, offset + count) of an open object file: iterated in pieces, or, by a server that
    can, sent from the file itself (`file`, `offset`, `count`) without reading it into memory."""

    def __init__(self, fh: BinaryIO, start: int, end: int | None) -> None:
        self.file = fh
        self.offset = start
        self.count = max((os.fstat(fh.fileno()).st_size if end is None else end) - start, 0)
        self._pieces: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._pieces is None:
            self.file.seek(self.offset)
            self._pieces = iter_file(self.file, self.count)
        try:
            return next(self._pieces)
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        self.file.close()


class LocalBlobStore:
    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = root
        self.uploads = tmp_dir / "uploads"
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)

    def _path(self, oid: str) -> Path:
        return self.root / blob_key(validate_oid(oid))

    def exists(self, oid: str) -> bool:
        return self._path(oid).is_file()

    def stat(self, oid: str) -> int | None:
        try:
            return self._path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def _publish(self, tmp: Path, oid: str) -> None:
        final = self._path(oid)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    def _write_verified(self, oid: str, size: int, chunks: Iterable[bytes]) -> None:
        fd, name = tempfile.mkstemp(dir=self.uploads, prefix=f"{oid[:16]}.")
        tmp = Path(name)
        try:
            counter = HashingCounter()
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    counter.update(chunk)
                    if counter.size > size:
                        break
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            counter.check(oid, size)
            self._publish(tmp, oid)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def put(self, oid: str, size: int, chunks: Iterable[bytes]) -> None:
        validate_oid(oid)
        if self.stat(oid) == size:
            check_stream(oid, size, chunks)
        else:
            self._write_verified(oid, size, chunks)

    def put_verified_file(self, oid: str, size: int, path: Path) -> None:
        validate_oid(oid)
        if path.stat().st_size != size:
            raise InvalidArgument(f"Object {oid}: the file holds {path.stat().st_size} bytes, not {size}")
        try:
            self._publish(path, oid)  # a rename: its writer already hashed and fsynced every byte
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with open(path, "rb") as fh:  # another disk: copied, and so hashed again
                self.put(oid, size, iter_file(fh))
            path.unlink()

    def read(self, oid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            fh = open(self._path(oid), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise BlobNotFound(f"Object {oid} is not in the blob store") from None
        return FileSpan(fh, start, end)

    def delete(self, oid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(oid).unlink()

    def local_path(self, oid: str) -> Path | None:
        path = self._path(oid)
        return path if path.is_file() else None

    def download_url(self, oid: str, ttl: int) -> str | None:
        return None

    def upload_url(self, oid: str, size: int, ttl: int, upload_id: str) -> str | None:
        return None

    def _part_dir(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise InvalidArgument(f"Invalid upload id '{upload_id}'")
        return self.uploads / f"mp-{upload_id}"

    def create_multipart(self, oid: str, upload_id: str) -> str:
        self._part_dir(upload_id).mkdir(parents=True, exist_ok=True)
        return ""

    def part_urls(self, upload_id: str, handle: str, count: int, ttl: int) -> list[str] | None:
        return None

    def put_part(self, upload_id: str, number: int, chunks: Iterable[bytes]) -> str:
        part_dir = self._part_dir(upload_id)
        if not part_dir.is_dir():
            raise BlobNotFound(f"Upload {upload_id} does not exist or was already completed")
        md5 = hashlib.md5(usedforsecurity=False)
        fd, name = tempfile.mkstemp(dir=part_dir, prefix=".part.")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    md5.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(name, part_dir / f"{number:06d}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        return md5.hexdigest()

    def complete_multipart(
        self, oid: str, size: int, upload_id: str, handle: str, etags: list[tuple[int, str]]
    ) -> None:
        part_dir = self._part_dir(upload_id)
        numbers = sorted(n for n, _ in etags)
        if numbers != list(range(1, len(numbers) + 1)):
            raise InvalidArgument("Multipart completion must list parts 1..N without gaps")
        missing = [n for n in numbers if not (part_dir / f"{n:06d}").is_file()]
        if missing:
            raise InvalidArgument(f"Multipart upload {upload_id} lacks parts {missing[:10]}")

        def chunks() -> Iterator[bytes]:
            for n in numbers:
                with open(part_dir / f"{n:06d}", "rb") as fh:
                    yield from iter_file(fh)

        if self.stat(validate_oid(oid)) == size:
            check_stream(oid, size, chunks())
        else:
            self._write_verified(oid, size, chunks())
        shutil.rmtree(part_dir, ignore_errors=True)

    def abort_multipart(self, upload_id: str, handle: str) -> None:
        shutil.rmtree(self._part_dir(upload_id), ignore_errors=True)

    def verify_upload(self, oid: str, size: int, upload_id: str) -> None:
        # No direct uploads here: bytes reach this store only through the hub (put, parts).
        raise InvalidArgument(f"Object {oid} of {size} bytes was not uploaded")
