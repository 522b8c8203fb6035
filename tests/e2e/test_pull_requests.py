"""Pull requests as huggingface_hub and git see them: create_commit(create_pr=True) and create_pull_request,
refs/pr/N readable like any revision, details with the diff and the conflicting files, merges by writers
(fast-forward and merge commit), status and title changes, and what stays hidden and refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from csghub.services import audit
from csghub.services.permissions import Actor
from tests.support.clients import create_repo, git, setup_git_home
from tests.support.live import LiveHub


def _hf(live: LiveHub, token: str | None) -> HfApi:
    return HfApi(endpoint=live.url, token=token or False)


def _add(path: str, text: str) -> CommitOperationAdd:
    return CommitOperationAdd(path_in_repo=path, path_or_fileobj=text.encode())


def _repo_with(live: LiveHub, token: str, repo_id: str, files: dict[str, str], *, private: bool = False) -> HfApi:
    create_repo(live.url, token, repo_id, private=private)
    owner = _hf(live, token)
    owner.create_commit(repo_id, [_add(p, t) for p, t in files.items()], commit_message="Start")
    return owner


def test_a_readers_pull_request_is_committed_to_read_at_its_ref_and_fast_forwarded_by_the_owner(
    live: LiveHub, tmp_path: Path
) -> None:
    owner, owner_token = live.user("owner")
    _, fan_token = live.user("fan")
    _, stranger_token = live.user("stranger")
    repo = f"{owner}/proposed"
    hf_owner = _repo_with(live, owner_token, repo, {"README.md": "# proposed\n"})
    fan = _hf(live, fan_token)

    made = fan.upload_file(path_or_fileobj=b"hello\n", path_in_repo="a.txt", repo_id=repo, create_pr=True)
    assert made.pr_url == f"{live.url}/{repo}/discussions/1" and made.pr_revision == "refs/pr/1"
    assert not hf_owner.file_exists(repo, "a.txt")  # main is untouched

    pr = fan.get_discussion_details(repo, 1)
    assert (pr.is_pull_request, pr.status, pr.target_branch, pr.conflicting_files) == (True, "open", "main", [])
    assert "a/a.txt" in (pr.diff or "") and "+hello" in (pr.diff or "")
    assert [e.oid for e in pr.events if e.type == "commit"] == [made.oid]  # type: ignore[attr-defined]

    second = fan.upload_file(path_or_fileobj=b"more\n", path_in_repo="b.txt", repo_id=repo, revision="refs/pr/1")
    path = hf_hub_download(repo, "b.txt", revision="refs/pr/1", endpoint=live.url, token=fan_token, cache_dir=tmp_path)
    assert Path(path).read_text() == "more\n"
    assert fan.list_repo_files(repo, revision="refs/pr/1") == [".gitattributes", "README.md", "a.txt", "b.txt"]

    # Someone else's pull request takes no commit from a non-writer; only writers merge.
    with pytest.raises(HfHubHTTPError) as refused:
        _hf(live, stranger_token).upload_file(
            path_or_fileobj=b"x", path_in_repo="c.txt", repo_id=repo, revision="refs/pr/1"
        )
    assert refused.value.response.status_code == 403 and "author of pull request #1" in str(refused.value)
    with pytest.raises(HfHubHTTPError) as not_writer:
        fan.merge_pull_request(repo, 1)
    assert not_writer.value.response.status_code == 403

    hf_owner.merge_pull_request(repo, 1, comment="Thanks!")
    merged = hf_owner.get_discussion_details(repo, 1)
    assert merged.status == "merged" and merged.merge_commit_oid == second.oid  # a fast-forward
    assert hf_owner.repo_info(repo).sha == second.oid
    assert [e.new_status for e in merged.events if e.type == "status-change"] == ["merged"]  # type: ignore[attr-defined]
    assert "+more" in (merged.diff or "")  # a merged pull request still shows what it changed
    with pytest.raises(HfHubHTTPError) as again:
        hf_owner.merge_pull_request(repo, 1)
    assert again.value.response.status_code == 400 and "merged" in str(again.value)

    admin = Actor(user_id=0, name="root", is_admin=True)
    events = audit.list_events(live.hub, admin, namespace=owner, action="repo.pr_merge")
    assert [(e.actor, e.detail["refs"]["refs/heads/main"][1]) for e in events] == [(owner, second.oid)]


def test_a_merge_commit_joins_a_moved_target_and_conflicts_are_refused_with_the_files_named(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    _, fan_token = live.user("fan")
    repo = f"{owner}/merged"
    hf_owner = _repo_with(live, owner_token, repo, {"shared.txt": "base\n"})
    fan = _hf(live, fan_token)

    clean = fan.create_commit(repo, [_add("new.txt", "new\n")], commit_message="Add new.txt", create_pr=True)
    clash = fan.create_commit(repo, [_add("shared.txt", "fan\n")], commit_message="Change shared", create_pr=True)
    hf_owner.create_commit(repo, [_add("shared.txt", "owner\n"), _add("other.txt", "o\n")], commit_message="Move")

    assert fan.get_discussion_details(repo, 2).conflicting_files == ["shared.txt"]
    with pytest.raises(HfHubHTTPError) as conflict:
        hf_owner.merge_pull_request(repo, 2)
    assert conflict.value.response.status_code == 409 and "shared.txt" in str(conflict.value)
    assert hf_owner.get_discussion_details(repo, 2).status == "open"

    assert clean.pr_num == 1 and clash.pr_num == 2
    hf_owner.merge_pull_request(repo, 1)
    oid = hf_owner.get_discussion_details(repo, 1).merge_commit_oid
    assert oid == hf_owner.repo_info(repo).sha
    merge = hf_owner.list_repo_commits(repo)[0]
    assert merge.commit_id == oid and merge.title == "Merge pull request #1: Add new.txt"
    assert sorted(hf_owner.list_repo_files(repo)) == [".gitattributes", "new.txt", "other.txt", "shared.txt"]

    # The author closes and reopens their own pull request; a new title is kept as an event.
    fan.change_discussion_status(repo, 2, "closed", comment="Never mind")
    assert fan.get_discussion_details(repo, 2).status == "closed"
    fan.change_discussion_status(repo, 2, "open")
    renamed = fan.rename_discussion(repo, 2, "Change shared.txt")
    assert (renamed.old_title, renamed.new_title) == ("Change shared", "Change shared.txt")
    details = fan.get_discussion_details(repo, 2)
    assert details.title == "Change shared.txt" and details.status == "open"
    assert [e.type for e in details.events].count("title-change") == 1


def test_an_empty_pull_request_is_a_draft_until_its_first_commit_and_lists_filter_by_type(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    _, fan_token = live.user("fan")
    repo = f"{owner}/drafts"
    hf_owner = _repo_with(live, owner_token, repo, {"README.md": "# hi\n"})
    fan = _hf(live, fan_token)
    fan.create_discussion(repo, "A question", description="How?")
    draft = fan.create_pull_request(repo, "Improve the card", description="Coming")
    assert (draft.num, draft.status, draft.is_pull_request, draft.git_reference) == (2, "draft", True, "refs/pr/2")
    with pytest.raises(HfHubHTTPError) as empty:
        hf_owner.merge_pull_request(repo, 2)
    assert empty.value.response.status_code == 400
    fan.create_commit(repo, [_add("README.md", "# hi there\n")], commit_message="Card", revision="refs/pr/2")
    assert fan.get_discussion_details(repo, 2).status == "open"
    refs = fan.list_repo_refs(repo, include_pull_requests=True)
    assert [(r.ref, r.target_commit) for r in refs.pull_requests or []] == [
        ("refs/pr/2", fan.repo_info(repo, revision="refs/pr/2").sha)
    ]

    pulls = list(hf_owner.get_repo_discussions(repo, discussion_type="pull_request"))
    talks = list(hf_owner.get_repo_discussions(repo, discussion_type="discussion"))
    assert [(d.num, d.is_pull_request) for d in pulls] == [(2, True)]
    assert [(d.num, d.is_pull_request) for d in talks] == [(1, False)]
    with pytest.raises(HfHubHTTPError) as wrong:
        fan.create_commit(repo, [_add("x.txt", "x")], commit_message="x", revision="refs/pr/1")
    assert wrong.value.response.status_code == 400 and "not a pull request" in str(wrong.value)

    # One against another branch merges there.
    hf_owner.create_branch(repo, branch="dev")
    dev = fan.create_commit(repo, [_add("dev.txt", "d\n")], commit_message="For dev", revision="dev", create_pr=True)
    assert fan.get_discussion_details(repo, dev.pr_num).target_branch == "dev"
    hf_owner.merge_pull_request(repo, dev.pr_num)
    assert hf_owner.file_exists(repo, "dev.txt", revision="dev") and not hf_owner.file_exists(repo, "dev.txt")


def test_git_fetches_a_pull_request_ref_pushes_to_an_open_one_and_never_creates_one(
    live: LiveHub, tmp_path: Path
) -> None:
    owner, owner_token = live.user("owner")
    fan, fan_token = live.user("fan")
    repo = f"{owner}/fetched"
    _repo_with(live, owner_token, repo, {"README.md": "# hi\n"})
    _hf(live, fan_token).upload_file(path_or_fileobj=b"pr\n", path_in_repo="pr.txt", repo_id=repo, create_pr=True)

    env = setup_git_home(tmp_path / "home")
    url = f"http://{owner}:{owner_token}@{live.host()}/{repo}"
    work = tmp_path / "work"
    git("clone", "-q", url, str(work), cwd=tmp_path, env=env)
    git("fetch", "-q", "origin", "refs/pr/1:pr1", cwd=work, env=env)
    git("checkout", "-q", "pr1", cwd=work, env=env)
    assert (work / "pr.txt").read_text() == "pr\n"

    (work / "pushed.txt").write_text("by git\n")
    git("add", "pushed.txt", cwd=work, env=env)
    git("commit", "-q", "-m", "Pushed to the pull request", cwd=work, env=env)
    git("push", "-q", "origin", "HEAD:refs/pr/1", cwd=work, env=env)
    details = _hf(live, owner_token).get_discussion_details(repo, 1)
    assert [e.summary for e in details.events if e.type == "commit"][-1] == "Pushed to the pull request"  # type: ignore[attr-defined]

    made_up = git("push", "origin", "HEAD:refs/pr/99", cwd=work, env=env, check=False)
    assert made_up.returncode != 0 and "cannot be created by a push" in made_up.stderr
    gone = git("push", "origin", ":refs/pr/1", cwd=work, env=env, check=False)
    assert gone.returncode != 0 and "cannot be deleted" in gone.stderr
    remote = git("ls-remote", "origin", "refs/pr/*", cwd=work, env=env).stdout
    assert "refs/pr/1" in remote and "refs/pr/99" not in remote

    # The pull request's author pushes to it without write access, and to nothing else.
    fan_url = f"http://{fan}:{fan_token}@{live.host()}/{repo}"
    _hf(live, owner_token).upload_file(path_or_fileobj=b"o\n", path_in_repo="o.txt", repo_id=repo, create_pr=True)
    git("fetch", "-q", fan_url, "refs/pr/1", cwd=work, env=env)
    git("checkout", "-q", "FETCH_HEAD", cwd=work, env=env)
    (work / "by-fan.txt").write_text("by the author\n")
    git("add", "by-fan.txt", cwd=work, env=env)
    git("commit", "-q", "-m", "The author pushes", cwd=work, env=env)
    git("push", "-q", fan_url, "HEAD:refs/pr/1", cwd=work, env=env)
    assert _hf(live, fan_token).file_exists(repo, "by-fan.txt", revision="refs/pr/1")
    for target, words in (("main", "not allowed"), ("refs/pr/2", "Only the author of pull request #2")):
        refused = git("push", fan_url, f"+HEAD:{target}", cwd=work, env=env, check=False)
        assert refused.returncode != 0 and words in refused.stderr, (target, refused.stderr)

    # The check is the hub's own hook, not the repository's: with that one gone or made to say yes, a
    # reader still moves nothing but their pull request.
    hook = live.repo_dir(repo) / "hooks" / "pre-receive"
    for damage in ("remove", "accept"):
        hook.unlink(missing_ok=True)
        if damage == "accept":
            hook.write_text("#!/bin/sh\nexit 0\n")
            hook.chmod(0o755)
        refused = git("push", fan_url, "+HEAD:main", cwd=work, env=env, check=False)
        assert refused.returncode != 0 and "not allowed" in refused.stderr, (damage, refused.stderr)
    assert "by-fan.txt" not in _hf(live, owner_token).list_repo_files(repo)


def test_a_private_repositorys_pull_requests_are_not_found_for_others(live: LiveHub, tmp_path: Path) -> None:
    owner, owner_token = live.user("owner")
    _, stranger_token = live.user("stranger")
    repo = f"{owner}/secret"
    hf_owner = _repo_with(live, owner_token, repo, {"README.md": "# hi\n"}, private=True)
    hf_owner.upload_file(path_or_fileobj=b"s\n", path_in_repo="s.txt", repo_id=repo, create_pr=True)
    stranger = _hf(live, stranger_token)
    for attempt in (
        lambda: stranger.get_discussion_details(repo, 1),
        lambda: list(stranger.get_repo_discussions(repo, discussion_type="pull_request")),
        lambda: stranger.merge_pull_request(repo, 1),
        lambda: stranger.change_discussion_status(repo, 1, "closed"),
        lambda: stranger.rename_discussion(repo, 1, "Mine now"),
        lambda: stranger.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=repo, create_pr=True),
        lambda: stranger.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=repo, revision="refs/pr/1"),
        lambda: stranger.list_repo_files(repo, revision="refs/pr/1"),
        lambda: hf_hub_download(
            repo, "s.txt", revision="refs/pr/1", endpoint=live.url, token=stranger_token, cache_dir=tmp_path
        ),
    ):
        with pytest.raises(RepositoryNotFoundError):
            attempt()
    with pytest.raises(RepositoryNotFoundError):
        _hf(live, None).get_discussion_details(repo, 1)
    assert hf_owner.get_discussion_details(repo, 1).status == "open"
