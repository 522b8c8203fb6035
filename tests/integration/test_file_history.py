"""The file pages' services on a real hub (SQLite, the local blob store, real git): each entry's last
commit (and the bound on that walk), a revision's latest commit and count, a file's history through a
rename and across pages, safetensors headers read from LFS objects (one file, a sharded model, a corrupt
one), the downloads of the last 30 days, and a private repository hidden from others by all of it."""

from __future__ import annotations

import hashlib
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from csghub.config import load_settings
from csghub.core.errors import EntryNotFound, NotFound, Unauthenticated
from csghub.core.names import RepoId, RepoType
from csghub.db.models import RepoDownloadDay, User
from csghub.git import history as git_history
from csghub.git.repository import FileChange
from csghub.services.context import Hub
from csghub.services.identity.accounts import actor_for_user, create_user
from csghub.services.permissions import ANONYMOUS, Actor
from csghub.services.repositories import downloads, file_history, files, repos, tensors
from csghub.services.repositories.commits import DeletedFile, InlineFile, create_commit
from csghub.services.repositories.writes import VIA_API
from csghub.wiring import build_hub
from tests.support.safetensors_files import safetensors_bytes, with_header


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": tmp_path / "data"}))


def _actor(hub: Hub, name: str) -> Actor:
    view = create_user(hub, name, email=f"{name}@example.com", password="correct horse battery")
    with hub.db() as session:
        user = session.get(User, view.id)
        assert user is not None
        return actor_for_user(session, user)


@pytest.fixture
def owner(hub: Hub) -> Actor:
    return _actor(hub, "alice")


def _commit(hub: Hub, actor: Actor, repo: repos.RepoView, changes: dict[str, bytes | None], title: str) -> str:
    ops: list[InlineFile | DeletedFile] = []
    spool = hub.settings.data_dir / "spool"
    spool.mkdir(exist_ok=True)
    for path, data in changes.items():
        if data is None:
            ops.append(DeletedFile(path))
            continue
        spooled = spool / f"f{len(list(spool.iterdir()))}"
        spooled.write_bytes(data)
        ops.append(InlineFile(path, spooled, len(data), hashlib.sha256(data).hexdigest()))
    return create_commit(hub, actor, repo, "main", ops, summary=title, via=VIA_API).sha


def _snapshot(hub: Hub, actor: Actor, repo: repos.RepoView) -> files.Snapshot:
    return files.at_revision(hub, actor, repo, "main")


@pytest.fixture
def repo(hub: Hub, owner: Actor) -> repos.RepoView:
    """Commits: add a.txt and dir/x.txt; change dir/x.txt; add b.txt."""
    repo = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "tiny"))
    _commit(hub, owner, repo, {"a.txt": b"a\n", "dir/x.txt": b"x\n", "dir/y.txt": b"y\n"}, "Add a and dir")
    _commit(hub, owner, repo, {"dir/x.txt": b"x2\n"}, "Change x")
    _commit(hub, owner, repo, {"b.txt": b"b\n"}, "Add b")
    return repo


def test_last_commits_name_the_newest_commit_of_each_entry(hub: Hub, owner: Actor, repo: repos.RepoView) -> None:
    snapshot = _snapshot(hub, owner, repo)
    root = file_history.last_commits(snapshot)
    assert root.complete
    titles = {name: c.title for name, c in root.commits.items()}
    assert titles == {
        "a.txt": "Add a and dir",
        "dir": "Change x",
        "b.txt": "Add b",
        ".gitattributes": titles[".gitattributes"],
    }
    inside = file_history.last_commits(snapshot, "dir")
    assert {name: c.title for name, c in inside.commits.items()} == {"x.txt": "Change x", "y.txt": "Add a and dir"}
    # Kept by commit id: the same answer object until a new commit makes new keys.
    assert file_history.last_commits(snapshot) is root
    _commit(hub, owner, repo, {"a.txt": b"a2\n"}, "Change a")
    newer = file_history.last_commits(_snapshot(hub, owner, repo))
    assert newer.commits["a.txt"].title == "Change a" and newer.commits["dir"].title == "Change x"


