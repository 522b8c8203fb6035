"""Spaces' routes: CSGHub's (`{"msg": "OK", "data": ...}` envelope) and Hugging Face's, as
huggingface_hub calls them.

    GET  /api/v1/spaces/{ns}/{name}/status           stage, reason, notes, hardware, sleep time
    POST /api/v1/spaces/{ns}/{name}/run|stop|wakeup  owners run and stop it; any reader wakes it
    GET  /api/v1/spaces/{ns}/{name}/logs             ?kind=build|run, followed as server-sent events
    PUT  /api/v1/spaces/{ns}/{name}/settings         hardware, cluster_id, sleep_seconds, allow_token
    GET|POST|DELETE /api/v1/spaces/{ns}/{name}/secrets|variables
    GET  /api/spaces/{ns}/{name}/runtime             and POST .../restart (?factory=true), .../pause,
    .../sleeptime, .../hardware; GET|POST|DELETE .../secrets and .../variables (HF's shapes)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.compute_logs import LOG_RESPONSES, stream_log
from csghub.api.serialize import ok
from csghub.api.spaces_json import entries_json, runtime_json, secrets_json, status_json, variables_json
from csghub.http.bodies import bool_field, int_field, optional_text_field, read_json_object, text_field
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, WRITE_ERRORS, json_body, query
from csghub.services.permissions import Actor
from csghub.services.spaces import lifecycle, logs, records, settings
from csghub.services.spaces.records import SpaceView
from csghub.services.spaces.settings import MAX_SLEEP_SECONDS, SpaceSettings

router = APIRouter(responses=API_ERRORS)
V1 = "/api/v1/spaces/{namespace}/{name}"
HF = "/api/spaces/{namespace}/{name}"
_INT: dict[str, Any] = {"type": "integer", "minimum": 0}
ENTRY_BODY = json_body("key", key=TEXT, value=TEXT, description=TEXT)
KEY_BODY = json_body("key", key=TEXT)


def _status(request: Request, view: SpaceView) -> JSONResponse:
    return ok(status_json(view, base_url(request)))


@router.get(V1 + "/status")
async def status(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(records.get_space, get_hub(request), actor, namespace, name)
    return _status(request, view)


@router.post(V1 + "/run", responses=WRITE_ERRORS)
async def run(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return _status(request, await run_in_threadpool(lifecycle.run_space, get_hub(request), actor, namespace, name))


@router.post(V1 + "/stop", responses=WRITE_ERRORS)
async def stop(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return _status(request, await run_in_threadpool(lifecycle.stop_space, get_hub(request), actor, namespace, name))


@router.post(V1 + "/wakeup", responses=WRITE_ERRORS)
async def wakeup(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return _status(request, await run_in_threadpool(lifecycle.wake, get_hub(request), actor, namespace, name))


@router.get(V1 + "/logs", responses=LOG_RESPONSES, openapi_extra=query(kind=TEXT, follow=FLAG, offset=_INT))
async def space_logs(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> StreamingResponse:
    hub, kind = get_hub(request), request.query_params.get("kind") or "run"

    async def read(offset: int) -> bytes:
        return await run_in_threadpool(logs.read_log, hub, actor, namespace, name, kind, offset)

    return await stream_log(request, read)


SETTINGS_BODY = json_body(hardware=TEXT, cluster_id=_INT, sleep_seconds=_INT, allow_token=FLAG)


@router.put(V1 + "/settings", responses=WRITE_ERRORS, openapi_extra=SETTINGS_BODY)
async def update(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    change = SpaceSettings(
        hardware=optional_text_field(body, "hardware"),
        cluster_id=int_field(body, "cluster_id", minimum=1, maximum=2**31 - 1),
        sleep_seconds=int_field(body, "sleep_seconds", minimum=0, maximum=MAX_SLEEP_SECONDS),
        allow_token=bool_field(body, "allow_token"),
    )
    hub = get_hub(request)
    return _status(request, await run_in_threadpool(settings.update_settings, hub, actor, namespace, name, change))


async def _list(request: Request, namespace: str, name: str, actor: Actor, *, secret: bool) -> list[Any]:
    hub = get_hub(request)
    return await run_in_threadpool(lambda: settings.list_entries(hub, actor, namespace, name, secret=secret))


async def _add(request: Request, namespace: str, name: str, actor: Actor, *, secret: bool) -> Response:
    body = await read_json_object(request)
    key, value, about = text_field(body, "key", required=True), body.get("value"), body.get("description")
    hub = get_hub(request)
    await run_in_threadpool(lambda: settings.set_entry(hub, actor, namespace, name, key, value, about, secret=secret))
    return await _entries_answer(request, namespace, name, actor, secret=secret)


async def _delete(request: Request, namespace: str, name: str, actor: Actor, *, secret: bool) -> Response:
    body = await read_json_object(request)
    key, hub = text_field(body, "key", required=True), get_hub(request)
    await run_in_threadpool(lambda: settings.delete_entry(hub, actor, namespace, name, key, secret=secret))
    return await _entries_answer(request, namespace, name, actor, secret=secret)


@router.get(V1 + "/secrets")
async def list_secrets(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return ok(entries_json(await _list(request, namespace, name, actor, secret=True)))


@router.get(V1 + "/variables")
async def list_variables(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return ok(entries_json(await _list(request, namespace, name, actor, secret=False)))


@router.get(HF + "/secrets")
async def hf_list_secrets(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return JSONResponse(secrets_json(await _list(request, namespace, name, actor, secret=True)))


@router.get(HF + "/variables")
async def hf_list_variables(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return JSONResponse(variables_json(await _list(request, namespace, name, actor, secret=False)))


@router.post(V1 + "/secrets", responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY)
@router.post(HF + "/secrets", responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY)
async def add_secret(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> Response:
    return await _add(request, namespace, name, actor, secret=True)


@router.post(V1 + "/variables", responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY)
@router.post(HF + "/variables", responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY)
async def add_variable(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> Response:
    return await _add(request, namespace, name, actor, secret=False)


@router.delete(V1 + "/secrets", responses=WRITE_ERRORS, openapi_extra=KEY_BODY)
@router.delete(HF + "/secrets", responses=WRITE_ERRORS, openapi_extra=KEY_BODY)
async def delete_secret(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> Response:
    return await _delete(request, namespace, name, actor, secret=True)


@router.delete(V1 + "/variables", responses=WRITE_ERRORS, openapi_extra=KEY_BODY)
@router.delete(HF + "/variables", responses=WRITE_ERRORS, openapi_extra=KEY_BODY)
async def delete_variable(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> Response:
    return await _delete(request, namespace, name, actor, secret=False)


async def _entries_answer(request: Request, namespace: str, name: str, actor: Actor, *, secret: bool) -> Response:
    """CSGHub's routes answer the list in the envelope; HF's answer the variables (huggingface_hub's
    add/delete_space_variable read them) or, for secrets, their names."""
    found = await _list(request, namespace, name, actor, secret=secret)
    if "/api/v1/" in request.url.path:
        return ok(entries_json(found))
    return JSONResponse(secrets_json(found) if secret else variables_json(found))


async def _runtime(request: Request, call: Any, *args: Any, **kwargs: Any) -> JSONResponse:
    view = await run_in_threadpool(lambda: call(get_hub(request), *args, **kwargs))
    return JSONResponse(runtime_json(view))


@router.get(HF + "/runtime")
async def runtime(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await _runtime(request, records.get_space, actor, namespace, name)


@router.post(HF + "/restart", responses=WRITE_ERRORS, openapi_extra=query(factory=FLAG))
async def restart(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    factory = (request.query_params.get("factory") or "").lower() in ("1", "true", "yes")
    return await _runtime(request, lifecycle.restart_space, actor, namespace, name, factory=factory)


@router.post(HF + "/pause", responses=WRITE_ERRORS)
async def pause(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await _runtime(request, lifecycle.pause_space, actor, namespace, name)


@router.post(HF + "/sleeptime", responses=WRITE_ERRORS, openapi_extra=json_body("seconds", seconds=_INT))
async def sleeptime(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    seconds = int_field(body, "seconds", minimum=-1, maximum=MAX_SLEEP_SECONDS)
    change = SpaceSettings(sleep_seconds=0 if seconds is None or seconds < 0 else seconds)  # HF's -1: never
    return await _runtime(request, settings.update_settings, actor, namespace, name, change)


HARDWARE_BODY = json_body("flavor", flavor=TEXT, sleepTimeSeconds=_INT)


@router.post(HF + "/hardware", responses=WRITE_ERRORS, openapi_extra=HARDWARE_BODY)
async def hardware(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    seconds = int_field(body, "sleepTimeSeconds", minimum=-1, maximum=MAX_SLEEP_SECONDS)
    change = SpaceSettings(
        hardware=text_field(body, "flavor", required=True),
        sleep_seconds=None if seconds is None else max(0, seconds),
    )
    return await _runtime(request, settings.update_settings, actor, namespace, name, change)
