"""Training data of a fine-tune, read from a dataset repository at a commit as the hub itself reads it (the
caller has authorized the actor): which files could be training data, a preview with every problem found,
and the validated train/eval files a LLaMA-Factory run reads (`train.json`, `eval.json` and
`dataset_info.json` in its work folder)."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csghub.core.errors import BlobNotFound, InvalidArgument
from csghub.core.names import validate_revision
from csghub.services.context import Hub
from csghub.services.finetune.training_readers import CONTAINERS, TrainingDataError, container_of, read_table
from csghub.services.finetune.training_rows import ColumnMapping, Normalized, normalize
from csghub.services.repositories import files
from csghub.services.repositories.repos import RepoView

__all__ = ["ColumnMapping", "DataPreview", "PreparedData", "TrainingDataError", "data_files", "prepare", "preview"]

# JSON files of a dataset repository that describe data rather than hold it.
NOT_DATA = frozenset({"dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json"})
TRAIN, EVAL, INFO = "train.json", "eval.json", "dataset_info.json"


@dataclass(frozen=True, slots=True)
class DataPreview:
    path: str
    size: int
    container: str  # "csv" | "tsv" | "json" | "jsonl"
    format: str  # "qa" | "alpaca" | "sharegpt"; "" when the columns make none
    columns: tuple[str, ...]  # the file's columns, in order
    mapped: tuple[tuple[str, str], ...]  # (name, the file's column) for the names used
    row_count: int
    rows: tuple[dict[str, Any], ...]  # the first rows as LLaMA-Factory will read them
    problems: tuple[str, ...]  # what prepare() would refuse the file for, in the same words

    @property
    def output(self) -> str:
        return "sharegpt" if self.format == "sharegpt" else "alpaca" if self.format else ""


@dataclass(frozen=True, slots=True)
class PreparedData:
    format: str  # "alpaca" | "sharegpt": LLaMA-Factory's formatting of train.json and eval.json
    train_rows: int
    eval_rows: int
    eval_from: str  # "file" | "val_size" | "none"
    source_format: str = ""  # "qa" | "alpaca" | "sharegpt": what the training file held
    system: bool = False  # Alpaca rows carry a "system" column


def data_files(hub: Hub, repo: RepoView, revision: str) -> list[str]:
    """The files at `revision` that could be training data, by their names (CSV, TSV, JSON, JSON Lines)."""
    snapshot = _snapshot(hub, repo, revision)
    return sorted(
        e.path
        for e in files.all_files(snapshot)
        if container_of(e.path) is not None
        and e.path.rsplit("/", 1)[-1] not in NOT_DATA
        and not any(part.startswith(".") for part in e.path.split("/"))
    )


def preview(
    hub: Hub, repo: RepoView, revision: str, path: str, mapping: Mapping[str, Any] | None, *, limit: int = 20
) -> DataPreview:
    """What `path` holds and what is wrong with it; data problems are listed, never raised (a missing file is
    EntryNotFound)."""
    snapshot = _snapshot(hub, repo, revision)
    content = files.file_content(snapshot, path)
    container = container_of(path) or ""
    refused: tuple[str, ...] = ()
    try:
        columns = ColumnMapping.parse(mapping)
    except TrainingDataError as exc:
        refused, columns = exc.problems, ColumnMapping()  # still show the file's columns, to map them
    try:
        table, result = _read(hub, snapshot, path, columns)
    except TrainingDataError as exc:
        return DataPreview(path, content.size, container, "", (), (), 0, (), (*refused, *exc.problems))
    if refused:
        return DataPreview(path, content.size, container, "", tuple(table), (), len(result.rows), (), refused)
    return DataPreview(
        path,
        content.size,
        container,
        result.format,
        tuple(table),
        tuple(result.columns.items()),
        len(result.rows),
        tuple(result.rows[: max(0, limit)]),
        tuple(result.problems),
    )


def prepare(
    hub: Hub,
    repo: RepoView,
    revision: str,
    train_path: str,
    eval_path: str | None,
    mapping: Mapping[str, Any] | None,
    work: Path,
    *,
    val_size: float,
    seed: int,
) -> PreparedData:
    """Validate the training (and evaluation) file and write them in LLaMA-Factory's format to `work`;
    TrainingDataError names the file and says every problem."""
    if not 0 <= val_size < 1:
        raise InvalidArgument(f"val_size must be at least 0 and below 1, not {val_size}")
    snapshot = _snapshot(hub, repo, revision)
    columns = ColumnMapping.parse(mapping)
    train = _valid(hub, snapshot, train_path, columns)
    rows, held = train.rows, []
    if eval_path:
        evaluation = _valid(hub, snapshot, eval_path, columns)
        if evaluation.output != train.output:
            raise TrainingDataError(
                [f"The evaluation file holds {evaluation.output} rows and the training file {train.output} rows"],
                path=eval_path,
            )
        held, source = evaluation.rows, "file"
    elif val_size > 0:
        rows, held = _split(train.rows, val_size, seed, train_path)
        source = "val_size"
    else:
        source = "none"
    system = "system" in train.columns and train.output == "alpaca"
    if system:
        held = [{**r, "system": r.get("system", "")} for r in held]
    work.mkdir(parents=True, exist_ok=True)
    _write_json(work / TRAIN, rows)
    if held:
        _write_json(work / EVAL, held)
    else:
        (work / EVAL).unlink(missing_ok=True)  # from an earlier preparation in the same folder
    prepared = PreparedData(train.output, len(rows), len(held), source, train.format, system)
    _write_json(work / INFO, dataset_info(prepared))
    return prepared


def dataset_info(prepared: PreparedData) -> dict[str, Any]:
    """LLaMA-Factory's dataset_info.json for the files prepare() wrote: datasets "train" and "eval"."""
    if prepared.format == "sharegpt":
        tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
        entry: dict[str, Any] = {
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {**tags, "system_tag": "system"},
        }
    else:
        columns = {"prompt": "instruction", "query": "input", "response": "output"}
        entry = {"formatting": "alpaca", "columns": {**columns, **({"system": "system"} if prepared.system else {})}}
    info = {"train": {"file_name": TRAIN, **entry}}
    if prepared.eval_rows:
        info["eval"] = {"file_name": EVAL, **entry}
    return info