def test_last_commits_walk_stops_at_its_bound_and_says_so(hub: Hub, owner: Actor, repo: repos.RepoView) -> None:
    bounded = file_history.last_commits(_snapshot(hub, owner, repo), max_commits=2)
    assert not bounded.complete and bounded.walked == 2
    assert {name: c.title for name, c in bounded.commits.items()} == {"b.txt": "Add b", "dir": "Change x"}
    # a.txt and .gitattributes lie beyond the bound: left out ("older"), never given a wrong commit.


def test_last_commits_walk_stops_at_its_time_bound(tmp_path: Path) -> None:
    """A long history (5,000 commits to one file; another untouched since the first) and a walk given
    10 ms: killed at its bound, it reports what it reached and says it is incomplete, in bounded time."""
    git_dir = tmp_path / "long.git"
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    lines = []
    for n in range(5000):
        lines += ["commit refs/heads/main", f"committer T <t@example.com> {1700000000 + n} +0000", "data 1", "c"]
        files = [("old.txt", "old")] if n == 0 else []
        for path, content in [*files, ("hot.txt", str(n))]:
            lines += [f"M 100644 inline {path}", f"data {len(content)}", content]
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(["git", f"--git-dir={git_dir}", "fast-import", "--quiet"], input=stream, check=True)
    sha = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "main"], capture_output=True, check=True)
    head = sha.stdout.decode().strip()

    start = time.monotonic()
    bounded = git_history.last_commits(git_dir, head, "", {"old.txt", "hot.txt"}, max_commits=10**6, max_seconds=0.01)
    assert time.monotonic() - start < 5, "the walk was stopped, not waited for"
    assert not bounded.complete and "old.txt" not in bounded.commits and bounded.walked < 5000
    whole = git_history.last_commits(git_dir, head, "", {"old.txt", "hot.txt"}, max_commits=10**6, max_seconds=60)
    assert whole.complete and whole.walked == 5000 and whole.commits["old.txt"].parents == ()


def test_head_is_the_latest_commit_and_the_commit_count(hub: Hub, owner: Actor, repo: repos.RepoView) -> None:
    head = file_history.head(_snapshot(hub, owner, repo))
    assert head.commit.title == "Add b" and head.commit.author_name
    assert head.count == 4  # the repository's first commit (.gitattributes) and the three above


def test_path_history_follows_a_renamed_file_and_pages(
    hub: Hub, owner: Actor, repo: repos.RepoView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_history, "HISTORY_PAGE", 4)  # pages of 4: a few commits make two pages
    _commit(hub, owner, repo, {"a.txt": None, "docs/a.md": b"a\n"}, "Move a")
    for n in range(file_history.HISTORY_PAGE + 2):
        _commit(hub, owner, repo, {"docs/a.md": f"a{n}\n".encode()}, f"Edit {n}")
    first = file_history.path_history(hub, owner, repo, "main", "docs/a.md")
    assert first.kind == "file" and first.has_next and len(first.commits) == file_history.HISTORY_PAGE
    assert first.commits[0].title == f"Edit {file_history.HISTORY_PAGE + 1}"
    second = file_history.path_history(hub, owner, repo, "main", "docs/a.md", page=2)
    assert [c.title for c in second.commits] == ["Edit 1", "Edit 0", "Move a", "Add a and dir"], "past the rename"
    assert not second.has_next and second.page == 2
    folder = file_history.path_history(hub, owner, repo, "main", "dir")
    assert folder.kind == "directory" and [c.title for c in folder.commits] == ["Change x", "Add a and dir"]
    with pytest.raises(EntryNotFound):
        file_history.path_history(hub, owner, repo, "main", "no/such.txt")


def test_a_private_repositorys_history_is_not_found_for_others(hub: Hub, owner: Actor) -> None:
    repo = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "secret"), visibility="private")
    _commit(hub, owner, repo, {"a.txt": b"a\n"}, "Add a")
    assert file_history.path_history(hub, owner, repo, "main", "a.txt").commits[0].title == "Add a"
    for stranger in (ANONYMOUS, _actor(hub, "bob")):
        # Anonymous callers hear Hugging Face's "not found; sign in if it is private" (the portal: a 404 page).
        with pytest.raises((NotFound, Unauthenticated)):
            file_history.path_history(hub, stranger, repo, "main", "a.txt")
        with pytest.raises((NotFound, Unauthenticated)):
            _snapshot(hub, stranger, repo)  # the tree's heads and last commits start here


