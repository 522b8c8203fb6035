"""One contract for every BlobStore backend: local disk and S3 (a real S3-compatible server, moto)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csghub.core.errors import BlobNotFound, InvalidArgument
from csghub.storage.base import BlobStore
from csghub.storage.local import LocalBlobStore
from csghub.storage.s3 import S3BlobStore
from tests.support.s3 import MotoServer


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    server: MotoServer = request.getfixturevalue("moto_server")
    s3 = S3BlobStore(bucket=f"b{secrets.token_hex(6)}", **server.credentials())
    s3.ensure_bucket()
    return s3


def _blob(size: int) -> tuple[bytes, str]:
    data = os.urandom(size)
    return data, hashlib.sha256(data).hexdigest()


def _chunks(data: bytes, size: int = 100_000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_store_put_then_read_whole_and_ranges(store: BlobStore) -> None:
    data, oid = _blob(1_234_567)
    assert not store.exists(oid) and store.stat(oid) is None
    store.put(oid, len(data), _chunks(data))
    assert store.exists(oid) and store.stat(oid) == len(data)
    assert b"".join(store.read(oid)) == data
    assert b"".join(store.read(oid, 1000, 2000)) == data[1000:2000]
    assert b"".join(store.read(oid, len(data) - 10)) == data[-10:]


def test_store_put_empty_object(store: BlobStore) -> None:
    oid = hashlib.sha256(b"").hexdigest()
    store.put(oid, 0, iter([]))
    assert store.stat(oid) == 0 and b"".join(store.read(oid)) == b""


def test_store_takes_a_verified_file_and_the_file_is_gone(store: BlobStore, tmp_path: Path) -> None:
    data, oid = _blob(300_001)
    path = tmp_path / "download"
    path.write_bytes(data)
    store.put_verified_file(oid, len(data), path)
    assert not path.exists() and store.stat(oid) == len(data)
    assert b"".join(store.read(oid)) == data
    short = tmp_path / "short"
    short.write_bytes(data[:-1])
    other = hashlib.sha256(data[:-1] + b"?").hexdigest()
    with pytest.raises(InvalidArgument):  # a size that is not the listed one is refused by every store
        store.put_verified_file(other, len(data), short)
    assert not store.exists(other)


def test_store_rejects_bytes_that_do_not_match_oid(store: BlobStore) -> None:
    data, _ = _blob(50_000)
    wrong_oid = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(InvalidArgument, match="Checksum mismatch"):
        store.put(wrong_oid, len(data), _chunks(data))
    assert not store.exists(wrong_oid)


@pytest.mark.parametrize("claimed_delta", [-1, 1])
def test_store_rejects_wrong_size(store: BlobStore, claimed_delta: int) -> None:
    data, oid = _blob(70_000)
    with pytest.raises(InvalidArgument, match="Size mismatch"):
        store.put(oid, len(data) + claimed_delta, _chunks(data))
    assert not store.exists(oid)


def test_store_read_of_missing_object_is_blob_not_found(store: BlobStore) -> None:
    _, oid = _blob(10)
    with pytest.raises(BlobNotFound):
        b"".join(store.read(oid))


def test_store_delete_removes_object(store: BlobStore) -> None:
    data, oid = _blob(1000)
    store.put(oid, len(data), iter([data]))
    store.delete(oid)
    assert not store.exists(oid)
    store.delete(oid)  # idempotent


def test_store_rejects_invalid_oid(store: BlobStore) -> None:
    with pytest.raises(InvalidArgument):
        store.stat("../../etc/passwd")


def _upload_parts(store: BlobStore, upload_id: str, handle: str, parts: list[bytes]) -> list[tuple[int, str]]:
    urls = store.part_urls(upload_id, handle, len(parts), 600)
    etags = []
    for number, part in enumerate(parts, start=1):
        if urls is None:
            etags.append((number, store.put_part(upload_id, number, iter([part]))))
        else:
            r = httpx.put(urls[number - 1], content=part)
            assert r.status_code == 200, r.text
            etags.append((number, r.headers["etag"]))
    return etags


def test_store_multipart_upload_assembles_and_verifies(store: BlobStore) -> None:
    part = 5 * 1024 * 1024
    data, oid = _blob(2 * part + 12345)
    upload_id = secrets.token_hex(8)
    handle = store.create_multipart(oid, upload_id)
    parts = [data[i : i + part] for i in range(0, len(data), part)]
    etags = _upload_parts(store, upload_id, handle, parts)
    assert not store.exists(oid)
    store.complete_multipart(oid, len(data), upload_id, handle, etags)
    assert store.stat(oid) == len(data)
    assert hashlib.sha256(b"".join(store.read(oid))).hexdigest() == oid


def test_store_multipart_with_wrong_bytes_is_never_visible(store: BlobStore) -> None:
    part = 5 * 1024 * 1024
    data, oid = _blob(part + 10)
    upload_id = secrets.token_hex(8)
    handle = store.create_multipart(oid, upload_id)
    tampered = [data[:part], b"X" * 10]
    etags = _upload_parts(store, upload_id, handle, tampered)
    with pytest.raises(InvalidArgument, match="Checksum mismatch"):
        store.complete_multipart(oid, len(data), upload_id, handle, etags)
    assert not store.exists(oid)


def test_store_direct_upload_is_verified_before_visible(store: BlobStore) -> None:
    data, oid = _blob(300_000)
    url = store.upload_url(oid, len(data), 600, "u1")
    if url is None:
        # The local store has no direct URLs: the hub receives the bytes itself through put(), and a
        # verify never stands for an upload that did not happen, even of a stored object.
        assert store.download_url(oid, 600) is None
        with pytest.raises(InvalidArgument):
            store.verify_upload(oid, len(data), "u1")
        store.put(oid, len(data), iter([data]))
        with pytest.raises(InvalidArgument):
            store.verify_upload(oid, len(data), "u1")
        return
    assert httpx.put(url, content=b"not the right bytes").status_code == 200
    with pytest.raises(InvalidArgument):
        store.verify_upload(oid, len(data), "u1")
    assert not store.exists(oid)
    assert httpx.put(url, content=data).status_code == 200
    store.verify_upload(oid, len(data), "u1")
    download = store.download_url(oid, 600)
    assert download is not None and httpx.get(download).content == data
    # Stored now, a new upload is still hashed: another upload's verify never vouches for it.
    with pytest.raises(InvalidArgument, match="not uploaded"):
        store.verify_upload(oid, len(data), "u2")
    second = store.upload_url(oid, len(data), 600, "u2")
    assert second is not None and httpx.put(second, content=b"x" * len(data)).status_code == 200
    with pytest.raises(InvalidArgument, match="Checksum mismatch"):
        store.verify_upload(oid, len(data), "u2")
    assert httpx.put(second, content=data).status_code == 200
    store.verify_upload(oid, len(data), "u2")
    assert b"".join(store.read(oid)) == data


def test_store_upload_of_a_stored_object_is_still_verified(store: BlobStore) -> None:
    data, oid = _blob(200_000)
    store.put(oid, len(data), iter([data]))
    with pytest.raises(InvalidArgument, match="Checksum mismatch"):
        store.put(oid, len(data), iter([b"y" * len(data)]))
    with pytest.raises(InvalidArgument, match="Size mismatch"):
        store.put(oid, len(data), iter([data[:-1]]))
    store.put(oid, len(data), iter([data]))
    upload_id = secrets.token_hex(8)
    handle = store.create_multipart(oid, upload_id)
    etags = _upload_parts(store, upload_id, handle, [b"z" * len(data)])
    with pytest.raises(InvalidArgument, match="Checksum mismatch"):
        store.complete_multipart(oid, len(data), upload_id, handle, etags)
    assert b"".join(store.read(oid)) == data