def _snapshot(hub: Hub, repo: RepoView, revision: str) -> files.Snapshot:
    git = hub.git(repo.id)
    sha = git.resolve(validate_revision(revision))
    return files.Snapshot(repo, git, sha, hub.listings, hub.entries, hub.small_blobs)


def _read(hub: Hub, snapshot: files.Snapshot, path: str, mapping: ColumnMapping) -> tuple[list[str], Normalized]:
    content = files.file_content(snapshot, path)  # EntryNotFound when it is not there at that commit
    container = container_of(path)
    if container is None:
        kinds = ", ".join(sorted(CONTAINERS))
        raise TrainingDataError([f"'{path}' is not a training file: use CSV, TSV, JSON or JSON Lines ({kinds})"])
    limit = hub.settings.finetune_data_max_bytes
    if content.size > limit:
        raise TrainingDataError(
            [
                f"The file holds {content.size:,} bytes, more than the {limit:,} bytes training data may hold "
                "(setting finetune_data_max_bytes)"
            ]
        )
    table = read_table(_chunks(hub, snapshot, content, path), container)
    return table.columns, normalize(table, mapping)


def _chunks(hub: Hub, snapshot: files.Snapshot, content: files.FileContent, path: str) -> Iterator[bytes]:
    try:
        yield from files.read_file(hub, snapshot, content)
    except BlobNotFound:
        raise TrainingDataError(
            [f"The LFS object of '{path}' is missing from the hub's store: upload the file again"]
        ) from None


def _valid(hub: Hub, snapshot: files.Snapshot, path: str, mapping: ColumnMapping) -> Normalized:
    try:
        _, result = _read(hub, snapshot, path, mapping)
    except TrainingDataError as exc:
        raise exc.at(path) from None
    if result.problems:
        raise TrainingDataError(result.problems, path=path)
    return result


def _split(
    rows: list[dict[str, Any]], val_size: float, seed: int, path: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A seeded `val_size` share of the rows held out for evaluation (at least one), both in file order."""
    count = max(1, round(len(rows) * val_size))
    if count >= len(rows):
        raise TrainingDataError(
            [f"val_size {val_size} holds out {count} of the {len(rows)} rows and leaves none to train on"], path=path
        )
    held = set(random.Random(seed).sample(range(len(rows)), count))
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


def _write_json(path: Path, value: Any) -> None:
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "w", encoding="utf-8") as fh:
        json.dump(value, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    temp.replace(path)
