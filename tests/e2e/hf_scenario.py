"""The huggingface_hub scenario of a user's day, run in-process or as `python -m tests.e2e.hf_scenario`.

Returns (or prints as JSON) what it observed; every step also asserts on what it got back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

README = """---
license: apache-2.0
tags:
- text-generation
- tiny
library_name: transformers
pipeline_tag: text-generation
datasets:
- squad
language:
- en
base_model: org/base
---

# Tiny model

Built by the tests.
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_folder(root: Path, big_size: int) -> Path:
    folder = root / "upload"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "README.md").write_text(README)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (folder / "nested" / "deeper" / "données été.txt").write_text("unicode and spaces\n")
    (folder / "nested" / "tokenizer.json").write_text('{"vocab": {}}')
    (folder / "model.safetensors").write_bytes(os.urandom(big_size))
    return folder


def run(endpoint: str, token: str, user: str, workdir: Path, *, big_size: int = 30 * 1024 * 1024) -> dict[str, Any]:
    api = HfApi(endpoint=endpoint, token=token)
    seen: dict[str, Any] = {}
    assert api.whoami()["name"] == user
    repo_id = f"{user}/tiny-model"
    url = api.create_repo(repo_id)
    assert str(url).endswith(repo_id)
    api.create_repo(repo_id, exist_ok=True)  # idempotent, as scripts rely on

    folder = make_folder(workdir, big_size)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Upload tiny model")
    assert len(info.oid) == 40

    model = api.model_info(repo_id, files_metadata=True)
    siblings = {s.rfilename: s for s in model.siblings or []}
    assert "nested/deeper/données été.txt" in siblings
    big = siblings["model.safetensors"]
    assert big.size == big_size and big.lfs is not None and big.lfs.sha256 == _sha(folder / "model.safetensors")
    assert model.card_data is not None and model.card_data["license"] == "apache-2.0"
    for tag in ("text-generation", "tiny", "transformers", "safetensors", "license:apache-2.0", "dataset:squad"):
        assert tag in (model.tags or []), (tag, model.tags)
    assert model.pipeline_tag == "text-generation"
    seen["tags"] = model.tags

    tree = {f.path for f in api.list_repo_tree(repo_id, recursive=True)}
    assert {"nested", "nested/deeper", "nested/tokenizer.json", "model.safetensors"} <= tree

    # Branches, tags, commits.
    api.create_branch(repo_id, branch="dev")
    api.upload_file(path_or_fileobj=b"on dev\n", path_in_repo="dev.txt", repo_id=repo_id, revision="dev")
    api.create_tag(repo_id, tag="v1.0", tag_message="first release")
    refs = api.list_repo_refs(repo_id)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert [t.name for t in refs.tags] == ["v1.0"]
    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["Upload tiny model", "Initial commit"]
    dev_commits = api.list_repo_commits(repo_id, revision="dev")
    assert len(dev_commits) == 3
    assert not api.file_exists(repo_id, "dev.txt")
    assert api.file_exists(repo_id, "dev.txt", revision="dev")

    # Downloads.
    cache = workdir / "cache"
    path = hf_hub_download(repo_id, "model.safetensors", endpoint=endpoint, token=token, cache_dir=cache)
    assert _sha(Path(path)) == _sha(folder / "model.safetensors")
    path = hf_hub_download(repo_id, "nested/deeper/données été.txt", endpoint=endpoint, token=token, cache_dir=cache)
    assert Path(path).read_text() == "unicode and spaces\n"
    snap = Path(
        snapshot_download(
            repo_id,
            revision="v1.0",
            allow_patterns=["*.json", "nested/*"],
            endpoint=endpoint,
            token=token,
            cache_dir=workdir / "cache-filtered",
        )
    )
    got = sorted(str(p.relative_to(snap)) for p in snap.rglob("*") if p.is_file())
    assert got == ["config.json", "nested/deeper/données été.txt", "nested/tokenizer.json"], got
    tag_sha = refs.tags[0].target_commit
    snap_sha = Path(snapshot_download(repo_id, revision=tag_sha, endpoint=endpoint, token=token, cache_dir=cache))
    assert (snap_sha / "model.safetensors").stat().st_size == big_size
    assert snap_sha.name == tag_sha

    # Deletion, existence and the typed errors.
    api.delete_file("config.json", repo_id=repo_id)
    assert not api.file_exists(repo_id, "config.json")
    assert api.file_exists(repo_id, "config.json", revision="v1.0")
    assert not api.repo_exists(f"{user}/no-such-repo")
    assert api.repo_exists(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(f"{user}/no-such-repo")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "missing.txt", endpoint=endpoint, token=token, cache_dir=cache)

    # Listing.
    assert repo_id in [m.id for m in api.list_models(search="tiny-mod")]
    assert [m.id for m in api.list_models(author=user)] == [repo_id]
    assert [m.id for m in api.list_models(author=user, search="nothing-like-this")] == []
    seen["commits"] = len(commits)
    return seen


if __name__ == "__main__":
    endpoint, token, user, workdir = sys.argv[1:5]
    print(json.dumps(run(endpoint, token, user, Path(workdir))))
