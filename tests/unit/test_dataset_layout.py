"""Layout detection: configs, splits and files as the `datasets` library resolves them for the same folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csghub.core.errors import NotFound
from csghub.services.datasets.errors import DatasetLayoutError
from csghub.services.datasets.layout import Layout, detect_layout, file_format, parse_front_matter


def _content(path: str) -> bytes:
    name = path.removesuffix(".gz").removesuffix(".zst")
    if name.endswith(".parquet"):
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"a": [1, 2]}), sink)
        return sink.getvalue().to_pybytes()
    if name.endswith((".csv",)):
        raw = b"a,b\n1,x\n"
    elif name.endswith(".tsv"):
        raw = b"a\tb\n1\tx\n"
    elif name.endswith(".json"):
        raw = json.dumps([{"a": 1}]).encode()
    elif name.endswith((".jsonl", ".ndjson")):
        raw = b'{"a": 1}\n'
    else:
        raw = b"not data\n"
    return gzip.compress(raw) if path.endswith(".gz") else raw


CONFIGS_README = """---
license: mit
configs:
- config_name: first
  data_files: "one/*.csv"
- config_name: second
  default: true
  data_files:
  - split: train
    path: "two/train-*.jsonl"
  - split: test
    path: ["two/test.jsonl", "two/extra/*.jsonl"]
- config_name: third
  data_dir: three
- config_name: fourth
  data_files:
  - split: validation
    path: four/v.parquet
  - split: test
    path: [four/t1.parquet, four/t2.parquet]
---
# A dataset
"""

LAYOUTS: list[tuple[list[str], str | None]] = [
    (["data.csv"], None),
    (["train.csv", "test.csv", "LICENSE"], None),
    (["data/train.jsonl", "data/validation.jsonl", "data/test.jsonl"], None),
    (
        [
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet",
            "data/test-00000-of-00001.parquet",
            "data/random-00000-of-00001.parquet",
        ],
        None,
    ),
    (["train/a.csv", "train/b.csv", "test/c.csv", "test/d.csv"], None),
    (["training.tsv", "dev.tsv", "eval.tsv"], None),
    (["my_train_0.json", "my_train_1.json", "my-test-0.json"], None),
    (["train.csv.gz", "test.csv.gz", "validation.csv.zst"], None),
    (["data.csv", ".hidden/train.csv", "__pycache__/test.csv"], None),
    (["train.csv", "train_extra.parquet", "train_more.parquet"], None),
    (["a/b/validation/x.jsonl", "a/b/train/y.jsonl", "a/b/train/z.jsonl"], None),
    (["val.csv"], None),
    (["data/train_0.parquet", "data/test_0.parquet", "data/valid_0.parquet", "data/eval_1.parquet"], None),
    (["split_one.ndjson", "split_two.ndjson"], None),
    (["evaluation/part.csv", "training/part.csv", "notes.md"], None),
    (["latest.csv", "contest.csv", "test_data.csv"], None),
    (["train.csv", "train.parquet"], None),
    (["data/train/a.csv", "data/test.csv", "data/validation.csv"], None),
    (["TRAIN.csv", "other.csv"], None),
    (["data/train-00000-of-00001.csv", "data/train.csv", "test.csv"], None),
    (["a.csv", "b.jsonl", "c.jsonl"], None),
    (
        [
            "one/a.csv",
            "one/b.csv",
            "two/train-1.jsonl",
            "two/train-2.jsonl",
            "two/test.jsonl",
            "two/extra/more.jsonl",
            "three/train.csv",
            "three/dev.csv",
            "four/v.parquet",
            "four/t1.parquet",
            "four/t2.parquet",
        ],
        CONFIGS_README,
    ),
]


def _datasets_view(root: Path, cache: Path) -> dict[str, object]:
    """What the `datasets` library resolves for a local folder: configs -> splits -> relative files. Its caches go
    to the test's own folder; a local folder needs no network."""
    import datasets

    names = datasets.get_dataset_config_names(str(root))
    default = datasets.get_dataset_default_config_name(str(root))
    configs: dict[str, dict[str, list[str]]] = {}
    for name in names:
        builder = datasets.load_dataset_builder(str(root), name, cache_dir=str(cache))
        data_files = builder.config.data_files or {}
        configs[name] = {
            split: [Path(f).resolve().relative_to(root.resolve()).as_posix() for f in files]
            for split, files in data_files.items()
        }
    return {"default": default or "default", "configs": configs}


def _our_view(layout: Layout) -> dict[str, object]:
    default = layout.default_config
    return {
        "default": default.name if default else None,
        "configs": {c.name: {s.name: [f.path for f in s.files] for s in c.splits} for c in layout.configs},
    }


@pytest.mark.parametrize(("paths", "readme"), LAYOUTS, ids=[",".join(p[:2]) for p, _ in LAYOUTS])
def test_layout_equals_datasets_library(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, paths: list[str], readme: str | None
) -> None:
    files: dict[str, int] = {}
    for rel in paths:
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_content(rel))
        files[rel] = target.stat().st_size
    if readme is not None:
        (tmp_path / "README.md").write_text(readme)
        files["README.md"] = len(readme)
    ours = _our_view(detect_layout(files, readme))
    assert ours == _datasets_view(tmp_path, tmp_path_factory.mktemp("datasets-cache"))


