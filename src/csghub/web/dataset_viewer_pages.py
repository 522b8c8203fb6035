"""A dataset's "Dataset viewer" tab: the conversion's state (converting, failed, empty), a split's rows a page
at a time with search and sort, column statistics, and the SQL console with its CSV and Parquet downloads.

Every read goes through services/datasets/viewer.py, which checks that the actor may download the dataset:
a hidden one is a 404 like its other pages, a gated one shows its gate. The console's forms post with the
portal's CSRF token, so their actor is read only once the token checks out (as web/forms.py does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument
from csghub.core.names import RepoType
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import page_number
from csghub.http.repos import RepoContext
from csghub.http.streams import temporary_file_download
from csghub.services.datasets import viewer
from csghub.services.datasets.catalog import PENDING_STATES, Catalog, get_catalog
from csghub.services.datasets.rows import Order
from csghub.services.datasets.sql_console import QueryResult
from csghub.web.dataset_viewer import PER_PAGE, ViewState, columns_of, is_text, page_count, page_numbers, to_rows
from csghub.web.i18n import translate_error
from csghub.web.page_repos import open_page_repo, page_repo
from csghub.web.render import language, page_actor, render, repo_path
from csghub.web.security import CSRF_FIELD, check_form_csrf

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
PREFIX = "/datasets/{ns}/{name}/viewer"
opened = Depends(page_repo(RepoType.DATASET))


@dataclass(frozen=True, slots=True)
class Console:
    """The SQL console's last run: what was asked, and its result or why it failed."""

    sql: str = ""
    result: QueryResult | None = None
    error: str = ""


def _state(request: Request) -> ViewState:
    params = request.query_params
    return ViewState(
        config=params.get("config", ""),
        split=params.get("split", ""),
        page=page_number(params.get("page")),
        search=params.get("q", "").strip(),
        sort=params.get("sort", ""),
        desc=params.get("desc", "") == "1",
    )


def _choose(catalog: Catalog, state: ViewState) -> ViewState:
    """The split to show: the one asked for when it exists, else its config's first, else the first."""
    configs = catalog.configs
    config = state.config if state.config in configs else configs[0]
    splits = [s.split for s in catalog.splits_of(config)]
    split = state.split if state.split in splits else splits[0]
    return ViewState(config, split, state.page, state.search, state.sort, state.desc)


def _rows_view(at: RepoContext, catalog: Catalog, state: ViewState, base: str) -> dict[str, Any]:
    entry = catalog.get_split(state.config, state.split)
    names = [f["name"] for f in entry.features]
    images = {f["name"] for f in entry.features if f["type"].get("_type") == "Image"}
    query = viewer.RowsQuery(
        state.config,
        state.split,
        offset=(state.page - 1) * PER_PAGE,
        length=PER_PAGE,
        search=state.search or None,
        order=(Order(state.sort, state.desc),) if state.sort else (),
    )
    rows_error, rows, total = "", [], entry.num_rows
    try:
        page = viewer.read_rows(at.hub, at.actor, at.repo, query)
        rows, total = to_rows(page.rows, names, images), page.num_rows_total
    except HubError as exc:
        if exc.status >= 500:
            raise
        rows_error = exc.message  # a search or sort the split cannot do: said next to the table
    statistics, stats_error = None, ""
    try:
        statistics = viewer.split_statistics(at.hub, at.actor, at.repo, state.config, state.split)
    except HubError as exc:
        stats_error = exc.message
    columns = columns_of(entry.features, statistics, entry.num_rows, state, base)
    pages = page_count(total)
    return {
        "entry": entry,
        "columns": columns,
        "rows": rows,
        "total": total,
        "searchable": any(is_text(f["type"]) for f in entry.features),
        "rows_error": rows_error,
        "stats_error": stats_error,
        "pages": pages,
        "page_links": [(n, state.link(base, page=n) if n else "") for n in page_numbers(state.page, pages)],
        "prev_url": state.link(base, page=state.page - 1) if state.page > 1 else None,
        "next_url": state.link(base, page=state.page + 1) if state.page < pages else None,
    }


