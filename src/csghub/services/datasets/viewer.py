"""Reading a converted dataset: pages of rows (plain, searched, filtered, sorted), column statistics and the
SQL console, over the Parquet shards its conversion published. Each call checks that the actor may
download the dataset, exactly as a download of its files does, and reads the catalog of the last
conversion. Shards are read as local files: the blob store's own file when it is on this disk, else a
copy fetched once into data_dir/datasets/shards (keyed by sha256, so it never goes stale)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from csghub.config import Settings
from csghub.core.errors import NotFound
from csghub.services.context import Hub
from csghub.services.datasets.catalog import Catalog, SplitEntry, get_catalog
from csghub.services.datasets.rows import Condition, Order, Page, QueryLimits, SplitReader, query_rows
from csghub.services.datasets.sql_console import (
    ConsoleLimits,
    QueryResult,
    SplitTable,
    export_query,
    run_query,
    table_names,
)
from csghub.services.datasets.where import typed_filters
from csghub.services.permissions import Actor
from csghub.services.repositories import lfs
from csghub.services.repositories.repos import RepoView

# HF's viewer pages hold at most 100 rows; first-rows shows the first 100.
FIRST_ROWS = 100
# The SQL console's download formats and their media types.
EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class ViewerNotReady(NotFound):
    """The dataset has no converted splits (yet, or its conversion failed): the message says which."""

    code = "DatasetViewerNotReady"

    def __init__(self, message: str, *, state: str = "") -> None:
        super().__init__(message)
        self.state = state  # the catalog's state (queued, running, failed, empty, absent): HF's API answers by it


def query_limits(settings: Settings) -> QueryLimits:
    return QueryLimits(
        memory_limit_bytes=settings.dataset_query_memory, threads=2, timeout_s=float(settings.dataset_query_timeout)
    )


def console_limits(settings: Settings) -> ConsoleLimits:
    return ConsoleLimits(
        memory_limit_bytes=settings.dataset_sql_memory,
        threads=1,
        timeout_s=float(settings.dataset_sql_timeout),
        max_rows=settings.dataset_sql_max_rows,
        max_export_rows=settings.dataset_sql_export_rows,
    )


def viewable_catalog(hub: Hub, actor: Actor, repo: RepoView) -> Catalog:
    """The catalog, or ViewerNotReady saying why there are no rows to show."""
    catalog = get_catalog(hub, actor, repo)
    if not catalog.viewable:
        raise ViewerNotReady(not_ready_message(catalog), state=catalog.state)
    return catalog


def not_ready_message(catalog: Catalog) -> str:
    if catalog.state == "failed":
        return f"The dataset viewer could not convert this dataset: {catalog.error}"
    if catalog.state == "empty":
        return catalog.error or "This dataset has no data files the viewer can read"
    if catalog.state in ("queued", "running"):
        return "The dataset viewer is converting this dataset; try again in a moment"
    return "The dataset viewer has not converted this dataset yet"


def shard_path(hub: Hub, oid: str) -> Path:
    """A local file holding the shard whose sha256 is `oid`."""
    local = hub.blobs.local_path(oid)
    if local is not None:
        return local
    cached = hub.settings.datasets_dir / "shards" / oid[:2] / oid
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".fetch-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as fh:
            for chunk in lfs.read_object(hub, oid):
                digest.update(chunk)
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if digest.hexdigest() != oid:
            raise NotFound(f"The stored Parquet shard {oid[:12]} is damaged")
        os.replace(tmp, cached)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return cached


def shard_paths(hub: Hub, entry: SplitEntry) -> tuple[Path, ...]:
    return tuple(shard_path(hub, shard.oid) for shard in entry.shards)


def split_reader(hub: Hub, catalog: Catalog, config: str, split: str) -> SplitReader:
    """The split's reader: its shards' footers are read once, then kept (keyed by the shards' sha256)."""
    entry = catalog.get_split(config, split)
    return hub.dataset_readers.get(SplitReader, shard_paths(hub, entry))


@dataclass(frozen=True, slots=True)
class RowsQuery:
    config: str
    split: str
    offset: int = 0
    length: int = FIRST_ROWS
    search: str | None = None
    filters: tuple[Condition, ...] = ()  # all must hold
    order: tuple[Order, ...] = ()
    text_values: bool = False  # filter values arrived as text (CSGHub's where=column:op:value): read them as typed


def read_rows(hub: Hub, actor: Actor, repo: RepoView, query: RowsQuery) -> Page:
    """A page of rows; with search, filters or an order, of the rows that match, in that order."""
    catalog = viewable_catalog(hub, actor, repo)
    reader = split_reader(hub, catalog, query.config, query.split)
    limits = query_limits(hub.settings)
    filters = typed_filters(reader.schema, query.filters) if query.text_values else query.filters
    if not query.search and not filters and not query.order:
        return reader.read(query.offset, query.length, limits.cells)  # plain paging: no DuckDB, no slot
    with _query_slot(hub):
        return query_rows(
            reader,
            query.offset,
            query.length,
            search=query.search or None,
            filters=filters,
            order=query.order,
            limits=limits,
        )


def _query_slot(hub: Hub) -> AbstractContextManager[None]:
    """One of the hub's DuckDB query slots: each query may use its memory limit, so their number is bounded."""
    settings = hub.settings
    return hub.dataset_queries.hold(settings.dataset_query_slots, settings.dataset_query_timeout, "The dataset viewer")


def split_statistics(hub: Hub, actor: Actor, repo: RepoView, config: str, split: str) -> dict[str, Any]:
    """HF's /statistics body, computed by the conversion."""
    entry = viewable_catalog(hub, actor, repo).get_split(config, split)
    if entry.statistics is None:
        raise ViewerNotReady(entry.statistics_error or "Statistics are not available for this split")
    return entry.statistics


def console_tables(hub: Hub, catalog: Catalog) -> list[SplitTable]:
    return [SplitTable(e.config, e.split, shard_paths(hub, e)) for e in catalog.splits]


def run_sql(hub: Hub, actor: Actor, repo: RepoView, sql: str) -> QueryResult:
    """One read-only query over the dataset's splits as tables (sql_console.table_names names them)."""
    catalog = viewable_catalog(hub, actor, repo)
    with _query_slot(hub):
        return run_query(console_tables(hub, catalog), sql, console_limits(hub.settings))


def export_sql(hub: Hub, actor: Actor, repo: RepoView, sql: str, fmt: Literal["csv", "parquet"]) -> tuple[Path, int]:
    """The query's rows written to a new temporary file (the caller streams it, then removes it)."""
    catalog = viewable_catalog(hub, actor, repo)
    hub.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    destination = hub.settings.tmp_dir / f"csg-sql-{uuid.uuid4().hex}.{fmt}"
    with _query_slot(hub):
        rows = export_query(console_tables(hub, catalog), sql, destination, fmt, console_limits(hub.settings))
    return destination, rows


def table_names_of(catalog: Catalog) -> list[str]:
    """The names the SQL console gives the splits, in catalog order."""
    return list(table_names([SplitTable(e.config, e.split, ()) for e in catalog.splits]))
