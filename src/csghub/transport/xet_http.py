"""The Xet CAS over HTTP, at /xet: xorb and shard uploads, reconstructions, signed xorb ranges.

Optional routes of the protocol (upload grants, V2 shards and reconstructions, global dedup) answer
404, which makes hf_xet fall back to the routes here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument, NotFound, TooLarge
from csghub.http.deps import base_url, get_hub, token_of
from csghub.http.errors import error_response
from csghub.http.streams import consume_body, parse_range, stream_bytes
from csghub.services.context import Hub
from csghub.services.xet import cas as xet_cas
from csghub.services.xet import store as xet_store
from csghub.services.xet.cas import MAX_SHARD_BYTES

router = APIRouter(prefix="/xet", include_in_schema=False)
# 64 MiB of chunk data plus 8-byte headers for up to 8192 chunks, and room for an old client's footer.
MAX_XORB_BODY = 64 * 1024 * 1024 + 8 * 8192 + 512 * 1024


def _error(exc: HubError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message)


def _spool(hub: Hub, chunks: Iterator[bytes]) -> Path:
    fd, name = tempfile.mkstemp(dir=hub.settings.tmp_dir, prefix="xorb-")
    size = 0
    with os.fdopen(fd, "wb") as fh:
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_XORB_BODY:
                fh.close()
                os.unlink(name)
                raise TooLarge(f"Xorb exceeds {MAX_XORB_BODY} bytes")
            fh.write(chunk)
    return Path(name)


@router.post("/v1/xorbs/{prefix}/{xorb_hash}")
async def upload_xorb(request: Request, prefix: str, xorb_hash: str) -> Response:
    hub = get_hub(request)
    try:
        xet_cas.check_token(hub, token_of(request), write=True)
        if int(request.headers.get("content-length") or 0) > MAX_XORB_BODY:
            raise TooLarge(f"Xorb exceeds {MAX_XORB_BODY} bytes")
        path = await consume_body(request, lambda chunks: _spool(hub, chunks))
        try:
            inserted = await run_in_threadpool(xet_cas.upload_xorb, hub, token_of(request), xorb_hash, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    except HubError as exc:
        return _error(exc)
    return JSONResponse({"was_inserted": inserted})


@router.post("/v1/shards")
async def upload_shard(request: Request) -> Response:
    hub = get_hub(request)
    try:
        xet_cas.check_token(hub, token_of(request), write=True)
        if int(request.headers.get("content-length") or 0) > MAX_SHARD_BYTES:
            raise TooLarge(f"Shard exceeds {MAX_SHARD_BYTES} bytes")
        data = await request.body()
        result = await run_in_threadpool(xet_cas.upload_shard, hub, token_of(request), data)
    except HubError as exc:
        return _error(exc)
    return JSONResponse({"result": result})


@router.get("/v1/reconstructions/{file_hash}")
async def reconstruction(request: Request, file_hash: str) -> Response:
    hub = get_hub(request)

    def work() -> dict[str, object]:
        xet_cas.check_token(hub, token_of(request), write=False)
        size = xet_store.get_file(hub, file_hash).size
        byte_range = parse_range(request.headers.get("range"), size) if size else None
        return xet_cas.reconstruction(hub, token_of(request), file_hash, byte_range, base_url(request))

    try:
        return JSONResponse(await run_in_threadpool(work))
    except HubError as exc:
        return _error(exc)


@router.get("/xorbs/{prefix}/{xorb_hash}")
async def xorb_range(
    request: Request, prefix: str, xorb_hash: str, range: str = "", exp: int = 0, sig: str = ""
) -> Response:
    hub = get_hub(request)
    try:
        lo, _, hi = range.partition("-")
        if not (lo.isdigit() and hi.isdigit()):
            raise InvalidArgument("Malformed xorb link")
        total = int(hi) + 1
        requested = parse_range(request.headers.get("range"), total)
        oid, start, end = await run_in_threadpool(
            lambda: xet_cas.open_xorb_range(hub, xorb_hash, range, exp=exp, sig=sig, requested=requested)
        )
        chunks = await run_in_threadpool(xet_cas.read_xorb, hub, oid, start, end)
    except HubError as exc:
        return _error(exc)
    response = stream_bytes(chunks, size=total, byte_range=(start, end), headers={})
    return response


@router.get("/v1/chunks/{prefix}/{chunk_hash}")
async def dedup_query(request: Request, prefix: str, chunk_hash: str) -> Response:
    hub = get_hub(request)

    def work() -> bytes:
        xet_cas.check_token(hub, token_of(request), write=False)
        return xet_store.dedup_answer(hub, chunk_hash)

    try:
        return Response(await run_in_threadpool(work), media_type="application/octet-stream")
    except HubError as exc:
        return _error(exc)


@router.post("/v1/telemetry")
async def telemetry(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


def _this_store(request: Request, store: str) -> None:
    if store != xet_cas.store_tag(get_hub(request)):
        raise NotFound("No such Xet store on this hub")


# The CAS URL the token routes give out names the store (cas.store_tag): the protocol's routes answer
# under it too. The signed xorb links of reconstructions stay at /xet/xorbs, and so do the plain /xet/v1
# routes, for tokens handed out before.
store_router = APIRouter(prefix="/xet/{store}", include_in_schema=False, dependencies=[Depends(_this_store)])
for _route in list(router.routes):
    if isinstance(_route, APIRoute) and _route.path.startswith("/xet/v1/"):
        store_router.add_api_route(
            _route.path.removeprefix("/xet"), _route.endpoint, methods=list(_route.methods or ())
        )