def test_layout_records_formats_compressions_and_sizes() -> None:
    layout = detect_layout({"train.csv.gz": 10, "test.csv.zst": 20, "validation.tsv": 5})
    config = layout.get_config("default")
    assert [s.name for s in config.splits] == ["train", "validation", "test"]
    (test_file,) = config.get_split("test").files
    assert (test_file.format, test_file.compression, test_file.size) == ("csv", "zstd", 20)
    assert config.get_split("validation").files[0].format == "tsv"
    assert config.get_split("train").size == 10


def test_layout_ignores_unsupported_files() -> None:
    assert detect_layout({"model.safetensors": 5, "README.md": 3, "notes.txt": 1}).configs == ()
    only_data = detect_layout({"pics/a.png": 5, "table.jsonl": 2})
    assert [f.path for f in only_data.configs[0].splits[0].files] == ["table.jsonl"]


def test_file_format_knows_every_supported_kind() -> None:
    assert file_format("a/x.CSV") == ("csv", "none")
    assert file_format("x.tsv.gz") == ("tsv", "gzip")
    assert file_format("x.json.zst") == ("json", "zstd")
    assert file_format("x.ndjson") == ("jsonl", "none")
    assert file_format("x.parquet") == ("parquet", "none")
    assert file_format("x.txt") is None
    assert file_format("x.gz") is None


def test_front_matter_broken_or_absent_is_empty() -> None:
    assert parse_front_matter(None) == {}
    assert parse_front_matter("# title\n") == {}
    assert parse_front_matter("---\n: [\n---\n") == {}
    assert parse_front_matter("---\nconfigs: []\n---\nbody") == {"configs": []}


def test_front_matter_missing_plain_path_is_a_layout_error() -> None:
    readme = "---\nconfigs:\n- config_name: a\n  data_files: nothere.csv\n---\n"
    with pytest.raises(DatasetLayoutError) as caught:
        detect_layout({"other.csv": 1}, readme)
    assert "nothere.csv" in caught.value.message and caught.value.status == 400


def test_front_matter_two_defaults_is_a_layout_error() -> None:
    readme = "---\nconfigs:\n- config_name: a\n  default: true\n- config_name: b\n  default: true\n---\n"
    with pytest.raises(DatasetLayoutError, match="default"):
        detect_layout({"x.csv": 1}, readme)


@pytest.mark.parametrize(
    "data_files",
    ["{train: x.csv}", "[{split: bad-name, path: x.csv}]", "[{split: a, path: x.csv}, {split: a, path: x.csv}]"],
)
def test_front_matter_refuses_what_the_hub_refuses(data_files: str) -> None:
    readme = f"---\nconfigs:\n- config_name: a\n  data_files: {data_files}\n---\n"
    with pytest.raises(DatasetLayoutError):
        detect_layout({"x.csv": 1}, readme)


def test_front_matter_sep_is_kept_for_csv() -> None:
    readme = "---\nconfigs:\n- config_name: semi\n  data_files: x.csv\n  sep: ';'\n---\n"
    config = detect_layout({"x.csv": 1}, readme).get_config("semi")
    assert config.delimiter == ";" and config.default


def test_unknown_config_and_split_are_not_found() -> None:
    layout = detect_layout({"train.csv": 1})
    with pytest.raises(NotFound):
        layout.get_config("nope")
    with pytest.raises(NotFound):
        layout.get_config("default").get_split("test")


def _generated_layouts() -> list[list[str]]:
    """Every naming convention crossed with each format family, compression and set of splits."""
    styles = {
        "flat": "{split}.{ext}",
        "data_dir": "data/{split}.{ext}",
        "folders": "{split}/part-0.{ext}",
        "nested_folders": "corpus/{split}/part-0.{ext}",
        "sharded": "data/{split}-00000-of-00002.{ext}",
        "prefixed": "my_dataset_{split}_1.{ext}",
        "suffix_digits": "{split}_00.{ext}",
    }
    aliases = {"train": ["train", "training"], "validation": ["validation", "valid", "dev", "val"],
               "test": ["test", "testing", "eval", "evaluation"]}  # fmt: skip
    exts = ["csv", "tsv.gz", "jsonl", "json", "jsonl.zst", "parquet"]
    split_sets = [["train"], ["train", "test"], ["train", "validation", "test"], ["validation", "test"]]
    out = []
    for s_index, style in enumerate(styles.values()):
        for e_index, ext in enumerate(exts):
            splits = split_sets[(s_index + e_index) % len(split_sets)]
            names = []
            for k, split in enumerate(splits):
                alias = aliases[split][(s_index + e_index + k) % len(aliases[split])]
                names.append(style.format(split=alias if "sharded" not in style else split, ext=ext))
                if "sharded" in style:
                    names.append(style.replace("00000", "00001").format(split=split, ext=ext))
            out.append(names)
    return out


GENERATED = _generated_layouts()


@pytest.mark.parametrize("paths", GENERATED, ids=[p[0] for p in GENERATED])
def test_generated_layout_equals_datasets_library(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, paths: list[str]
) -> None:
    test_layout_equals_datasets_library(tmp_path, tmp_path_factory, paths, None)
