"""A dataset's `refs/convert/parquet` against a live hub: listed under `converts` (HF's refs listing,
huggingface_hub's list_repo_refs), a revision like any other (info, tree, paths-info, commits, resolve
GET and HEAD, quoted as huggingface_hub quotes it), hidden with its private dataset, downloadable from
a gated one after approval, moved on by each conversion, and read-only to every user through every
door: the commit API, branch and tag APIs, CSGHub's uploads, git push over HTTP and SSH."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from tests.support.clients import api, create_repo, git, setup_git_home, write_file
from tests.support.live import LiveHub
from tests.support.parquet_ref import PARQUET_REF, parquet_bytes, wait_for_conversion

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

QUOTED = "refs%2Fconvert%2Fparquet"
SHARD = "default/train/0000.parquet"


def _dataset_with_parquet_ref(live: LiveHub, *, private: bool = False) -> tuple[str, str, str, int]:
    """(owner's token, repo id, parquet commit, shard size) of a CSV dataset the hub converted."""
    user, token = live.user("pq")
    repo = f"{user}/{'secret' if private else 'open'}-data"
    create_repo(live.url, token, repo, repo_type="dataset", private=private)
    write_file(live.url, token, repo, "train.csv", "id,text\n1,alpha\n2,beta\n", repo_type="dataset")
    catalog = wait_for_conversion(live, token, repo)
    [split] = catalog.splits
    [shard] = split.shards
    assert shard.path == SHARD
    return token, repo, catalog.parquet_sha, shard.size


def test_parquet_ref_is_listed_under_converts_and_not_as_a_branch(live: LiveHub) -> None:
    token, repo, commit, _ = _dataset_with_parquet_ref(live)
    refs = HfApi(endpoint=live.url).list_repo_refs(repo, repo_type="dataset")
    assert [(r.name, r.ref, r.target_commit) for r in refs.converts] == [("parquet", PARQUET_REF, commit)]
    assert [r.name for r in refs.branches] == ["main"]
    assert refs.tags == []
    with api(live.url, token) as client:
        raw = client.get(f"/api/datasets/{repo}/refs").json()
        branches = client.get(f"/api/v1/datasets/{repo}/branches").json()["data"]
    assert raw["converts"] == [{"name": "parquet", "ref": PARQUET_REF, "targetCommit": commit}]
    assert [b["name"] for b in branches] == ["main"], "CSGHub's branch listing shows branches only"


def test_parquet_ref_works_everywhere_a_revision_does(live: LiveHub, tmp_path: Path) -> None:
    token, repo, commit, size = _dataset_with_parquet_ref(live)
    hf = HfApi(endpoint=live.url, token=token)
    info = hf.dataset_info(repo, revision=PARQUET_REF, files_metadata=True)
    assert info.sha == commit
    assert sorted(s.rfilename for s in info.siblings or []) == [".gitattributes", SHARD]
    tree = {e.path for e in hf.list_repo_tree(repo, repo_type="dataset", revision=PARQUET_REF, recursive=True)}
    assert tree == {".gitattributes", "default", "default/train", SHARD}
    [found] = hf.get_paths_info(repo, [SHARD], repo_type="dataset", revision=PARQUET_REF)
    assert found.lfs is not None and found.lfs.size == size
    assert hf.list_repo_commits(repo, repo_type="dataset", revision=PARQUET_REF)[0].commit_id == commit
    main_files = hf.list_repo_files(repo, repo_type="dataset")
    assert SHARD not in main_files and "train.csv" in main_files

    path = hf_hub_download(
        repo, SHARD, repo_type="dataset", revision=PARQUET_REF, endpoint=live.url, token=token, cache_dir=tmp_path
    )
    shard = Path(path).read_bytes()
    assert len(shard) == size
    assert pq.read_table(path).to_pylist() == [{"id": 1, "text": "alpha"}, {"id": 2, "text": "beta"}]
    with api(live.url, token) as client:
        head = client.head(f"/datasets/{repo}/resolve/{QUOTED}/{SHARD}")
        got = client.get(f"/datasets/{repo}/resolve/{QUOTED}/{SHARD}", follow_redirects=True)
        at_revision = client.get(f"/api/datasets/{repo}/revision/{QUOTED}").json()
        missing = client.get(f"/datasets/{repo}/resolve/{QUOTED}/train.csv")
    assert head.headers["x-repo-commit"] == commit
    assert int(head.headers.get("x-linked-size") or head.headers["content-length"]) == size
    assert got.status_code == 200 and got.content == shard
    assert at_revision["sha"] == commit
    assert missing.status_code == 404 and missing.headers["x-error-code"] == "EntryNotFound"


def test_parquet_ref_of_a_private_dataset_is_hidden_from_others(live: LiveHub) -> None:
    _, repo, _, _ = _dataset_with_parquet_ref(live, private=True)
    _, other_token = live.user("nosy")
    for token in (None, other_token):
        hf = HfApi(endpoint=live.url, token=token or False)
        with pytest.raises(RepositoryNotFoundError):
            hf.list_repo_refs(repo, repo_type="dataset")
        with pytest.raises(RepositoryNotFoundError):
            hf.dataset_info(repo, revision=PARQUET_REF)
        with api(live.url, token) as client:
            for url in (
                f"/datasets/{repo}/resolve/{QUOTED}/{SHARD}",
                f"/api/datasets/{repo}/tree/{QUOTED}",
                f"/api/datasets/{repo}/refs",
            ):
                r = client.get(url)
                # Hidden as the Hub hides: 401 for anonymous callers, 404 for signed-in ones.
                assert r.status_code == (404 if token else 401), url
                assert r.headers["x-error-code"] == "RepoNotFound" and r.json()["error"], url


def _refused(exc: pytest.ExceptionInfo[HfHubHTTPError]) -> None:
    assert exc.value.response is not None and exc.value.response.status_code == 403
    assert "read-only" in str(exc.value) and PARQUET_REF in str(exc.value)


def test_parquet_ref_is_read_only_through_the_apis(live: LiveHub) -> None:
    token, repo, commit, _ = _dataset_with_parquet_ref(live)
    hf = HfApi(endpoint=live.url, token=token)
    add = [CommitOperationAdd("default/train/0001.parquet", parquet_bytes({"id": [3]}))]
    with pytest.raises(HfHubHTTPError) as exc:
        hf.create_commit(repo, add, repo_type="dataset", revision=PARQUET_REF, commit_message="sneak in")
    _refused(exc)
    with pytest.raises(HfHubHTTPError) as exc:
        hf.create_branch(repo, repo_type="dataset", branch=PARQUET_REF)
    _refused(exc)
    with pytest.raises(HfHubHTTPError) as exc:
        hf.create_branch(repo, repo_type="dataset", branch=PARQUET_REF, exist_ok=True)
    _refused(exc)
    with pytest.raises(HfHubHTTPError) as exc:
        hf.delete_branch(repo, repo_type="dataset", branch=PARQUET_REF)
    _refused(exc)
    with pytest.raises(HfHubHTTPError) as exc:
        hf.create_tag(repo, repo_type="dataset", tag=PARQUET_REF)
    _refused(exc)
    with pytest.raises(HfHubHTTPError) as exc:
        hf.delete_tag(repo, repo_type="dataset", tag=PARQUET_REF)
    _refused(exc)
    # A branch spelled as a full ref would hide behind the ref it names.
    with pytest.raises(HfHubHTTPError) as bad:
        hf.create_branch(repo, repo_type="dataset", branch="refs/heads/x")
    assert bad.value.response is not None and bad.value.response.status_code == 400
    with api(live.url, token) as client:
        upload = client.post(
            f"/api/v1/datasets/{repo}/upload_file",
            files={"file": ("x.parquet", b"PAR1")},
            data={"file_path": "x.parquet", "branch": PARQUET_REF},
        )
        raw = client.put(
            f"/api/v1/datasets/{repo}/raw/x.txt",
            json={"content": "eA==", "message": "x", "branch": PARQUET_REF},
        )
        new_branch = client.post(
            f"/api/v1/datasets/{repo}/raw/x.txt",
            json={"content": "eA==", "message": "x", "branch": "main", "new_branch": PARQUET_REF},
        )
    for refused in (upload, raw, new_branch):
        assert refused.status_code == 403 and "read-only" in refused.json()["error"], refused.text
    refs = hf.list_repo_refs(repo, repo_type="dataset")
    assert [r.target_commit for r in refs.converts] == [commit]
    assert [r.name for r in refs.branches] == ["main"] and refs.tags == []
    hf.create_commit(repo, add, repo_type="dataset", commit_message="main still takes commits")


def _push_refusals(url: str, work: Path, env: dict[str, str]) -> None:
    (work / "extra.csv").write_text("id\n9\n")
    git("add", ".", cwd=work, env=env)
    git("commit", "-m", "try the hub's ref", cwd=work, env=env)
    # A plain push over the ref is refused by git itself (not a fast-forward); the server refuses the rest.
    refspecs = (f"+HEAD:{PARQUET_REF}", f":{PARQUET_REF}", "HEAD:refs/convert/other", "HEAD:refs/heads/refs/convert/x")
    for refspec in refspecs:
        pushed = git("push", url, refspec, cwd=work, env=env, check=False)
        assert pushed.returncode != 0, refspec
        assert "read-only" in pushed.stderr, pushed.stderr


def test_parquet_ref_refuses_git_pushes_over_http(live: LiveHub, tmp_path: Path) -> None:
    token, repo, commit, _ = _dataset_with_parquet_ref(live)
    env = setup_git_home(tmp_path / "home")
    user = repo.split("/")[0]
    url = f"http://{user}:{token}@{live.host()}/datasets/{repo}"
    work = tmp_path / "w"
    git("clone", url, str(work), cwd=tmp_path, env=env)
    # Reading it is fine: fetch the ref and its LFS shard.
    git("fetch", "origin", f"{PARQUET_REF}:refs/remotes/origin/parquet", cwd=work, env=env)
    assert git("rev-parse", "refs/remotes/origin/parquet", cwd=work, env=env).stdout.strip() == commit
    git("lfs", "fetch", "origin", "refs/remotes/origin/parquet", cwd=work, env=env)
    _push_refusals(url, work, env)
    bare = str(live.repo_dir(repo, "dataset"))
    stored = subprocess.run(["git", "--git-dir", bare, "rev-parse", PARQUET_REF], capture_output=True, text=True)
    assert stored.stdout.strip() == commit
    git("push", url, "HEAD:main", cwd=work, env=env)  # the same push to a branch goes through


def test_parquet_ref_refuses_git_pushes_over_ssh(live: LiveHub, tmp_path: Path) -> None:
    token, repo, commit, _ = _dataset_with_parquet_ref(live)
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with api(live.url, token) as client:
        added = client.post("/api/v1/user/ssh_keys", json={"name": "k", "content": key.with_suffix(".pub").read_text()})
    assert added.status_code == 200, added.text
    env = setup_git_home(tmp_path / "home")
    env["GIT_SSH_COMMAND"] = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR"
    )
    url = f"ssh://git@127.0.0.1:{live.ssh_port}/datasets/{repo}.git"
    work = tmp_path / "w"
    git("clone", url, str(work), cwd=tmp_path, env=env)
    _push_refusals(url, work, env)
    assert HfApi(endpoint=live.url).list_repo_refs(repo, repo_type="dataset").converts[0].target_commit == commit


