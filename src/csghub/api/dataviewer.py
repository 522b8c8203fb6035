"""The dataset viewer in CSGHub's shape (/api/v1/datasets/{ns}/{name}/dataviewer/catalog, rows and the SQL
console, in the `{"msg": "OK", "data": ...}` envelope) and the Hub's own Parquet listing
(/api/datasets/{ns}/{name}/parquet...), as huggingface.co answers it.

CSGHub's rows take structured conditions, never SQL text: `where=column:op:value` (repeatable) or one JSON
list, and `orderby=column[:desc]` (repeatable); services/datasets/where.py reads them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from csghub.api import datasets_json as shapes
from csghub.api.datasets_server import config_split, int_param, param
from csghub.api.serialize import ok
from csghub.core.errors import InvalidArgument, NotFound
from csghub.core.names import RepoType
from csghub.http.bodies import read_json_object, text_field
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, TEXTS, WHOLE, WRITE_ERRORS, json_body, query
from csghub.http.repos import RepoContext, open_repo
from csghub.http.streams import temporary_file_download
from csghub.services.datasets import viewer
from csghub.services.datasets.catalog import get_catalog
from csghub.services.datasets.rows import MAX_PAGE
from csghub.services.datasets.where import parse_structured_orderby, parse_structured_where
from csghub.services.permissions import Action, Actor

router = APIRouter(responses=API_ERRORS)
# The Hub's listing, also under /hf for huggingface_hub clients whose HF_ENDPOINT ends there.
hub_router = APIRouter(responses=API_ERRORS)
V1 = "/api/v1/datasets/{namespace}/{name}/dataviewer"
HUB = "/api/datasets/{namespace}/{name}/parquet"
CSG_PER = 50  # CSGHub's default page size
SQL_BODY = json_body("sql", sql=TEXT, format={"type": "string", "enum": ["csv", "parquet"]})
# A query may run past its time (408) or memory (413) limit; its body answers as every POST body may.
SQL_ERRORS = WRITE_ERRORS
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The query's rows as a file",
        "content": {"text/csv": {}, viewer.EXPORT_FORMATS["parquet"]: {}},
    },
    **SQL_ERRORS,
}


async def dataset_route(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> RepoContext:
    return await run_in_threadpool(open_repo, get_hub(request), actor, RepoType.DATASET, namespace, name, Action.READ)


DATASET = Depends(dataset_route)


@router.get(f"{V1}/catalog")
async def catalog(at: RepoContext = DATASET) -> JSONResponse:
    found = await run_in_threadpool(get_catalog, at.hub, at.actor, at.repo)
    return ok(shapes.csg_catalog_json(found))


@router.get(
    f"{V1}/rows",
    openapi_extra=query(
        "config", "split", config=TEXT, split=TEXT, search=TEXT, where=TEXTS, orderby=TEXTS, per=WHOLE, page=WHOLE
    ),
)
async def rows(request: Request, at: RepoContext = DATASET) -> JSONResponse:
    config, split = config_split(request)
    per, page = int_param(request, "per", CSG_PER), int_param(request, "page", 1)
    if not 1 <= per <= MAX_PAGE or page < 1:
        raise InvalidArgument(f"per must be between 1 and {MAX_PAGE} and page 1 or more (got per={per}, page={page})")
    where, orderby = request.query_params.getlist("where"), request.query_params.getlist("orderby")
    search = param(request, "search") or ""
    wanted = viewer.RowsQuery(
        config,
        split,
        (page - 1) * per,
        per,
        search=search,
        filters=parse_structured_where(w for w in where if w),
        order=parse_structured_orderby(o for o in orderby if o),
        text_values=True,
    )
    found = await run_in_threadpool(viewer.read_rows, at.hub, at.actor, at.repo, wanted)
    return ok(shapes.csg_rows_json(found, per=per, page_number=page, search=search, where=where, orderby=orderby))


@router.post(f"{V1}/sql", responses=SQL_ERRORS, openapi_extra=json_body("sql", sql=TEXT))
async def run_sql(request: Request, at: RepoContext = DATASET) -> JSONResponse:
    sql = text_field(await read_json_object(request), "sql", required=True)

    def work() -> dict[str, Any]:
        result = viewer.run_sql(at.hub, at.actor, at.repo, sql)
        tables = viewer.table_names_of(get_catalog(at.hub, at.actor, at.repo))
        return {**result.to_json(), "max_rows": at.hub.settings.dataset_sql_max_rows, "tables": tables}

    return ok(await run_in_threadpool(work))


@router.get(f"{V1}/sql/tables")
async def sql_tables(at: RepoContext = DATASET) -> JSONResponse:
    found = await run_in_threadpool(viewer.viewable_catalog, at.hub, at.actor, at.repo)
    return ok({"tables": viewer.table_names_of(found)})


def _format(value: str) -> Literal["csv", "parquet"]:
    if value == "csv":
        return "csv"
    if value == "parquet":
        return "parquet"
    raise InvalidArgument(f"Unknown format {value!r}: use csv or parquet")


async def _export(at: RepoContext, sql: str, fmt: Literal["csv", "parquet"]) -> StreamingResponse:
    path, written = await run_in_threadpool(viewer.export_sql, at.hub, at.actor, at.repo, sql, fmt)
    filename = f"{at.repo.name}-query.{fmt}"
    return temporary_file_download(path, filename, viewer.EXPORT_FORMATS[fmt], {"X-Rows": str(written)})


@router.post(
    f"{V1}/sql/download", response_class=StreamingResponse, responses=DOWNLOAD_RESPONSES, openapi_extra=SQL_BODY
)
async def download_sql(request: Request, at: RepoContext = DATASET) -> StreamingResponse:
    body = await read_json_object(request)
    sql = text_field(body, "sql", required=True)
    return await _export(at, sql, _format(text_field(body, "format", default="csv")))


@router.get(
    f"{V1}/sql/download",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    openapi_extra=query("sql", sql=TEXT, format={"type": "string", "enum": ["csv", "parquet"]}),
)
async def download_sql_link(request: Request, at: RepoContext = DATASET) -> StreamingResponse:
    sql = param(request, "sql", required=True)
    assert sql is not None
    return await _export(at, sql, _format(param(request, "format") or "csv"))


# --- the Hub's own listing ------------------------------------------------------------------------------------


@hub_router.get(HUB)
async def hub_parquet(request: Request, at: RepoContext = DATASET) -> JSONResponse:
    found = await run_in_threadpool(viewer.viewable_catalog, at.hub, at.actor, at.repo)
    return JSONResponse(shapes.hub_parquet_json(base_url(request), at.repo.full_name, found))


@hub_router.get(HUB + "/{config}")
async def hub_parquet_config(request: Request, config: str, at: RepoContext = DATASET) -> JSONResponse:
    found = await run_in_threadpool(viewer.viewable_catalog, at.hub, at.actor, at.repo)
    shapes.entries_of(found, config)  # a missing config is SplitNotFound, naming it
    return JSONResponse(shapes.hub_parquet_json(base_url(request), at.repo.full_name, found)[config])


@hub_router.get(HUB + "/{config}/{split}")
async def hub_parquet_split(request: Request, config: str, split: str, at: RepoContext = DATASET) -> JSONResponse:
    found = await run_in_threadpool(viewer.viewable_catalog, at.hub, at.actor, at.repo)
    listing = shapes.hub_parquet_json(base_url(request), at.repo.full_name, found)
    found.get_split(config, split)  # a missing config or split is SplitNotFound, naming it
    return JSONResponse(listing[config][split])


@hub_router.get(HUB + "/{config}/{split}/{index}.parquet", response_class=RedirectResponse, status_code=302)
async def hub_parquet_file(
    request: Request, config: str, split: str, index: str, at: RepoContext = DATASET
) -> RedirectResponse:
    found = await run_in_threadpool(viewer.viewable_catalog, at.hub, at.actor, at.repo)
    shards = found.get_split(config, split).shards
    if not index.isdigit() or int(index) >= len(shards):
        raise NotFound(f"Split '{split}' of config '{config}' has {len(shards)} Parquet files; {index} is not one")
    url = shapes.resolve_url(base_url(request), at.repo.full_name, shards[int(index)].path)
    return RedirectResponse(url, status_code=302)
