"""What the dataset viewer knows of a dataset repository: the state of its Parquet conversion and, once
converted, the catalog (configs, splits, schemas, row counts, sizes, shards on refs/convert/parquet and
column statistics) the conversion recorded. Readers (the APIs, the portal) start here; who may read is
decided as for a download of the repository's files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from csghub.core.errors import NotFound
from csghub.db.models import DatasetConversion
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories.repos import RepoView

PARQUET_REF = "refs/convert/parquet"
QUEUED, RUNNING, READY, FAILED, EMPTY, ABSENT = "queued", "running", "ready", "failed", "empty", "absent"
# A conversion that has not run yet for the newest commit: what was converted before stays readable.
PENDING_STATES = (QUEUED, RUNNING)


class SplitNotFound(NotFound):
    code = "SplitNotFound"


@dataclass(frozen=True, slots=True)
class ShardFile:
    path: str  # inside refs/convert/parquet: "default/train/0000.parquet"
    oid: str  # sha256 of the file: its LFS object
    size: int
    num_rows: int


@dataclass(frozen=True, slots=True)
class SplitEntry:
    config: str
    split: str
    num_rows: int
    num_bytes_original: int  # the source files as stored (compressed when they are)
    num_bytes_parquet: int
    features: list[dict[str, Any]]  # HF's features list (cells.features)
    shards: tuple[ShardFile, ...]
    statistics: dict[str, Any] | None = None  # HF's /statistics body; None when it could not be computed
    statistics_error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "split": self.split,
            "num_rows": self.num_rows,
            "num_bytes_original": self.num_bytes_original,
            "num_bytes_parquet": self.num_bytes_parquet,
            "features": self.features,
            "shards": [[s.path, s.oid, s.size, s.num_rows] for s in self.shards],
            "statistics": self.statistics,
            "statistics_error": self.statistics_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SplitEntry:
        return cls(
            config=data["config"],
            split=data["split"],
            num_rows=int(data["num_rows"]),
            num_bytes_original=int(data["num_bytes_original"]),
            num_bytes_parquet=int(data["num_bytes_parquet"]),
            features=list(data["features"]),
            shards=tuple(ShardFile(p, o, int(s), int(n)) for p, o, s, n in data["shards"]),
            statistics=data.get("statistics"),
            statistics_error=data.get("statistics_error", ""),
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """`splits` are those of `source_sha` (the last commit converted), in the order the layout gave
    (configs in README order or default first; splits train, validation, test, then others). `state`
    is about the newest commit (`wanted_sha`): while it is queued or running, or when it failed, the
    splits of the previous conversion stay readable."""

    repo_id: int
    state: str
    wanted_sha: str = ""
    source_sha: str = ""
    parquet_sha: str = ""
    error: str = ""
    progress_done: int = 0
    progress_total: int = 0
    splits: tuple[SplitEntry, ...] = field(default_factory=tuple)

    @property
    def configs(self) -> list[str]:
        return list(dict.fromkeys(s.config for s in self.splits))

    def splits_of(self, config: str) -> list[SplitEntry]:
        return [s for s in self.splits if s.config == config]

    def get_split(self, config: str, split: str) -> SplitEntry:
        for entry in self.splits:
            if entry.config == config and entry.split == split:
                return entry
        if config not in self.configs:
            raise SplitNotFound(f"The config '{config}' does not exist for this dataset")
        raise SplitNotFound(f"The split '{split}' does not exist for the config '{config}' of this dataset")

    @property
    def num_rows(self) -> int:
        return sum(s.num_rows for s in self.splits)

    @property
    def viewable(self) -> bool:
        return bool(self.splits)


def catalog_json(splits: list[SplitEntry]) -> str:
    return json.dumps({"splits": [s.to_json() for s in splits]}, separators=(",", ":"))


def _from_row(row: DatasetConversion | None, repo_id: int) -> Catalog:
    if row is None:
        return Catalog(repo_id=repo_id, state=ABSENT)
    data = json.loads(row.catalog or "{}")
    return Catalog(
        repo_id=repo_id,
        state=row.state,
        wanted_sha=row.wanted_sha,
        source_sha=row.source_sha,
        parquet_sha=row.parquet_sha,
        error=row.error,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        splits=tuple(SplitEntry.from_json(s) for s in data.get("splits", [])),
    )


def load_catalog(hub: Hub, repo_id: int) -> Catalog:
    """The catalog as recorded, without a permission check (for jobs and for callers that checked)."""
    with hub.db() as session:
        return _from_row(session.get(DatasetConversion, repo_id), repo_id)


def get_catalog(hub: Hub, actor: Actor, repo: RepoView) -> Catalog:
    """The catalog of a dataset `actor` may download (hidden repositories are NotFound, as for files)."""
    authorize(actor, Action.DOWNLOAD, repo.resource)
    return load_catalog(hub, repo.id)