def test_refs_listing_of_a_dataset_without_data_has_no_converts(live: LiveHub) -> None:
    user, token = live.user("plain")
    repo = f"{user}/fresh"
    create_repo(live.url, token, repo, repo_type="dataset")
    write_file(live.url, token, repo, "README.md", "# Nothing to convert yet\n", repo_type="dataset")
    wait_for_conversion(live, token, repo, state="empty")
    refs = HfApi(endpoint=live.url).list_repo_refs(repo, repo_type="dataset")
    assert refs.converts == [] and [b.name for b in refs.branches] == ["main"]
    r = httpx.get(f"{live.url}/api/datasets/{repo}/revision/{QUOTED}")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"


def test_a_new_push_moves_the_parquet_ref_on_and_keeps_it_read_only(live: LiveHub) -> None:
    token, repo, first, _ = _dataset_with_parquet_ref(live)
    write_file(live.url, token, repo, "train.csv", "id,text\n1,alpha\n2,beta\n3,gamma\n", repo_type="dataset")
    catalog = wait_for_conversion(live, token, repo)
    assert catalog.parquet_sha != first and catalog.num_rows == 3
    hf = HfApi(endpoint=live.url, token=token)
    assert [r.target_commit for r in hf.list_repo_refs(repo, repo_type="dataset").converts] == [catalog.parquet_sha]
    history = [c.commit_id for c in hf.list_repo_commits(repo, repo_type="dataset", revision=PARQUET_REF)]
    assert history[:2] == [catalog.parquet_sha, first], "each conversion is a commit on top of the last"


