"""A dataset's conversion by the live hub's job (services/datasets/conversions.py), waited for: it
publishes `refs/convert/parquet` (`{config}/{split}/0000.parquet`, no README, as the Hub's converter
lays it out) and records the catalog."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import HfApi

from csghub.core.names import RepoId, RepoType
from csghub.services.datasets.catalog import Catalog, load_catalog
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

PARQUET_REF = "refs/convert/parquet"
DEADLINE_S = 90.0  # a bound on a loaded two-core machine, not a wait


def parquet_bytes(columns: dict[str, list[Any]]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()


def wait_for_conversion(live: LiveHub, token: str, repo: str, *, state: str = "ready") -> Catalog:
    """The catalog once the hub converted the head of the dataset's default branch (polled every 0.2 s)."""
    head = HfApi(endpoint=live.url, token=token).dataset_info(repo).sha
    admin = Actor(user_id=0, is_admin=True)
    repo_id = repos.get_repo(live.hub, admin, RepoType.DATASET, RepoId.parse(repo)).id
    seen: list[Catalog] = []

    def converted() -> bool:
        seen[:] = [catalog := load_catalog(live.hub, repo_id)]
        failed = catalog.state == "failed" and catalog.wanted_sha == head
        return failed or (catalog.source_sha == head and catalog.state in ("ready", "empty"))

    wait_until(converted, f"the conversion of {repo} at {head}", timeout=DEADLINE_S, poll=0.2)
    assert seen[0].state == state, seen[0]
    return seen[0]
