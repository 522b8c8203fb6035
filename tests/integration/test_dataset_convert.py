"""Conversion of generated datasets (every format and compression, several configs and splits) to Parquet."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.convert import ConversionLimits, convert_split
from csghub.services.datasets.errors import DatasetFileError
from csghub.services.datasets.layout import Config, DataFile, Layout, Split, detect_layout

ROWS = [{"id": i, "name": f"name {i}", "score": i * 0.5} for i in range(50)]


def _csv(rows: list[dict[str, object]], sep: str = ",") -> bytes:
    lines = [sep.join(rows[0])] + [sep.join(str(v) for v in r.values()) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _encode(name: str, rows: list[dict[str, object]]) -> bytes:
    base = name.removesuffix(".gz").removesuffix(".zst")
    if base.endswith(".parquet"):
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows), sink)
        raw = sink.getvalue().to_pybytes()
    elif base.endswith(".tsv"):
        raw = _csv(rows, "\t")
    elif base.endswith(".csv"):
        raw = _csv(rows)
    elif base.endswith(".jsonl"):
        raw = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    else:
        raw = json.dumps(rows).encode()
    if name.endswith(".gz"):
        return gzip.compress(raw)
    if name.endswith(".zst"):
        # Arrow's zstd codec writes a standard zstd frame, what `zstd` the tool writes too.
        return pa.compress(raw, codec="zstd", asbytes=True)
    return raw


def _repo(root: Path, files: dict[str, list[dict[str, object]]], readme: str | None = None) -> Layout:
    sizes = {}
    for name, rows in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_encode(name, rows))
        sizes[name] = path.stat().st_size
    return detect_layout(sizes, readme)


def _read(folder: Path, shards: tuple[str, ...]) -> list[dict[str, object]]:
    return pa.concat_tables([pq.read_table(folder / s) for s in shards]).to_pylist()


@pytest.mark.parametrize(
    "name",
    [
        "train.csv",
        "train.csv.gz",
        "train.csv.zst",
        "train.tsv",
        "train.tsv.gz",
        "train.json",
        "train.json.gz",
        "train.jsonl",
        "train.jsonl.zst",
        "train.parquet",
    ],
)
def test_convert_every_format_and_compression(tmp_path: Path, name: str) -> None:
    layout = _repo(tmp_path / "repo", {name: ROWS})
    config = layout.configs[0]
    out = tmp_path / "out" / "default" / "train"
    result = convert_split(config, config.get_split("train"), tmp_path / "repo", out)
    assert result.num_rows == 50 and result.schema.names == ["id", "name", "score"]
    assert pa.types.is_integer(result.schema.field("id").type)
    assert pa.types.is_string(result.schema.field("name").type) or pa.types.is_large_string(
        result.schema.field("name").type
    )
    assert _read(out, result.shards) == ROWS
    assert result.bytes_in == (tmp_path / "repo" / name).stat().st_size
    assert result.bytes_out == sum((out / s).stat().st_size for s in result.shards)
    assert sorted(p.name for p in out.iterdir()) == list(result.shards) == ["0000.parquet"]


def test_convert_several_configs_and_splits_keep_row_order_across_shards(tmp_path: Path) -> None:
    readme = """---
configs:
- config_name: big
  data_files:
  - split: train
    path: big/train-*.csv
  - split: test
    path: big/test.jsonl
