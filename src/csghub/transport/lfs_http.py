"""Git LFS over HTTP: the batch API on every repository URL, and the transfers the hub serves itself.

Transfer URLs are signed and short-lived, so PUT/GET of object bytes needs no other credentials,
exactly like presigned URLs of an object store.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument
from csghub.http.bodies import text_field, text_list_field
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.streams import consume_body, parse_range, stream_bytes
from csghub.services.repositories import lfs
from csghub.services.repositories.lfs import validate_oid
from csghub.services.repositories.repos import get_repo
from csghub.transport.repo_paths import parse_repo_path

router = APIRouter(include_in_schema=False)
LFS_JSON = "application/vnd.git-lfs+json"


def lfs_error(exc: HubError) -> JSONResponse:
    headers = {"X-Error-Code": exc.code}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="CSGHub"'
        headers["LFS-Authenticate"] = 'Basic realm="CSGHub"'
    return JSONResponse(
        {"message": exc.message, "error": exc.message, "code": exc.code},
        status_code=exc.status,
        media_type=LFS_JSON,
        headers=headers,
    )


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgument("Request body is not valid JSON") from None


@router.post("/{repo_path:path}/info/lfs/objects/batch")
async def lfs_batch(request: Request, repo_path: str) -> Response:
    try:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise InvalidArgument("LFS batch request must be a JSON object")
        objects = lfs.parse_batch_objects(body.get("objects"))
        repo_type, repo_id = parse_repo_path(repo_path)
        actor = await get_actor(request)
        hub = get_hub(request)
        repo = await run_in_threadpool(get_repo, hub, actor, repo_type, repo_id)
        answer = await run_in_threadpool(
            lambda: lfs.batch(
                hub,
                actor,
                repo,
                operation=text_field(body, "operation"),
                objects=objects,
                transfers=text_list_field(body, "transfers") or ["basic"],
                base_url=base_url(request),
                always_multipart="upload_id" in request.query_params or "upload_id" in body,
            )
        )
    except HubError as exc:
        return lfs_error(exc)
    return JSONResponse(answer, media_type=LFS_JSON)


@router.post("/{repo_path:path}/info/lfs/locks/verify")
async def lfs_locks_verify(request: Request, repo_path: str) -> Response:
    # No locking: every push may proceed. Answering keeps git-lfs from warning on each push.
    return JSONResponse({"ours": [], "theirs": []}, media_type=LFS_JSON)


@router.get("/{repo_path:path}/info/lfs/locks")
async def lfs_locks(request: Request, repo_path: str) -> Response:
    return JSONResponse({"locks": []}, media_type=LFS_JSON)


@router.put("/lfs/objects/{oid}/{size}")
async def lfs_put_object(request: Request, oid: str, size: int, repo: int = 0, exp: int = 0, sig: str = "") -> Response:
    hub = get_hub(request)
    try:
        validate_oid(oid)
        await consume_body(request, lambda chunks: lfs.receive_object(hub, repo, oid, size, chunks, exp=exp, sig=sig))
    except HubError as exc:
        return lfs_error(exc)
    return Response(status_code=200)


@router.get("/lfs/objects/{oid}")
async def lfs_get_object(request: Request, oid: str, exp: int = 0, sig: str = "") -> Response:
    hub = get_hub(request)
    try:
        validate_oid(oid)
        size = await run_in_threadpool(lfs.open_object, hub, oid, exp=exp, sig=sig)
        byte_range = parse_range(request.headers.get("range"), size)
        start, end = byte_range or (0, size)
        chunks = await run_in_threadpool(lfs.read_object, hub, oid, start, end)
    except HubError as exc:
        return lfs_error(exc)
    return stream_bytes(chunks, size=size, byte_range=byte_range, headers={"ETag": f'"{oid}"'})


@router.post("/lfs/verify/{oid}/{size}")
async def lfs_verify(
    request: Request, oid: str, size: int, repo: int = 0, upload: str = "", exp: int = 0, sig: str = ""
) -> Response:
    hub = get_hub(request)
    try:
        validate_oid(oid)
        await run_in_threadpool(lambda: lfs.verify_object(hub, repo, oid, size, upload, exp=exp, sig=sig))
    except HubError as exc:
        return lfs_error(exc)
    return JSONResponse({"message": "verified"}, media_type=LFS_JSON)


@router.put("/lfs/parts/{upload_id}/{number}")
async def lfs_put_part(request: Request, upload_id: str, number: int, exp: int = 0, sig: str = "") -> Response:
    hub = get_hub(request)
    try:
        etag = await consume_body(
            request, lambda chunks: lfs.receive_part(hub, upload_id, number, chunks, exp=exp, sig=sig)
        )
    except HubError as exc:
        return lfs_error(exc)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


@router.post("/lfs/complete/{upload_id}")
async def lfs_complete(request: Request, upload_id: str, exp: int = 0, sig: str = "") -> Response:
    hub = get_hub(request)
    try:
        body = await _json_body(request)
        await run_in_threadpool(lambda: lfs.complete_upload(hub, upload_id, body, exp=exp, sig=sig))
    except HubError as exc:
        return lfs_error(exc)
    return JSONResponse({"message": "completed"}, media_type=LFS_JSON)