def test_parquet_ref_of_a_gated_dataset_downloads_only_after_approval(live: LiveHub, tmp_path: Path) -> None:
    token, repo, commit, size = _dataset_with_parquet_ref(live)
    HfApi(endpoint=live.url, token=token).update_repo_settings(repo, repo_type="dataset", gated="manual")
    fan, fan_token = live.user("fan")
    fan_api = HfApi(endpoint=live.url, token=fan_token)
    assert fan_api.list_repo_refs(repo, repo_type="dataset").converts[0].target_commit == commit, "refs are public"

    def fetch(cache: str) -> str:
        return hf_hub_download(
            repo, SHARD, repo_type="dataset", revision=PARQUET_REF, endpoint=live.url, token=fan_token, cache_dir=cache
        )

    with pytest.raises(GatedRepoError):
        fetch(str(tmp_path / "before"))
    with api(live.url, fan_token) as client:
        assert client.post(f"/api/datasets/{repo}/ask-access", json={}).json() == {"status": "pending"}
    HfApi(endpoint=live.url, token=token).accept_access_request(repo, fan, repo_type="dataset")
    assert Path(fetch(str(tmp_path / "after"))).stat().st_size == size


def test_bad_or_unknown_convert_revisions_are_clear_errors(live: LiveHub) -> None:
    _, repo, _, _ = _dataset_with_parquet_ref(live)
    cases = [
        (f"/api/datasets/{repo}/revision/refs%2Fconvert%2F..%2Fheads%2Fmain", 400, "InvalidArgument"),
        (f"/api/datasets/{repo}/tree/refs%2Fconvert%2Fparquet.lock", 400, "InvalidArgument"),
        (f"/api/datasets/{repo}/revision/refs%2Fconvert%2Fduckdb", 404, "RevisionNotFound"),
        (f"/datasets/{repo}/resolve/refs%2Fconvert%2Fduckdb/{SHARD}", 404, "RevisionNotFound"),
        (f"/api/datasets/{repo}/tree/{QUOTED}/no-such-config", 404, "EntryNotFound"),
    ]
    with api(live.url) as client:
        for url, status, code in cases:
            r = client.get(url)
            assert (r.status_code, r.headers.get("x-error-code")) == (status, code), (url, r.text)
            assert r.json()["error"], url
