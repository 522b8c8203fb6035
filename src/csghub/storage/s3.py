"""S3BlobStore: objects in an S3-compatible bucket; clients move bytes over presigned URLs.

Uploads land under an `incoming/` key and are hashed back from the bucket before a server-side copy
publishes them under `lfs/`, so a wrong or partial upload is never visible under its oid.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.client import Config as BotoConfig
from botocore.exceptions import ClientError

from csghub.core.errors import BlobNotFound, HubError, InvalidArgument
from csghub.storage.base import (
    READ_CHUNK,
    HashingCounter,
    blob_key,
    check_stream,
    check_upload_id,
    iter_file,
    validate_oid,
)

log = logging.getLogger(__name__)

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


class StorageError(HubError):
    status = 502
    code = "StorageError"


def _translate(exc: ClientError, what: str) -> HubError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in _NOT_FOUND:
        return BlobNotFound(f"{what} is not in the blob store")
    return StorageError(f"Object storage failed on {what}: {code or exc}")


class S3BlobStore:
    def __init__(
        self,
        *,
        bucket: str,
        endpoint: str = "",
        region: str = "us-east-1",
        access_key: str = "",
        secret_key: str = "",
        prefix: str = "",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
        self._allow_browser_uploads()

    def _allow_browser_uploads(self) -> None:
        """The portal sends LFS parts from the page straight to presigned URLs, a cross-origin request:
        the bucket must allow it and show the browser each part's ETag. The presigned signature, not
        the origin, is what grants access, so any origin may be allowed."""
        rules = {
            "CORSRules": [
                {
                    "AllowedOrigins": ["*"],
                    "AllowedMethods": ["GET", "HEAD", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        }
        try:
            self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration=rules)
        except ClientError as exc:
            # A managed bucket may forbid it; everything but uploads from the portal still works.
            log.warning(
                "could not set CORS rules on bucket %s (%s): set them so the portal can upload", self.bucket, exc
            )

    def _key(self, oid: str) -> str:
        return f"{self.prefix}lfs/{blob_key(validate_oid(oid))}"

    def _incoming(self, name: str) -> str:
        return f"{self.prefix}incoming/{name}"

    def stat(self, oid: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(oid))
        except ClientError as exc:
            err = _translate(exc, f"object {oid}")
            if isinstance(err, BlobNotFound):
                return None
            raise err from None
        return int(head["ContentLength"])

    def exists(self, oid: str) -> bool:
        return self.stat(oid) is not None

    def put_verified_file(self, oid: str, size: int, path: Path) -> None:
        with open(path, "rb") as fh:
            self.put(oid, size, iter_file(fh))
        path.unlink()

    def put(self, oid: str, size: int, chunks: Iterable[bytes]) -> None:
        """Upload a stream the hub received itself, as a multipart upload verified on the way."""
        validate_oid(oid)
        if self.stat(oid) == size:
            check_stream(oid, size, chunks)
            return
        key = self._incoming(f"put-{oid}-{uuid.uuid4().hex}")
        counter = HashingCounter()
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        parts: list[dict[str, Any]] = []
        buffer = bytearray()
        part_size = 8 * READ_CHUNK
        try:
            for chunk in chunks:
                counter.update(chunk)
                if counter.size > size:
                    break
                buffer += chunk
                if len(buffer) >= part_size:
                    parts.append(self._upload_part(key, upload["UploadId"], len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            counter.check(oid, size)
            if buffer or not parts:
                parts.append(self._upload_part(key, upload["UploadId"], len(parts) + 1, bytes(buffer)))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
            raise
        # The bytes were hashed on their way in; publishing is a copy of what was written.
        self._publish(key, oid, etag=None)

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        out = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": out["ETag"]}

    def _publish(self, key: str, oid: str, etag: str | None) -> None:
        source: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        extra = {"CopySourceIfMatch": etag} if etag else {}
        try:
            # Managed copy: multipart server-side copy for objects over 5 GB.
            self.client.copy(source, self.bucket, self._key(oid), ExtraArgs=extra or None)
        except ClientError as exc:
            raise _translate(exc, f"object {oid}") from None
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def read(self, oid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(oid)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self.client.get_object(**kwargs)["Body"]
        except ClientError as exc:
            raise _translate(exc, f"object {oid}") from None
        return self._stream(body)

    @staticmethod
    def _stream(body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def delete(self, oid: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(oid))

    def local_path(self, oid: str) -> Path | None:
        return None

    def download_url(self, oid: str, ttl: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(oid)}, ExpiresIn=ttl
            )
        )

    def _basic_key(self, oid: str, upload_id: str) -> str:
        # One key per upload: a verify hashes the bytes of its own upload, never someone else's.
        return self._incoming(f"basic-{validate_oid(oid)}-{check_upload_id(upload_id)}")

    def upload_url(self, oid: str, size: int, ttl: int, upload_id: str) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": self._basic_key(oid, upload_id)}, ExpiresIn=ttl
            )
        )

    def create_multipart(self, oid: str, upload_id: str) -> str:
        out = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._incoming(f"mp-{upload_id}"))
        return str(out["UploadId"])

    def part_urls(self, upload_id: str, handle: str, count: int, ttl: int) -> list[str] | None:
        key = self._incoming(f"mp-{upload_id}")
        return [
            str(
                self.client.generate_presigned_url(
                    "upload_part",
                    Params={"Bucket": self.bucket, "Key": key, "UploadId": handle, "PartNumber": n},
                    ExpiresIn=ttl,
                )
            )
            for n in range(1, count + 1)
        ]

    def put_part(self, upload_id: str, number: int, chunks: Iterable[bytes]) -> str:
        raise InvalidArgument("Parts go straight to object storage on the S3 backend")

    def complete_multipart(
        self, oid: str, size: int, upload_id: str, handle: str, etags: list[tuple[int, str]]
    ) -> None:
        key = self._incoming(f"mp-{upload_id}")
        parts = [{"PartNumber": n, "ETag": etag if etag.startswith('"') else f'"{etag}"'} for n, etag in sorted(etags)]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=handle, MultipartUpload={"Parts": parts}
            )
        except ClientError as exc:
            raise InvalidArgument(f"Could not complete multipart upload: {exc}") from None
        self._verify_and_publish(key, oid, size)

    def abort_multipart(self, upload_id: str, handle: str) -> None:
        with contextlib.suppress(ClientError):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._incoming(f"mp-{upload_id}"), UploadId=handle
            )

    def verify_upload(self, oid: str, size: int, upload_id: str) -> None:
        if not upload_id:
            raise InvalidArgument(f"Object {oid} of {size} bytes was not uploaded")
        self._verify_and_publish(self._basic_key(oid, upload_id), oid, size)

    def _verify_and_publish(self, key: str, oid: str, size: int) -> None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise InvalidArgument(f"Object {oid} was not uploaded ({_translate(exc, key).message})") from None
        counter = HashingCounter()
        for chunk in self._stream(obj["Body"]):
            counter.update(chunk)
        try:
            counter.check(oid, size)
        except InvalidArgument:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            raise
        if self.stat(oid) == size:
            self.client.delete_object(Bucket=self.bucket, Key=key)  # verified; the stored copy stays the one
            return
        # If-Match pins the copy to the bytes just hashed, even if the key was overwritten meanwhile.
        self._publish(key, oid, etag=obj["ETag"])
