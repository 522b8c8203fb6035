"""The `datasets` library against a live hub, with HF_ENDPOINT pointing at it: CSV, Parquet and JSON
Lines repositories (configs from the card's `configs:`), a private one with a token (and a clear
failure without), and the converted Parquet revision `refs/convert/parquet`.

Each load runs in a child process with an HF_HOME of its own, so no cache carries over between loads,
and with a guard that refuses and records every host name other than the hub's loopback address: the
test sees the library reach nothing else (huggingface.co included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.support.clients import create_repo
from tests.support.live import LiveHub
from tests.support.parquet_ref import PARQUET_REF, parquet_bytes, wait_for_conversion

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

# Loaded first by the child's interpreter: every name lookup is written down, and all but the hub's
# loopback address refused, so an attempt to reach anything else cannot succeed, nor go unseen.
GUARD = """
import os, socket
_lookup = socket.getaddrinfo
def _guarded(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host)
    with open(os.environ["HOSTS_SEEN"], "a") as seen:
        seen.write(name + "\\n")
    if name not in ("127.0.0.1", "localhost"):
        raise socket.gaierror(socket.EAI_NONAME, "refused by the test: only the hub may be reached")
    return _lookup(host, *args, **kwargs)
socket.getaddrinfo = _guarded
"""
# What a child prints on its last line: each split's row count, first row and feature types.
SUMMARY = """
import json
def summary(dd):
    return {name: {"rows": ds.num_rows, "first": ds[0], "features": {k: str(v) for k, v in ds.features.items()},
                   "builder": ds.info.builder_name} for name, ds in dd.items()}
"""
# A hostname the library derives from HF_ENDPOINT for HF's dataset viewer; refused by the guard, and
# the library goes on without it.
VIEWER_GUESS = "datasets-server.127.0.0.1"


@dataclass
class Loaded:
    returncode: int
    result: Any
    stderr: str
    hosts: set[str]


def _load(live: LiveHub, tmp_path: Path, code: str, *, token: str | None = None, count_loads: bool = False) -> Loaded:
    """Run `code` (which ends by printing JSON) in a child with the datasets library aimed at the hub."""
    home = tmp_path / f"hf-home-{len(list(tmp_path.glob('hf-home-*')))}"
    guard = home / "guard"
    guard.mkdir(parents=True)
    (guard / "sitecustomize.py").write_text(GUARD)
    hosts = home / "hosts.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        HF_ENDPOINT=live.url,
        HF_HOME=str(home),
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_TELEMETRY="1",
        HOSTS_SEEN=str(hosts),
        PYTHONPATH=os.pathsep.join([str(guard), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    if not count_loads:
        # Otherwise each load also HEADs a file in Hugging Face's S3 bucket to count it.
        env["HF_UPDATE_DOWNLOAD_COUNTS"] = "0"
    if token:
        env["HF_TOKEN"] = token
    ran = subprocess.run(
        [sys.executable, "-c", SUMMARY + code], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    lines = ran.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if ran.returncode == 0 and lines else None
    seen = set(hosts.read_text().split()) if hosts.exists() else set()
    return Loaded(ran.returncode, result, ran.stderr, seen)


def _only_the_hub(loaded: Loaded) -> None:
    assert loaded.hosts <= {"127.0.0.1", VIEWER_GUESS}, loaded.hosts
    assert "127.0.0.1" in loaded.hosts


def _dataset(live: LiveHub, files: dict[str, bytes], *, private: bool = False) -> tuple[str, str]:
    user, token = live.user("dl")
    repo = f"{user}/data"
    create_repo(live.url, token, repo, repo_type="dataset", private=private)
    operations = [CommitOperationAdd(path, data) for path, data in files.items()]
    HfApi(endpoint=live.url, token=token).create_commit(
        repo, operations, repo_type="dataset", commit_message="Add data"
    )
    return repo, token


def test_load_dataset_reads_a_csv_repo_with_splits_from_file_names(live: LiveHub, tmp_path: Path) -> None:
    repo, _ = _dataset(live, {"train.csv": b"id,text\n1,alpha\n2,beta\n3,gamma\n", "test.csv": b"id,text\n4,delta\n"})
    loaded = _load(live, tmp_path, f"import datasets; print(json.dumps(summary(datasets.load_dataset({repo!r}))))")
    assert loaded.returncode == 0, loaded.stderr
    assert {name: s["rows"] for name, s in loaded.result.items()} == {"train": 3, "test": 1}
    assert loaded.result["train"]["first"] == {"id": 1, "text": "alpha"}
    assert loaded.result["test"]["first"] == {"id": 4, "text": "delta"}
    assert loaded.result["train"]["features"] == {"id": "Value('int64')", "text": "Value('large_string')"}
    assert loaded.result["train"]["builder"] == "csv"
    _only_the_hub(loaded)


def test_load_dataset_reads_a_parquet_repo_stored_in_lfs(live: LiveHub, tmp_path: Path) -> None:
    train = parquet_bytes({"x": list(range(1000)), "tags": [["a", "b"]] * 1000, "score": [0.5] * 1000})
    valid = parquet_bytes({"x": [7], "tags": [["c"]], "score": [1.5]})
    repo, token = _dataset(
        live,
        {"data/train-00000-of-00001.parquet": train, "data/validation-00000-of-00001.parquet": valid},
    )
    [entry] = HfApi(endpoint=live.url, token=token).get_paths_info(
        repo, ["data/train-00000-of-00001.parquet"], repo_type="dataset"
    )
    assert entry.lfs is not None and entry.lfs.size == len(train)
    code = f"import datasets; print(json.dumps(summary(datasets.load_dataset({repo!r}))))"
    loaded = _load(live, tmp_path, code)
    assert loaded.returncode == 0, loaded.stderr
    assert {name: s["rows"] for name, s in loaded.result.items()} == {"train": 1000, "validation": 1}
    assert loaded.result["validation"]["first"] == {"x": 7, "tags": ["c"], "score": 1.5}
    assert loaded.result["train"]["builder"] == "parquet"
    _only_the_hub(loaded)


CONFIGS_CARD = b"""---
configs:
- config_name: en
  data_files:
  - split: train
    path: en/train.jsonl
  - split: test
    path: en/test.jsonl
  default: true