- config_name: small
  data_files: small/*.parquet
---
"""
    many = [{"id": i, "text": f"row {i} " + "x" * (i % 50)} for i in range(60_000)]
    layout = _repo(
        tmp_path / "repo",
        {
            "big/train-1.csv": many[:30_000],
            "big/train-2.csv": many[30_000:],
            "big/test.jsonl": many[:10],
            "small/a.parquet": ROWS[:5],
            "small/b.parquet": ROWS[5:],
        },
        readme,
    )
    limits = ConversionLimits(shard_bytes=200_000, row_group_rows=4_096, memory_limit_bytes=256 * 1024 * 1024)
    big = layout.get_config("big")
    out = tmp_path / "out"
    train = convert_split(big, big.get_split("train"), tmp_path / "repo", out / "big" / "train", limits)
    assert train.num_rows == 60_000 and len(train.shards) > 1
    assert train.shards == tuple(f"{i:04d}.parquet" for i in range(len(train.shards)))
    assert _read(out / "big" / "train", train.shards) == many
    first = pq.ParquetFile(out / "big" / "train" / "0000.parquet").metadata
    assert max(first.row_group(i).num_rows for i in range(first.num_row_groups)) <= 4_096
    test = convert_split(big, big.get_split("test"), tmp_path / "repo", out / "big" / "test", limits)
    assert _read(out / "big" / "test", test.shards) == many[:10]
    small = layout.get_config("small")
    mapping = {f.path: tmp_path / "repo" / f.path for f in small.get_split("train").files}
    result = convert_split(small, small.get_split("train"), mapping, out / "small" / "train", limits)
    assert _read(out / "small" / "train", result.shards) == ROWS


def test_convert_mixed_csv_and_tsv_glues_by_column_name(tmp_path: Path) -> None:
    layout = _repo(tmp_path / "repo", {"train/a.csv": ROWS[:3], "train/b.tsv": ROWS[3:6]})
    config = layout.configs[0]
    result = convert_split(config, config.get_split("train"), tmp_path / "repo", tmp_path / "out")
    assert _read(tmp_path / "out", result.shards) == ROWS[:6]


# One shard written by DuckDB's COPY, or shards streamed to pyarrow's writer (a source larger than a shard).
SHARDINGS = [ConversionLimits(), ConversionLimits(shard_bytes=100_000, row_group_rows=4_096)]


@pytest.mark.parametrize("limits", SHARDINGS, ids=["copy", "streamed"])
def test_convert_late_type_change_guesses_again_from_every_row(tmp_path: Path, limits: ConversionLimits) -> None:
    rows = [{"v": str(i)} for i in range(30_000)] + [{"v": "not a number"}]
    layout = _repo(tmp_path / "repo", {"data.csv": rows})
    config = layout.configs[0]
    result = convert_split(config, config.get_split("train"), tmp_path / "repo", tmp_path / "out", limits)
    assert result.num_rows == 30_001 and pa.types.is_string(result.schema.field("v").type)
    assert _read(tmp_path / "out", result.shards)[-1] == {"v": "not a number"}


def test_convert_front_matter_delimiter(tmp_path: Path) -> None:
    readme = "---\nconfigs:\n- config_name: semi\n  data_files: x.csv\n  sep: ';'\n---\n"
    (tmp_path / "x.csv").write_text("a;b\n1;hello, world\n")
    layout = detect_layout({"x.csv": 20}, readme)
    config = layout.configs[0]
    result = convert_split(config, config.get_split("train"), tmp_path, tmp_path / "out")
    assert _read(tmp_path / "out", result.shards) == [{"a": 1, "b": "hello, world"}]


def test_malformed_csv_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,b\n1,x\n2,y\n")
    (tmp_path / "data" / "train-2.csv").write_text('a,b\n1,x\n2,y,z,w\n3,"unterminated\n')
    layout = detect_layout({"data/train.csv": 12, "data/train-2.csv": 30})
    config = layout.configs[0]
    with pytest.raises(DatasetFileError) as caught:
        convert_split(config, config.get_split("train"), tmp_path, tmp_path / "out" / "train")
    error = caught.value
    assert error.path == "data/train-2.csv" and error.status == 400
    assert error.message.startswith("Cannot read data/train-2.csv")
    assert str(tmp_path) not in error.message  # no server paths in what a user reads
    assert not (tmp_path / "out" / "train").exists() and list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("limits", SHARDINGS, ids=["copy", "streamed"])
def test_malformed_csv_far_down_gives_the_line(tmp_path: Path, limits: ConversionLimits) -> None:
    good = "".join(f"{i},word{i}\n" for i in range(40_000))
    (tmp_path / "train.csv").write_text("a,b\n" + good + "40000,x,extra,fields\n")
    layout = detect_layout({"train.csv": (tmp_path / "train.csv").stat().st_size})
    config = layout.configs[0]
    with pytest.raises(DatasetFileError) as caught:
        convert_split(config, config.get_split("train"), tmp_path, tmp_path / "out" / "train", limits)
    assert caught.value.path == "train.csv" and caught.value.line is not None
    assert caught.value.line >= 40_000 and f"line {caught.value.line}" in caught.value.message
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written stays behind


def test_malformed_jsonl_gives_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a" 3}\n{"a": 4}\n')
    config = detect_layout({"train.jsonl": 1}).configs[0]
    with pytest.raises(DatasetFileError) as caught:
        convert_split(config, config.get_split("train"), tmp_path, tmp_path / "out")
    assert caught.value.path == "train.jsonl" and caught.value.line == 3
    assert "Malformed JSON" in caught.value.message


def test_not_really_parquet_is_a_file_error(tmp_path: Path) -> None:
    (tmp_path / "train.parquet").write_text("a,b\n1,2\n")
    config = detect_layout({"train.parquet": 1}).configs[0]
    with pytest.raises(DatasetFileError, match=r"train\.parquet"):
        convert_split(config, config.get_split("train"), tmp_path, tmp_path / "out")


def test_reconversion_replaces_the_split_atomically(tmp_path: Path) -> None:
    layout = _repo(tmp_path / "repo", {"train.parquet": ROWS})
    config = layout.configs[0]
    out = tmp_path / "out" / "train"
    convert_split(config, config.get_split("train"), tmp_path / "repo", out)
    (out / "stale.parquet").write_bytes(b"old")
    _repo(tmp_path / "repo", {"train.parquet": ROWS[:2]})
    result = convert_split(config, config.get_split("train"), tmp_path / "repo", out)
    assert result.num_rows == 2 and sorted(p.name for p in out.iterdir()) == ["0000.parquet"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train"]


def test_bad_delimiter_is_invalid_argument(tmp_path: Path) -> None:
    readme = "---\nconfigs:\n- config_name: c\n  data_files: x.csv\n  sep: ''\n---\n"
    (tmp_path / "x.csv").write_text("a\n1\n")
    config = detect_layout({"x.csv": 4}, readme).configs[0]
    with pytest.raises(InvalidArgument, match="delimiter"):
        convert_split(config, config.get_split("train"), tmp_path, tmp_path / "out")


def test_streamed_shards_use_dictionaries_only_where_values_repeat(tmp_path: Path) -> None:
    rows = [{"label": f"class {i % 3}", "text": f"unique sentence {i}"} for i in range(20_000)]
    config = _repo(tmp_path / "repo", {"train.jsonl": rows}).configs[0]
    limits = ConversionLimits(shard_bytes=100_000, row_group_rows=4_096)
    result = convert_split(config, config.get_split("train"), tmp_path / "repo", tmp_path / "out", limits)
    assert len(result.shards) > 1 and _read(tmp_path / "out", result.shards) == rows
    group = pq.ParquetFile(tmp_path / "out" / result.shards[0]).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: set(group.column(i).encodings) for i in range(group.num_columns)}
    assert "RLE_DICTIONARY" in encodings["label"] and "RLE_DICTIONARY" not in encodings["text"]
    assert all((tmp_path / "out" / s).stat().st_size <= 100_000 for s in result.shards)


def test_paths_outside_the_repository_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (tmp_path / "repo").mkdir()
    bad = Split("train", (DataFile("../secret.csv", 4, "csv", "none"),))
    with pytest.raises(InvalidArgument, match="inside the repository"):
        convert_split(Config("default", (bad,)), bad, tmp_path / "repo", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("shard_bytes", [256 * 1024 * 1024, 3_000_000], ids=["copy", "streamed"])
def test_wide_rows_get_smaller_row_groups(tmp_path: Path, shard_bytes: int) -> None:
    rows = [{"id": i, "doc": f"{i} " + "long text " * 400} for i in range(3_000)]  # ~4 KB a row
    config = _repo(tmp_path / "repo", {"train.jsonl": rows}).configs[0]
    limits = ConversionLimits(shard_bytes=shard_bytes, row_group_rows=32_768, row_group_bytes=1024 * 1024)
    result = convert_split(config, config.get_split("train"), tmp_path / "repo", tmp_path / "out", limits)
    assert _read(tmp_path / "out", result.shards) == rows
    for shard in result.shards:
        meta = pq.read_metadata(tmp_path / "out" / shard)
        groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
        assert all(g.num_rows <= 600 for g in groups), [g.num_rows for g in groups]
