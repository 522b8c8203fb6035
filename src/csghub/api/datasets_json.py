"""JSON shapes of the dataset viewer's answers, built from the catalog and pages the services return: Hugging
Face's dataset-viewer bodies (/splits, /parquet, /info, /size, /is-valid, /first-rows), the Hub's own
/api/datasets/{id}/parquet listing, and CSGHub's dataviewer catalog and rows."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from csghub.services.datasets.catalog import PARQUET_REF, Catalog, SplitEntry
from csghub.services.datasets.rows import Page

ENCODED_REF = quote(PARQUET_REF, safe="")
TEXT_DTYPES = ("string", "large_string")


def resolve_url(base: str, dataset: str, path: str) -> str:
    """The hub's download URL of a file on refs/convert/parquet."""
    return f"{base}/datasets/{dataset}/resolve/{ENCODED_REF}/{quote(path, safe='/')}"


def shard_url(base: str, dataset: str, config: str, split: str, index: int) -> str:
    """The Hub API's stable name of a split's n-th shard (it redirects to the file)."""
    return f"{base}/api/datasets/{dataset}/parquet/{quote(config, safe='')}/{quote(split, safe='')}/{index}.parquet"


def entries_of(catalog: Catalog, config: str | None) -> list[SplitEntry]:
    """The splits of one config (a missing config is SplitNotFound), or all of them."""
    if config is None:
        return list(catalog.splits)
    if config not in catalog.configs:
        catalog.get_split(config, "")  # raises SplitNotFound naming the config
    return catalog.splits_of(config)


def splits_json(dataset: str, entries: list[SplitEntry]) -> dict[str, Any]:
    return {
        "splits": [{"dataset": dataset, "config": e.config, "split": e.split} for e in entries],
        "pending": [],
        "failed": [],
    }


def parquet_json(base: str, dataset: str, entries: list[SplitEntry], *, one_config: bool) -> dict[str, Any]:
    files = [
        {
            "dataset": dataset,
            "config": e.config,
            "split": e.split,
            "url": resolve_url(base, dataset, shard.path),
            "filename": shard.path.rsplit("/", 1)[-1],
            "size": shard.size,
        }
        for e in entries
        for shard in e.shards
    ]
    body: dict[str, Any] = {"parquet_files": files, "pending": [], "failed": [], "partial": False}
    if one_config and entries:
        body["features"] = features_dict(entries[0])
    return body


def features_dict(entry: SplitEntry) -> dict[str, Any]:
    """The `datasets` library's Features as a dict (name -> type), from the catalog's feature list."""
    return {f["name"]: f["type"] for f in entry.features}


def config_info(dataset: str, config: str, entries: list[SplitEntry]) -> dict[str, Any]:
    return {
        "dataset_name": dataset.rsplit("/", 1)[-1],
        "config_name": config,
        "features": features_dict(entries[0]) if entries else {},
        "splits": {
            e.split: {
                "name": e.split,
                "num_bytes": e.num_bytes_parquet,
                "num_examples": e.num_rows,
                "dataset_name": dataset.rsplit("/", 1)[-1],
            }
            for e in entries
        },
        "download_size": sum(e.num_bytes_original for e in entries),
        "dataset_size": sum(e.num_bytes_parquet for e in entries),
    }


def info_json(dataset: str, catalog: Catalog, config: str | None) -> dict[str, Any]:
    if config is not None:
        return {"dataset_info": config_info(dataset, config, entries_of(catalog, config)), "partial": False}
    infos = {c: config_info(dataset, c, catalog.splits_of(c)) for c in catalog.configs}
    return {"dataset_info": infos, "pending": [], "failed": [], "partial": False}


def _split_size(dataset: str, e: SplitEntry) -> dict[str, Any]:
    # num_bytes_memory: the Parquet bytes stand in for Arrow's in-memory size, which the catalog does not keep.
    return {
        "dataset": dataset,
        "config": e.config,
        "split": e.split,
        "num_bytes_parquet_files": e.num_bytes_parquet,
        "num_bytes_memory": e.num_bytes_parquet,
        "num_rows": e.num_rows,
        "num_columns": len(e.features),
        "estimated_num_rows": None,
    }