def test_safetensors_headers_are_read_from_lfs_objects_and_shards_sum(hub: Hub, owner: Actor) -> None:
    repo = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "sharded"))
    first = safetensors_bytes({"embed": ("BF16", [64, 32]), "norm": ("F32", [32])})
    second = safetensors_bytes({"head": ("BF16", [32, 16])})
    _commit(
        hub,
        owner,
        repo,
        {
            "model-00001-of-00002.safetensors": first,
            "model-00002-of-00002.safetensors": second,
            "broken.safetensors": with_header(b"{oops", bytes(16)),
        },
        "Add weights",
    )
    snapshot = _snapshot(hub, owner, repo)
    entry = files.get_entry(snapshot, "model-00001-of-00002.safetensors")
    assert entry.lfs is not None, ".safetensors files go to LFS by the default .gitattributes"
    found = tensors.summarise_files(hub, snapshot, ["model-00001-of-00002.safetensors", "broken.safetensors"])
    assert found["model-00001-of-00002.safetensors"].dtypes == (("BF16", 2048), ("F32", 32))
    assert found["broken.safetensors"].state == tensors.UNREADABLE
    size = tensors.model_size(hub, snapshot)
    assert size is not None and size.files == 3 and not size.complete
    assert size.parameters == 2048 + 32 + 512 and size.dtypes == (("BF16", 2560), ("F32", 32))
    _commit(hub, owner, repo, {"broken.safetensors": None}, "Drop the broken file")
    size = tensors.model_size(hub, _snapshot(hub, owner, repo))
    assert size is not None and size.complete and size.parameters == 2592
    # Kept by the object's sha256: a copy of the same bytes in another repository is not read again.
    assert hub.tensor_headers.get(f"lfs:{entry.lfs.oid}") == found["model-00001-of-00002.safetensors"]


def test_an_lfs_pointer_to_an_object_the_repository_never_uploaded_is_unavailable(hub: Hub, owner: Actor) -> None:
    donor = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "donor"))
    data = safetensors_bytes({"w": ("F32", [8])})
    _commit(hub, owner, donor, {"w.safetensors": data}, "Add w")
    pointer = files.get_entry(_snapshot(hub, owner, donor), "w.safetensors").lfs
    assert pointer is not None
    # A pointer committed as plain text (as a push of a hand-written pointer would) to another repository.
    other = repos.create_repo(hub, owner, RepoType.MODEL, RepoId.of("alice", "taker"))
    text = f"version https://git-lfs.github.com/spec/v1\noid sha256:{pointer.oid}\nsize {pointer.size}\n"
    git = hub.git(other.id)
    blob = git.write_blob(text.encode())
    head = git.resolve("main")
    commit = git.create_commit(
        parent=head, changes=[FileChange("w.safetensors", blob)], deleted_folders=[], message="pointer",
        author_name="alice", author_email="alice@example.com",
    )  # fmt: skip
    git.update_ref("refs/heads/main", commit, head)
    found = tensors.summarise_files(hub, _snapshot(hub, owner, other), ["w.safetensors"])
    assert found["w.safetensors"].state == tensors.UNAVAILABLE


def test_daily_downloads_cover_thirty_days_with_zeros(hub: Hub, owner: Actor, repo: repos.RepoView) -> None:
    today = datetime.now(UTC).date()
    with hub.db() as session:
        for days_ago, count in ((0, 3), (5, 7), (29, 1), (30, 100), (45, 9)):
            session.add(RepoDownloadDay(repo_id=repo.id, day=today - timedelta(days=days_ago), count=count))
    days = downloads.daily_downloads(hub, repo.id)
    assert len(days) == 30 and days[-1] == (today, 3) and days[0] == (today - timedelta(days=29), 1)
    assert sum(count for _, count in days) == 11, "older days are not in the month"
    assert dict(days)[today - timedelta(days=5)] == 7 and dict(days)[today - timedelta(days=1)] == 0
