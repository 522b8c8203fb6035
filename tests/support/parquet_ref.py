"""A dataset's `refs/convert/parquet` for tests: made by hand (a commit of shards moved onto the ref in
the bare repository, as the conversion job publishes it: `{config}/{split}/0000.parquet`, no README),
or waited for when the live hub's conversion job makes it."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

from tests.support.live import LiveHub
from tests.support.waiting import wait_until

PARQUET_REF = "refs/convert/parquet"


def parquet_bytes(columns: dict[str, list[Any]]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()


def make_parquet_ref(live: LiveHub, token: str, repo: str, shards: dict[str, bytes]) -> str:
    """Point the dataset's refs/convert/parquet at a commit holding only `shards` (path -> bytes, LFS
    files as the job's are) and .gitattributes; returns the commit. No user can do this through the hub:
    the ref is moved in the bare repository, as the hub's own job does."""
    api = HfApi(endpoint=live.url, token=token)
    scratch = "parquet-scratch"
    api.create_branch(repo, repo_type="dataset", branch=scratch)
    keep = {".gitattributes"}
    existing = api.list_repo_files(repo, repo_type="dataset", revision=scratch)
    operations: list[CommitOperationAdd | CommitOperationDelete] = [
        CommitOperationDelete(path) for path in existing if path not in keep
    ]
    operations += [CommitOperationAdd(path, data) for path, data in shards.items()]
    commit = api.create_commit(
        repo, repo_type="dataset", revision=scratch, operations=operations, commit_message="Parquet shards"
    ).oid
    bare = str(live.repo_dir(repo, "dataset"))
    subprocess.run(["git", "--git-dir", bare, "update-ref", PARQUET_REF, commit], check=True)
    api.delete_branch(repo, repo_type="dataset", branch=scratch)
    return commit


def wait_for_parquet_ref(live: LiveHub, token: str, repo: str, *, after: str = "", timeout: float = 60.0) -> str:
    """The commit of refs/convert/parquet once the hub's conversion job published it (and, with
    `after`, moved it off that commit); polled every 0.2 s up to `timeout`."""
    api = HfApi(endpoint=live.url, token=token)
    found = [""]

    def published() -> bool:
        converts = api.list_repo_refs(repo, repo_type="dataset").converts
        found[0] = next((r.target_commit for r in converts if r.ref == PARQUET_REF), "")
        return bool(found[0]) and found[0] != after

    wait_until(published, f"{PARQUET_REF} of {repo}", timeout=timeout, poll=0.2)
    return found[0]