def _total(dataset: str, entries: list[SplitEntry], **names: str) -> dict[str, Any]:
    parquet = sum(e.num_bytes_parquet for e in entries)
    return {
        "dataset": dataset,
        **names,
        "num_bytes_original_files": sum(e.num_bytes_original for e in entries),
        "num_bytes_parquet_files": parquet,
        "num_bytes_memory": parquet,
        "num_rows": sum(e.num_rows for e in entries),
        **({"num_columns": len(entries[0].features) if entries else 0} if names else {}),
        "estimated_num_rows": None,
    }


def size_json(dataset: str, catalog: Catalog, config: str | None) -> dict[str, Any]:
    if config is not None:
        entries = entries_of(catalog, config)
        return {
            "size": {
                "config": _total(dataset, entries, config=config),
                "splits": [_split_size(dataset, e) for e in entries],
            },
            "partial": False,
        }
    return {
        "size": {
            "dataset": _total(dataset, list(catalog.splits)),
            "configs": [_total(dataset, catalog.splits_of(c), config=c) for c in catalog.configs],
            "splits": [_split_size(dataset, e) for e in catalog.splits],
        },
        "pending": [],
        "failed": [],
        "partial": False,
    }


def _searchable(entry: SplitEntry) -> bool:
    return any(f["type"].get("dtype") in TEXT_DTYPES for f in entry.features)


def is_valid_json(entries: list[SplitEntry]) -> dict[str, bool]:
    viewable = bool(entries)
    return {
        "preview": viewable,
        "viewer": viewable,
        "search": any(_searchable(e) for e in entries),
        "filter": viewable,
        "statistics": any(e.statistics is not None for e in entries),
    }


def first_rows_json(dataset: str, config: str, split: str, page: Page) -> dict[str, Any]:
    body = page.to_json()
    return {
        "dataset": dataset,
        "config": config,
        "split": split,
        "features": body["features"],
        "rows": body["rows"],
        "truncated": page.num_rows_total > len(page.rows),
    }


# --- the Hub's /api/datasets/{id}/parquet ----------------------------------------------------------------------


def hub_parquet_json(base: str, dataset: str, catalog: Catalog) -> dict[str, dict[str, list[str]]]:
    listing: dict[str, dict[str, list[str]]] = {}
    for e in catalog.splits:
        urls = [shard_url(base, dataset, e.config, e.split, i) for i in range(len(e.shards))]
        listing.setdefault(e.config, {})[e.split] = urls
    return listing


# --- CSGHub's dataviewer ---------------------------------------------------------------------------------------

_CSG_STATUS = {"absent": 0, "queued": 1, "running": 1, "ready": 2, "failed": 3, "empty": 3}


def csg_catalog_json(catalog: Catalog) -> dict[str, Any]:
    """CSGHub's catalog (configs with their data files, dataset_info with splits and row counts, status and
    logs) plus what this hub records besides: the state in words, progress, sizes and features per split."""
    return {
        "configs": [
            {
                "config_name": c,
                "data_files": [{"split": e.split, "path": [s.path for s in e.shards]} for e in catalog.splits_of(c)],
            }
            for c in catalog.configs
        ],
        "dataset_info": [
            {
                "config_name": c,
                "splits": [
                    {
                        "name": e.split,
                        "num_examples": e.num_rows,
                        "num_bytes_original": e.num_bytes_original,
                        "num_bytes_parquet": e.num_bytes_parquet,
                        "features": e.features,
                    }
                    for e in catalog.splits_of(c)
                ],
            }
            for c in catalog.configs
        ],
        "status": _CSG_STATUS.get(catalog.state, 0),
        "state": catalog.state,
        "logs": catalog.error,
        "progress": {"done": catalog.progress_done, "total": catalog.progress_total},
        "num_rows": catalog.num_rows,
    }


def csg_rows_json(
    page: Page, *, per: int, page_number: int, search: str, where: list[str], orderby: list[str]
) -> dict[str, Any]:
    """CSGHub's rows answer (column names and types, rows as lists, total) with each row's index in the split."""
    features = page.to_json()["features"]
    names = [f["name"] for f in features]
    return {
        "columns": names,
        "columns_type": [str(page.schema.field(n).type) for n in names],
        "rows": [[r["row"][n] for n in names] for r in page.rows],
        "row_idx": [r["row_idx"] for r in page.rows],
        "truncated_cells": [r["truncated_cells"] for r in page.rows],
        "features": features,
        "total": page.num_rows_total,
        "per": per,
        "page": page_number,
        "search": search,
        "where": where,
        "orderby": orderby,
    }
