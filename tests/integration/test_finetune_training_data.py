"""Training data read from a real dataset repository of an in-process hub: the files that could be training
data, a preview with its problems, and prepare() writing LLaMA-Factory's train/eval files, from git and from
an LFS object in the blob store; refusals name the file (missing, too large, broken rows)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from csghub.config import load_settings
from csghub.core.errors import EntryNotFound, InvalidArgument, RevisionNotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import User
from csghub.services.context import Hub
from csghub.services.finetune.training_data import (
    PreparedData,
    TrainingDataError,
    data_files,
    dataset_info,
    prepare,
    preview,
)
from csghub.services.identity.accounts import actor_for_user, create_user
from csghub.services.permissions import Actor
from csghub.services.repositories.commits import InlineFile, create_commit
from csghub.services.repositories.repos import RepoView, create_repo
from csghub.services.repositories.writes import VIA_API
from csghub.wiring import build_hub

COUNTRIES = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Egypt", "Cairo"),
    ("Peru", "Lima"),
    ("Kenya", "Nairobi"),
    ("Chile", "Santiago"),
    ("Spain", "Madrid"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
]
QA_CSV = b"question,answer\n" + b"".join(
    f"What is the capital of {c}?,The capital of {c} is {k}.\n".encode() for c, k in COUNTRIES
)


def _row(country: str, capital: str) -> dict[str, str]:
    return {
        "instruction": f"What is the capital of {country}?",
        "input": "",
        "output": f"The capital of {country} is {capital}.",
    }


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": tmp_path / "data", "finetune_data_max_bytes": 4096}))


@pytest.fixture
def owner(hub: Hub) -> Actor:
    view = create_user(hub, "alice", email="alice@example.com", password="correct horse battery")
    with hub.db() as session:
        user = session.get(User, view.id)
        assert user is not None
        return actor_for_user(session, user)


@pytest.fixture
def repo(hub: Hub, owner: Actor) -> RepoView:
    return create_repo(hub, owner, RepoType.DATASET, RepoId.of("alice", "capitals"), visibility="private")


def _commit(hub: Hub, actor: Actor, repo: RepoView, files: dict[str, bytes], tmp: Path) -> str:
    ops = []
    for path, data in files.items():
        spooled = tmp / f"f{len(list(tmp.iterdir()))}"
        spooled.write_bytes(data)
        ops.append(InlineFile(path, spooled, len(data), hashlib.sha256(data).hexdigest()))
    return create_commit(hub, actor, repo, "main", ops, summary="data", via=VIA_API).sha


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_data_files_lists_what_could_be_training_data(hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path) -> None:
    files = {
        "train.csv": QA_CSV,
        "data/chat.jsonl": b"{}\n",
        "data/more.json": b"[]",
        "data/dataset_info.json": b"{}",
        ".hidden/x.csv": b"a\n",
        "README.md": b"# capitals\n",
        "model.parquet": b"PAR1",
    }
    sha = _commit(hub, owner, repo, files, tmp_path)
    assert data_files(hub, repo, sha) == ["data/chat.jsonl", "data/more.json", "train.csv"]
    assert data_files(hub, repo, "main") == ["data/chat.jsonl", "data/more.json", "train.csv"]
    with pytest.raises(RevisionNotFound):
        data_files(hub, repo, "no-such-branch")


def test_prepare_writes_alpaca_rows_and_holds_out_a_seeded_share(
    hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path
) -> None:
    sha = _commit(hub, owner, repo, {"train.csv": QA_CSV}, tmp_path)
    work = tmp_path / "work"
    prepared = prepare(hub, repo, sha, "train.csv", None, None, work, val_size=0.2, seed=7)
    assert prepared == PreparedData("alpaca", 8, 2, "val_size", "qa", False)
    train, held = _read(work / "train.json"), _read(work / "eval.json")
    everything = [_row(c, k) for c, k in COUNTRIES]
    assert sorted(map(str, train + held)) == sorted(map(str, everything))
    assert train == [r for r in everything if r not in held]  # file order kept on both sides
    again = prepare(hub, repo, sha, "train.csv", None, None, tmp_path / "again", val_size=0.2, seed=7)
    assert again == prepared and _read(tmp_path / "again" / "eval.json") == held
    assert _read(work / "dataset_info.json") == {
        "train": {
            "file_name": "train.json",
            "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input", "response": "output"},
        },
        "eval": {
            "file_name": "eval.json",
            "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input", "response": "output"},
        },
    }
    # Without val_size nothing is held out, and an earlier eval.json in the folder goes.
    none = prepare(hub, repo, sha, "train.csv", None, None, work, val_size=0.0, seed=7)
    assert none == PreparedData("alpaca", 10, 0, "none", "qa", False)
    assert _read(work / "train.json") == everything and not (work / "eval.json").exists()
    assert set(_read(work / "dataset_info.json")) == {"train"}


def test_prepare_reads_an_lfs_file_and_an_eval_file_with_a_mapping(
    hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path
) -> None:
    _commit(hub, owner, repo, {".gitattributes": b"*.jsonl filter=lfs diff=lfs merge=lfs -text\n"}, tmp_path)
    train = b"".join(json.dumps({"q": f"Q{i}", "a": f"A{i}", "sys": "Be brief"}).encode() + b"\n" for i in range(5))
    evaluation = json.dumps([{"q": "Q9", "a": "A9", "sys": None}]).encode()
    sha = _commit(hub, owner, repo, {"data/train.jsonl": train, "data/eval.json": evaluation}, tmp_path)
    entry = next(e for e in hub.git(repo.id).list_tree(sha, recursive=True) if e.path == "data/train.jsonl")
    assert entry.lfs is not None  # the bytes are in the blob store, git holds a pointer
    mapping = {"question": "q", "answer": "a", "system": "sys"}
    shown = preview(hub, repo, sha, "data/train.jsonl", mapping, limit=2)
    assert (shown.container, shown.format, shown.output, shown.row_count) == ("jsonl", "qa", "alpaca", 5)
    assert shown.columns == ("q", "a", "sys") and shown.problems == ()
    assert dict(shown.mapped) == {"question": "q", "answer": "a", "system": "sys"}
    assert shown.rows == (
        {"instruction": "Q0", "input": "", "output": "A0", "system": "Be brief"},
        {"instruction": "Q1", "input": "", "output": "A1", "system": "Be brief"},
    )
    work = tmp_path / "work"
    prepared = prepare(hub, repo, sha, "data/train.jsonl", "data/eval.json", mapping, work, val_size=0.5, seed=1)
    assert prepared == PreparedData("alpaca", 5, 1, "file", "qa", True)
    assert _read(work / "eval.json") == [{"instruction": "Q9", "input": "", "output": "A9", "system": ""}]
    assert _read(work / "train.json")[4] == {"instruction": "Q4", "input": "", "output": "A4", "system": "Be brief"}
    assert dataset_info(prepared)["train"]["columns"]["system"] == "system"


def test_prepare_writes_conversations_as_sharegpt_messages(
    hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path
) -> None:
    chats = [
        {"conversations": [{"from": "human", "value": f"Hi {i}"}, {"from": "gpt", "value": f"Hello {i}"}]}
        for i in range(3)
    ]
    sha = _commit(hub, owner, repo, {"chat.json": json.dumps(chats).encode()}, tmp_path)
    work = tmp_path / "work"
    prepared = prepare(hub, repo, sha, "chat.json", None, None, work, val_size=0.3, seed=3)
    assert prepared == PreparedData("sharegpt", 2, 1, "val_size", "sharegpt", False)
    rows = _read(work / "train.json") + _read(work / "eval.json")
    assert {"messages": [{"role": "user", "content": "Hi 0"}, {"role": "assistant", "content": "Hello 0"}]} in rows
    assert _read(work / "dataset_info.json")["train"] == {
        "file_name": "train.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }


def test_problems_are_previewed_and_refused_by_prepare_in_the_same_words(
    hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path
) -> None:
    broken = b"question,answer\nQ1,A1\n,A2\nQ3,\n"
    sha = _commit(hub, owner, repo, {"broken.csv": broken, "good.csv": QA_CSV}, tmp_path)
    shown = preview(hub, repo, sha, "broken.csv", None)
    assert shown.problems == (
        "Rows with an empty question (1): 2 (line 3)",
        "Rows with an empty answer (1): 3 (line 4)",
    )
    assert shown.row_count == 3 and len(shown.rows) == 3
    with pytest.raises(TrainingDataError) as caught:
        prepare(hub, repo, sha, "broken.csv", None, None, tmp_path / "w", val_size=0, seed=1)
    assert caught.value.problems == shown.problems and caught.value.status == 400
    assert caught.value.message == (
        "broken.csv: Rows with an empty question (1): 2 (line 3); Rows with an empty answer (1): 3 (line 4)"
    )
    with pytest.raises(TrainingDataError) as in_eval:
        prepare(hub, repo, sha, "good.csv", "broken.csv", None, tmp_path / "w", val_size=0, seed=1)
    assert in_eval.value.path == "broken.csv"
    with pytest.raises(TrainingDataError) as bad_mapping:
        prepare(hub, repo, sha, "good.csv", None, {"prompt": "question"}, tmp_path / "w", val_size=0, seed=1)
    assert bad_mapping.value.problems[0].startswith("Unknown names in the column mapping: prompt")
    shown_mapping = preview(hub, repo, sha, "good.csv", {"prompt": "question"})
    assert shown_mapping.problems == bad_mapping.value.problems
    assert shown_mapping.columns == ("question", "answer") and shown_mapping.row_count == 10  # to map them
    assert not (tmp_path / "w" / "train.json").exists()


def test_missing_large_and_unreadable_files_are_refused(hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path) -> None:
    large = b"question,answer\n" + b"Q,A\n" * 1100  # 4,416 bytes; this hub's limit is 4,096
    sha = _commit(
        hub, owner, repo, {"large.csv": large, "one.csv": b"question,answer\nQ,A\n", "x.txt": b"hi"}, tmp_path
    )
    too_large = (
        "The file holds 4,416 bytes, more than the 4,096 bytes training data may hold (setting finetune_data_max_bytes)"
    )
    assert preview(hub, repo, sha, "large.csv", None).problems == (too_large,)
    with pytest.raises(TrainingDataError) as refused:
        prepare(hub, repo, sha, "large.csv", None, None, tmp_path / "w", val_size=0, seed=1)
    assert refused.value.message == f"large.csv: {too_large}"
    with pytest.raises(EntryNotFound):
        preview(hub, repo, sha, "absent.csv", None)
    with pytest.raises(EntryNotFound):
        prepare(hub, repo, sha, "one.csv", "absent.json", None, tmp_path / "w", val_size=0, seed=1)
    assert preview(hub, repo, sha, "x.txt", None).problems == (
        "'x.txt' is not a training file: use CSV, TSV, JSON or JSON Lines (.csv, .json, .jsonl, .ndjson, .tsv)",
    )
    with pytest.raises(TrainingDataError) as too_few:
        prepare(hub, repo, sha, "one.csv", None, None, tmp_path / "w", val_size=0.5, seed=1)
    assert too_few.value.message == "one.csv: val_size 0.5 holds out 1 of the 1 rows and leaves none to train on"
    with pytest.raises(InvalidArgument, match="val_size must be at least 0 and below 1, not 1"):
        prepare(hub, repo, sha, "one.csv", None, None, tmp_path / "w", val_size=1, seed=1)


def test_an_eval_file_of_another_format_is_refused(hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path) -> None:
    chat = json.dumps([{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}])
    sha = _commit(hub, owner, repo, {"train.csv": QA_CSV, "chat.json": chat.encode()}, tmp_path)
    with pytest.raises(TrainingDataError) as caught:
        prepare(hub, repo, sha, "train.csv", "chat.json", None, tmp_path / "w", val_size=0, seed=1)
    assert (
        caught.value.message == "chat.json: The evaluation file holds sharegpt rows and the training file alpaca rows"
    )


def test_an_lfs_file_whose_object_is_gone_is_a_problem(hub: Hub, owner: Actor, repo: RepoView, tmp_path: Path) -> None:
    _commit(hub, owner, repo, {".gitattributes": b"*.csv filter=lfs diff=lfs merge=lfs -text\n"}, tmp_path)
    sha = _commit(hub, owner, repo, {"lost.csv": QA_CSV}, tmp_path)
    entry = next(e for e in hub.git(repo.id).list_tree(sha, recursive=True) if e.path == "lost.csv")
    assert entry.lfs is not None
    hub.blobs.delete(entry.lfs.oid)  # the store lost it (a restore from an old backup, a deleted bucket object)
    missing = "The LFS object of 'lost.csv' is missing from the hub's store: upload the file again"
    assert preview(hub, repo, sha, "lost.csv", None).problems == (missing,)
    with pytest.raises(TrainingDataError) as caught:
        prepare(hub, repo, sha, "lost.csv", None, None, tmp_path / "w", val_size=0, seed=1)
    assert caught.value.message == f"lost.csv: {missing}"
