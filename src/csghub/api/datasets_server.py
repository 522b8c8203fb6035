"""Hugging Face's dataset-viewer API under /datasets-server/ on the hub's own address: a client of
datasets-server.huggingface.co changes only its base URL. Same query parameters, same JSON bodies, and
HF's error codes: a dataset still converting is 500 ResponseNotReady, a failed conversion is 500 with its
error, a hidden or missing dataset is as for a download (401 anonymous, 404 otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api import datasets_json as shapes
from csghub.core.errors import AnswerNotReady, InvalidArgument, NotFound
from csghub.core.names import RepoType
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, errors, query
from csghub.http.repos import RepoContext, open_repo
from csghub.services.datasets import viewer
from csghub.services.datasets.catalog import get_catalog
from csghub.services.datasets.where import InvalidParameter, parse_orderby, parse_where
from csghub.services.permissions import Action, Actor

router = APIRouter(prefix="/datasets-server", responses={**API_ERRORS, **errors(500)})
T = TypeVar("T")
DATASET = query("dataset", dataset=TEXT, config=TEXT)
SPLIT = query("dataset", "config", "split", dataset=TEXT, config=TEXT, split=TEXT)
_SPLIT = {"dataset": TEXT, "config": TEXT, "split": TEXT}
ROWS = query("dataset", "config", "split", **_SPLIT, offset=WHOLE, length=WHOLE)
SEARCH = query("dataset", "config", "split", "query", **_SPLIT, query=TEXT, offset=WHOLE, length=WHOLE)
FILTER = query("dataset", "config", "split", **_SPLIT, where=TEXT, orderby=TEXT, offset=WHOLE, length=WHOLE)
# HF answers a dataset it has no viewer answer for yet with 500 and these X-Error-Code values.
_NOT_READY_CODES = {"queued": "ResponseNotReady", "running": "ResponseNotReady", "failed": "DatasetGenerationError",
                    "empty": "EmptyDatasetError"}  # fmt: skip


def hf_json(body: Any) -> JSONResponse:
    """HF's viewer answers readable by pages on any origin (no credentials travel cross-origin with `*`)."""
    return JSONResponse(body, headers={"Access-Control-Allow-Origin": "*"})


def param(request: Request, name: str, *, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if required and not value:
        raise InvalidArgument(f"Parameter '{name}' is required", code="MissingRequiredParameter")
    return value or None


def int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"Parameter '{name}' must be an integer") from None


async def dataset_of(request: Request, actor: Actor = Depends(get_actor)) -> RepoContext:
    """The dataset named by `?dataset=namespace/name`, if the actor may see it."""
    dataset = param(request, "dataset", required=True)
    assert dataset is not None
    namespace, slash, name = dataset.partition("/")
    if not slash:
        raise InvalidParameter("Parameter 'dataset' must be namespace/name")
    return await run_in_threadpool(open_repo, get_hub(request), actor, RepoType.DATASET, namespace, name, Action.READ)


DATASET_OF = Depends(dataset_of)


@contextmanager
def hf_errors() -> Iterator[None]:
    """A dataset without viewable splits answers as HF's viewer does (500 with its code, or 404)."""
    try:
        yield
    except viewer.ViewerNotReady as exc:
        code = _NOT_READY_CODES.get(exc.state)
        if code is None:
            raise NotFound(exc.message, code="ResponseNotFound") from None
        raise AnswerNotReady(exc.message, code=code) from None


async def answer(work: Callable[[], T]) -> T:
    with hf_errors():
        return await run_in_threadpool(work)


@router.get("/is-valid", openapi_extra=query("dataset", dataset=TEXT, config=TEXT, split=TEXT))
async def is_valid(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    config, split = param(request, "config"), param(request, "split")

    def work() -> dict[str, bool]:
        catalog = get_catalog(at.hub, at.actor, at.repo)
        if not catalog.viewable:  # converting, failed or empty: nothing is valid yet, whatever was asked
            return shapes.is_valid_json([])
        if split is not None:
            return shapes.is_valid_json([catalog.get_split(config or "", split)])
        return shapes.is_valid_json(shapes.entries_of(catalog, config))

    return hf_json(await answer(work))


@router.get("/splits", openapi_extra=DATASET)
async def splits(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    config = param(request, "config")
    catalog = await answer(lambda: viewer.viewable_catalog(at.hub, at.actor, at.repo))
    return hf_json(shapes.splits_json(at.repo.full_name, shapes.entries_of(catalog, config)))


def config_split(request: Request) -> tuple[str, str]:
    config, split = param(request, "config", required=True), param(request, "split", required=True)
    assert config is not None and split is not None
    return config, split


def _rows(request: Request, **extra: Any) -> viewer.RowsQuery:
    config, split = config_split(request)
    offset, length = int_param(request, "offset", 0), int_param(request, "length", viewer.FIRST_ROWS)
    return viewer.RowsQuery(config, split, offset, length, **extra)


@router.get("/first-rows", openapi_extra=SPLIT)
async def first_rows(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    wanted = viewer.RowsQuery(*config_split(request))  # the first 100 rows, whatever offset or length say
    page = await answer(lambda: viewer.read_rows(at.hub, at.actor, at.repo, wanted))
    return hf_json(shapes.first_rows_json(at.repo.full_name, wanted.config, wanted.split, page))


@router.get("/rows", openapi_extra=ROWS)
async def rows(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    wanted = _rows(request)
    return hf_json((await answer(lambda: viewer.read_rows(at.hub, at.actor, at.repo, wanted))).to_json())


@router.get("/search", openapi_extra=SEARCH)
async def search(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    wanted = _rows(request, search=param(request, "query", required=True))
    return hf_json((await answer(lambda: viewer.read_rows(at.hub, at.actor, at.repo, wanted))).to_json())


@router.get("/filter", openapi_extra=FILTER)
async def filter_rows(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    where, orderby = parse_where(param(request, "where") or ""), parse_orderby(param(request, "orderby") or "")
    wanted = _rows(request, filters=where, order=orderby)
    return hf_json((await answer(lambda: viewer.read_rows(at.hub, at.actor, at.repo, wanted))).to_json())


@router.get("/parquet", openapi_extra=DATASET)
async def parquet(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    config = param(request, "config")
    catalog = await answer(lambda: viewer.viewable_catalog(at.hub, at.actor, at.repo))
    entries = shapes.entries_of(catalog, config)
    body = shapes.parquet_json(base_url(request), at.repo.full_name, entries, one_config=config is not None)
    return hf_json(body)


@router.get("/info", openapi_extra=DATASET)
async def info(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    config = param(request, "config")
    catalog = await answer(lambda: viewer.viewable_catalog(at.hub, at.actor, at.repo))
    return hf_json(shapes.info_json(at.repo.full_name, catalog, config))


@router.get("/size", openapi_extra=DATASET)
async def size(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    config = param(request, "config")
    catalog = await answer(lambda: viewer.viewable_catalog(at.hub, at.actor, at.repo))
    return hf_json(shapes.size_json(at.repo.full_name, catalog, config))


@router.get("/statistics", openapi_extra=SPLIT)
async def statistics(request: Request, at: RepoContext = DATASET_OF) -> JSONResponse:
    config, split = config_split(request)
    return hf_json(await answer(lambda: viewer.split_statistics(at.hub, at.actor, at.repo, config, split)))