def _viewer(request: Request, at: RepoContext, state: ViewState, console: Console) -> Response:
    repo = at.repo
    base = repo_path(repo.type, repo.full_name)
    lang = language(request)
    context: dict[str, Any] = {
        "repo": repo,
        "base": base,
        "revision": repo.default_branch,
        "tab": "viewer",
        "said": lambda message: translate_error(lang, message),  # the server's messages, in the page's language
    }
    try:
        catalog = get_catalog(at.hub, at.actor, repo)
    except HubError as exc:
        if exc.code != "GatedRepo":
            raise
        return render(request, "dataset_viewer.html", catalog=None, gated=True, **context)
    context.update(catalog=catalog, gated=False, converting=catalog.state in PENDING_STATES, console=console)
    if not catalog.viewable:
        return render(request, "dataset_viewer.html", **context)
    state = _choose(catalog, state)
    view = _rows_view(at, catalog, state, base)
    result = console.result
    sql_rows = to_rows([{"row": r} for r in result.rows], result.schema.names, set()) if result else []
    if state.page > view["pages"]:
        # Past the end (an old link, a narrower search): the last page, at its own address.
        return RedirectResponse(state.link(base, page=view["pages"]), status_code=303)
    return render(
        request,
        "dataset_viewer.html",
        state=state,
        split_links=[(s.split, state.link(base, split=s.split, page="")) for s in catalog.splits_of(state.config)],
        tables=viewer.table_names_of(catalog),
        sql_rows=sql_rows,
        **view,
        **context,
    )


@router.get(PREFIX, response_class=HTMLResponse)
async def viewer_page(request: Request, at: RepoContext = opened) -> Response:
    return await run_in_threadpool(_viewer, request, at, _state(request), Console())


@router.get(PREFIX + "/status")
async def viewer_status(request: Request, at: RepoContext = opened) -> Response:
    """What the converting page polls: the conversion's state and progress."""
    catalog = await run_in_threadpool(get_catalog, at.hub, at.actor, at.repo)
    body = {
        "state": catalog.state,
        "progress_done": catalog.progress_done,
        "progress_total": catalog.progress_total,
        "viewable": catalog.viewable,
        "error": catalog.error,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def _posted(request: Request, ns: str, name: str) -> tuple[dict[str, str], RepoContext]:
    """The console's form once its CSRF token checks out, and the dataset as its sender may see it."""
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    check_form_csrf(request, fields.get(CSRF_FIELD, ""))
    await page_actor(request)  # only now: a session asks for the CSRF proof the form just gave
    return fields, await open_page_repo(request, RepoType.DATASET, ns, name)


def _run(request: Request, at: RepoContext, state: ViewState, sql: str) -> Response:
    try:
        console = Console(sql, result=viewer.run_sql(at.hub, at.actor, at.repo, sql))
    except HubError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        console = Console(sql, error=exc.message)
    return _viewer(request, at, state, console)


@router.post(PREFIX + "/sql", response_class=HTMLResponse)
async def run_sql(request: Request, ns: str, name: str) -> Response:
    fields, at = await _posted(request, ns, name)
    state = ViewState(config=fields.get("config", ""), split=fields.get("split", ""))
    return await run_in_threadpool(_run, request, at, state, fields.get("sql", ""))


@router.post(PREFIX + "/sql/download")
async def download_sql(request: Request, ns: str, name: str) -> Response:
    fields, at = await _posted(request, ns, name)
    fmt = fields.get("format", "")
    if fmt not in viewer.EXPORT_FORMATS:
        raise InvalidArgument("format must be csv or parquet")
    chosen: Literal["csv", "parquet"] = "csv" if fmt == "csv" else "parquet"
    path, _rows = await run_in_threadpool(viewer.export_sql, at.hub, at.actor, at.repo, fields.get("sql", ""), chosen)
    return temporary_file_download(path, f"{at.repo.name}-query.{fmt}", viewer.EXPORT_FORMATS[fmt])