- config_name: fr
  data_files:
  - split: train
    path: fr/*.jsonl
---
# Greetings in two languages
"""
JSONL_FILES = {
    "README.md": CONFIGS_CARD,
    "en/train.jsonl": b'{"text": "hello", "n": 1}\n{"text": "bye", "n": 2}\n',
    "en/test.jsonl": b'{"text": "hi", "n": 3}\n',
    "fr/part-1.jsonl": b'{"text": "bonjour", "n": 1}\n',
    "fr/part-2.jsonl": b'{"text": "salut", "n": 2}\n{"text": "adieu", "n": 3}\n',
}


def test_load_dataset_reads_each_config_of_a_jsonl_repo_from_its_card(live: LiveHub, tmp_path: Path) -> None:
    repo, _ = _dataset(live, JSONL_FILES)
    code = f"""
import datasets
names = datasets.get_dataset_config_names({repo!r})
splits = {{n: datasets.get_dataset_split_names({repo!r}, n) for n in names}}
loads = {{n: summary(datasets.load_dataset({repo!r}, n)) for n in names}}
default = summary(datasets.load_dataset({repo!r}))
print(json.dumps({{"names": names, "splits": splits, "loads": loads, "default": default}}))
"""
    loaded = _load(live, tmp_path, code)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.result["names"] == ["en", "fr"]
    assert loaded.result["splits"] == {"en": ["train", "test"], "fr": ["train"]}
    en, fr = loaded.result["loads"]["en"], loaded.result["loads"]["fr"]
    assert {s: v["rows"] for s, v in en.items()} == {"train": 2, "test": 1}
    assert en["train"]["first"] == {"text": "hello", "n": 1}
    assert fr["train"]["rows"] == 3 and fr["train"]["first"]["text"] in {"bonjour", "salut"}
    assert loaded.result["default"] == en, "the card marks 'en' as the default config"
    _only_the_hub(loaded)


def test_load_dataset_of_a_private_repo_needs_a_token_that_may_read_it(live: LiveHub, tmp_path: Path) -> None:
    repo, token = _dataset(live, {"train.csv": b"secret,n\nx,1\ny,2\n"}, private=True)
    code = f"import datasets; print(json.dumps(summary(datasets.load_dataset({repo!r}))))"
    loaded = _load(live, tmp_path, code, token=token)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.result["train"]["rows"] == 2 and loaded.result["train"]["first"] == {"secret": "x", "n": 1}
    _only_the_hub(loaded)
    _, other_token = live.user("stranger")
    for who in (None, other_token):
        refused = _load(live, tmp_path, code, token=who)
        assert refused.returncode != 0
        assert "DatasetNotFoundError" in refused.stderr, refused.stderr[-2000:]
        assert f"Dataset '{repo}' doesn't exist on the Hub or cannot be accessed" in refused.stderr
        _only_the_hub(refused)


def test_load_dataset_reads_the_parquet_revision_of_a_one_config_dataset(live: LiveHub, tmp_path: Path) -> None:
    repo, token = _dataset(live, {"train.csv": b"id,text\n1,alpha\n2,beta\n3,gamma\n", "test.csv": b"id,text\n4,d\n"})
    assert [s.shards[0].path for s in wait_for_conversion(live, token, repo).splits] == [
        "default/train/0000.parquet",
        "default/test/0000.parquet",
    ]
    code = f"import datasets; print(json.dumps(summary(datasets.load_dataset({repo!r}, revision={PARQUET_REF!r}))))"
    loaded = _load(live, tmp_path, code)
    assert loaded.returncode == 0, loaded.stderr
    assert {name: s["rows"] for name, s in loaded.result.items()} == {"train": 3, "test": 1}
    assert loaded.result["train"]["builder"] == "parquet"
    assert loaded.result["train"]["first"] == {"id": 1, "text": "alpha"}
    _only_the_hub(loaded)


def test_load_dataset_reads_the_converted_parquet_revision(live: LiveHub, tmp_path: Path) -> None:
    repo, token = _dataset(live, JSONL_FILES)
    catalog = wait_for_conversion(live, token, repo)
    assert sorted(s.shards[0].path for s in catalog.splits) == [
        "en/test/0000.parquet",
        "en/train/0000.parquet",
        "fr/train/0000.parquet",
    ]
    code = f"""
import datasets
fr = datasets.load_dataset({repo!r}, revision={PARQUET_REF!r}, data_dir="fr")
en = datasets.load_dataset({repo!r}, revision={PARQUET_REF!r}, data_dir="en")
print(json.dumps({{"fr": summary(fr), "en": summary(en)}}))
"""
    loaded = _load(live, tmp_path, code)
    assert loaded.returncode == 0, loaded.stderr
    fr, en = loaded.result["fr"], loaded.result["en"]
    assert fr["train"]["builder"] == "parquet", "read from the converted shards, not the JSON Lines files"
    assert fr["train"]["rows"] == 3 and fr["train"]["first"]["text"] in {"bonjour", "salut"}
    assert {s: v["rows"] for s, v in en.items()} == {"train": 2, "test": 1}
    assert en["test"]["first"] == {"text": "hi", "n": 3}
    assert en["train"]["features"] == {"text": "Value('string')", "n": "Value('int64')"}
    _only_the_hub(loaded)


def test_the_guard_sees_what_the_library_would_reach_beyond_the_hub(live: LiveHub, tmp_path: Path) -> None:
    """The check above is real: left to count loads, the library reaches for Hugging Face's bucket,
    and the guard records it (and refuses it; the load still succeeds from the hub)."""
    repo, _ = _dataset(live, {"train.csv": b"a\n1\n"})
    code = f"import datasets; print(json.dumps(summary(datasets.load_dataset({repo!r}))))"
    loaded = _load(live, tmp_path, code, count_loads=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.result["train"]["rows"] == 1
    assert "s3.amazonaws.com" in loaded.hosts, loaded.hosts
