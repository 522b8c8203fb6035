"""Content git refuses never enters: not through the commit API, csghub's upload routes, the portal or a push.

Each refusal is a 400 naming the path, the repository stays where it was, `git fsck --strict` stays
clean, and `git clone -c transfer.fsckObjects=true` (what careful users and mirrors run) still works.
"""

from __future__ import annotations

import base64
import html
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "fsck-test-password"

# Spellings of `.git` that some file system (case-insensitive, HFS+, NTFS) or git itself reads as `.git`.
DOTGIT_SPELLINGS = [
    ".git",
    ".GIT",
    ".Git",
    ".git.",
    ".git ",
    ".git. .",
    "git~1",
    "GIT~1",
    ".git::$INDEX_ALLOCATION",
    ".git:stream",
    ".g\u200cit",
    "\u200c.git",
    ".git\ufeff",
    ".gi\u206at",
    ".\u202egit",
]
LONG = "a" * 256
# The name of a submodule whose url git would pass to a program as an option, as in CVE-2017-1000117.
BAD_URL = b'[submodule "x"]\n\tpath = x\n\turl = --upload-pack=touch /tmp/pwned\n'
BAD_PATH = b'[submodule "x"]\n\tpath = -x\n\turl = https://example.com/x.git\n'
BAD_NAME = b'[submodule "../../hooks"]\n\tpath = x\n\turl = https://example.com/x.git\n'
GOOD_GITMODULES = b'[submodule "vendor/lib"]\n\tpath = vendor/lib\n\turl = https://example.com/lib.git\n'


def bad_paths() -> list[str]:
    """Every `.git` spelling as a folder and as a file, long names in files and folders, empty components."""
    paths = []
    for name in DOTGIT_SPELLINGS:
        paths += [f"{name}/config", f"sub/{name}"]
    paths += [LONG, f"{LONG}/file.txt", f"ok/{'é' * 128}.txt", "a//b", "a/./b", "a/../b"]
    return paths


def _ndjson(*items: dict) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode() + b"\n"


def _header(summary: str = "change") -> dict:
    return {"key": "header", "value": {"summary": summary, "description": ""}}


def _file(path: str, content: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


def _server_state(live: LiveHub, repo: str) -> tuple[str, list[str]]:
    """The branch head and every object file, so a refused write provably left nothing behind."""
    bare = live.repo_dir(repo)
    head = (bare / "refs" / "heads" / "main").read_text().strip() if (bare / "refs/heads/main").exists() else ""
    if not head:
        head = subprocess.run(
            ["git", "--git-dir", str(bare), "rev-parse", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    objects = sorted(str(p.relative_to(bare)) for p in (bare / "objects").rglob("*") if p.is_file())
    return head, objects


def _assert_clean(live: LiveHub, repo: str, token: str, user: str, tmp_path: Path) -> Path:
    """`git fsck --strict` finds nothing, and a clone that checks every object succeeds and checks out."""
    bare = live.repo_dir(repo)
    fsck = subprocess.run(["git", "--git-dir", str(bare), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    env = setup_git_home(tmp_path / "home")
    target = tmp_path / f"clone-{len(list(tmp_path.iterdir()))}"
    url = f"http://{user}:{token}@{live.host()}/{repo}"
    git("clone", "-c", "transfer.fsckObjects=true", url, str(target), cwd=tmp_path, env=env)
    assert (target / ".gitattributes").is_file()
    return target


@pytest.fixture
def target(live: LiveHub) -> Iterator[tuple[str, str, str, httpx.Client]]:
    user, token = live.user(password=PASSWORD)
    repo = f"{user}/fsck"
    create_repo(live.url, token, repo)
    with api(live.url, token) as client:
        yield user, token, repo, client


def _refused(r: httpx.Response, path: str) -> str:
    assert r.status_code == 400, (path, r.status_code, r.text)
    body = r.json()
    assert body["code"] == "InvalidArgument" and r.headers["x-error-code"] == "InvalidArgument"
    return str(body["error"])


def test_commit_api_refuses_dotgit_spellings_long_and_empty_components(live: LiveHub, target, tmp_path: Path) -> None:
    user, token, repo, client = target
    before = _server_state(live, repo)
    for path in bad_paths():
        r = client.post(f"/api/models/{repo}/commit/main", content=_ndjson(_header(), _file(path, b"x")))
        message = _refused(r, path)
        assert f"'{path[:60]}" in message, (path, message)
    # The same names beside a good file: the whole commit is refused, the good file does not land either.
    r = client.post(
        f"/api/models/{repo}/commit/main",
        content=_ndjson(_header(), _file("good.txt", b"fine"), _file(".g\u200cit/config", b"[core]\n")),
    )
    assert ".g\u200cit/config" in _refused(r, ".g\u200cit/config")
    assert _server_state(live, repo) == before
    clone = _assert_clean(live, repo, token, user, tmp_path)
    assert not (clone / "good.txt").exists()


@pytest.mark.parametrize(
    ("name", "content", "msg_id"),
    [
        (".gitmodules", BAD_URL, "gitmodulesUrl"),
        (".gitmodules", BAD_PATH, "gitmodulesPath"),
        (".gitmodules", BAD_NAME, "gitmodulesName"),
        # Names that Windows and macOS check out as .gitmodules, so git's fsck checks them the same way.
        (".GITMODULES", BAD_URL, "gitmodulesUrl"),
        ("gitmod~1", BAD_URL, "gitmodulesUrl"),
        (".gitmodules\u200c", BAD_URL, "gitmodulesUrl"),
    ],
    ids=["url", "path", "name", "upper-case", "ntfs-short-name", "hfs-ignorable"],
)
def test_commit_api_refuses_gitmodules_that_git_fsck_refuses(
    live: LiveHub, target, tmp_path: Path, name: str, content: bytes, msg_id: str
) -> None:
    user, token, repo, client = target
    before = _server_state(live, repo)
    r = client.post(f"/api/models/{repo}/commit/main", content=_ndjson(_header(), _file(name, content)))
    message = _refused(r, name)
    assert f"'{name}'" in message and msg_id in message, message
    assert _server_state(live, repo) == before
    _assert_clean(live, repo, token, user, tmp_path)


def test_commit_api_accepts_near_misses_and_a_good_gitmodules(live: LiveHub, target, tmp_path: Path) -> None:
    """What git accepts stays accepted: names close to `.git`, a 255-byte name, a valid .gitmodules."""
    user, token, repo, client = target
    longest = "b" * 251 + ".txt"
    multibyte = "é" * 127 + "x"  # 255 bytes
    files = {
        ".gitmodules": GOOD_GITMODULES,
        ".gitx/a.txt": b"1",
        "git~2/a.txt": b"2",
        "x.git/a.txt": b"3",
        ".github/workflows/ci.yml": b"on: push\n",
        f"deep/{longest}": b"4",
        multibyte: b"5",
        "a b/c.d": b"6",
    }
    r = client.post(
        f"/api/models/{repo}/commit/main",
        content=_ndjson(_header(), *(_file(p, c) for p, c in files.items())),
    )
    assert r.status_code == 200, r.text
    clone = _assert_clean(live, repo, token, user, tmp_path)
    for path, content in files.items():
        assert (clone / path).read_bytes() == content, path


def test_hf_create_commit_refuses_what_git_refuses(live: LiveHub, target, tmp_path: Path) -> None:
    user, token, repo, _ = target
    hf = HfApi(endpoint=live.url, token=token)
    before = _server_state(live, repo)
    cases = [(".gitmodules", BAD_URL, "gitmodulesUrl"), (".g\u200cit/config", b"[core]\n", ".g\u200cit")]
    cases += [(LONG, b"x", "255 bytes"), (f"dir/{LONG}/f", b"x", "255 bytes"), (".git./config", b"x", ".git.")]
    for path, content, expected in cases:
        with pytest.raises(HfHubHTTPError) as caught:
            hf.create_commit(
                repo, [CommitOperationAdd(path_in_repo=path, path_or_fileobj=content)], commit_message="sneak in"
            )
        assert caught.value.response.status_code == 400, path
        assert expected in str(caught.value), (path, str(caught.value))
    assert _server_state(live, repo) == before
    _assert_clean(live, repo, token, user, tmp_path)


def test_csghub_upload_routes_refuse_what_git_refuses(live: LiveHub, target, tmp_path: Path) -> None:
    user, token, repo, client = target
    before = _server_state(live, repo)
    for path, content in [(".gitmodules", BAD_URL), (".g\u200cit/config", b"x"), (LONG, b"x"), (".git./config", b"x")]:
        r = client.post(
            f"/api/v1/models/{repo}/upload_file",
            data={"file_path": path, "message": "sneak in"},
            files={"file": ("f", content)},
        )
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"] and path[:40] in r.json()["error"]
        raw = client.post(
            f"/api/v1/models/{repo}/raw/{path}",
            json={"content": base64.b64encode(content).decode(), "message": "sneak in"},
        )
        assert raw.status_code == 400, (path, raw.text)
        assert path[:40] in raw.json()["error"]
    assert _server_state(live, repo) == before
    _assert_clean(live, repo, token, user, tmp_path)


def test_portal_upload_and_edit_refuse_what_git_refuses(live: LiveHub, target, tmp_path: Path) -> None:
    user, token, repo, _ = target
    before = _server_state(live, repo)
    with httpx.Client(base_url=live.url, timeout=60) as browser:
        signed_in = browser.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        csrf = signed_in.json()["data"]["csrf_token"]
        form_page = browser.get(f"/{repo}/new/main")
        assert form_page.status_code == 200 and 'name="csrf_token"' in form_page.text
        form_token = form_page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        for path, content in [(".gitmodules", BAD_URL), (".g\u200cit/config", b"x"), (f"{LONG}/w.bin", b"x")]:
            # The upload page's script: the session cookie and the CSRF header, answered in JSON.
            up = browser.post(
                f"/{repo}/upload/main",
                headers={"X-CSRF-Token": csrf},
                data={"paths": path, "summary": "sneak in"},
                files={"files": ("f", content)},
            )
            assert up.status_code == 400, (path, up.text)
            assert path[:40] in up.json()["error"]
            # The new-file form: a plain form post with the CSRF field, answered with an error page.
            edit = browser.post(
                f"/{repo}/edit/main",
                data={"path": path, "content": content.decode(), "csrf_token": form_token},
            )
            assert edit.status_code == 400, (path, edit.status_code)
            shown = html.unescape(edit.text)
            assert f"'{path[:40]}" in shown and ("Invalid path" in shown or "Git refuses" in shown), shown[-3000:]
    assert _server_state(live, repo) == before
    _assert_clean(live, repo, token, user, tmp_path)


def test_git_push_of_a_tree_git_refuses_is_refused(live: LiveHub, target, tmp_path: Path) -> None:
    user, token, repo, _ = target
    env = setup_git_home(tmp_path / "pusher")
    work = tmp_path / "work"
    url = f"http://{user}:{token}@{live.host()}/{repo}"
    git("clone", url, str(work), cwd=tmp_path, env=env)
    before = _server_state(live, repo)

    def plumb(*args: str, stdin: bytes) -> str:
        return (
            subprocess.run(["git", *args], cwd=work, env=env, input=stdin, capture_output=True, check=True)
            .stdout.decode()
            .strip()
        )

    # A normal client refuses to stage such paths, so build the trees with plumbing, as an attacker would.
    blob = plumb("hash-object", "-w", "--stdin", stdin=BAD_URL)
    folder = plumb("mktree", stdin=f"100644 blob {blob}\tconfig\n".encode())
    target_of_link = plumb("hash-object", "-w", "--stdin", stdin=b"../../outside")
    base = git("ls-tree", "HEAD", cwd=work, env=env).stdout
    for line, msg_id in [
        (f"100644 blob {blob}\t.gitmodules\n", "gitmodulesUrl"),
        (f"120000 blob {target_of_link}\t.gitmodules\n", "gitmodulesSymlink"),
        (f"040000 tree {folder}\t.g\u200cit\n", "hasDotgit"),
        (f"040000 tree {folder}\tgit~1\n", "hasDotgit"),
    ]:
        tree = plumb("mktree", stdin=(base + line).encode())
        commit = git("commit-tree", tree, "-p", "HEAD", "-m", "sneak in", cwd=work, env=env).stdout.strip()
        push = git("push", "origin", f"{commit}:refs/heads/main", cwd=work, env=env, check=False)
        assert push.returncode != 0 and msg_id in push.stderr, push.stderr
    assert _server_state(live, repo) == before
    _assert_clean(live, repo, token, user, tmp_path)


def test_git_push_is_checked_also_in_a_repository_made_before_fsck_was_configured(
    live: LiveHub, target, tmp_path: Path
) -> None:
    user, token, repo, _ = target
    bare = live.repo_dir(repo)
    config = ["git", "--git-dir", str(bare), "config"]
    assert subprocess.run([*config, "receive.fsckObjects"], capture_output=True, text=True).stdout.strip() == "true"
    # A repository from an older hub has no such setting; the hub's own environment still turns it on.
    subprocess.run([*config, "--unset", "receive.fsckObjects"], check=True)
    env = setup_git_home(tmp_path / "pusher")
    work = tmp_path / "work"
    git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=env)
    before = _server_state(live, repo)
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=work, env=env, input=BAD_URL, capture_output=True, check=True
    ).stdout.decode()
    base = git("ls-tree", "HEAD", cwd=work, env=env).stdout
    tree = subprocess.run(
        ["git", "mktree"],
        cwd=work,
        env=env,
        input=(base + f"100644 blob {blob.strip()}\t.gitmodules\n").encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    commit = git("commit-tree", tree.strip(), "-p", "HEAD", "-m", "sneak in", cwd=work, env=env).stdout.strip()
    push = git("push", "origin", f"{commit}:refs/heads/main", cwd=work, env=env, check=False)
    assert push.returncode != 0 and "gitmodulesUrl" in push.stderr, push.stderr
    assert _server_state(live, repo) == before
    _assert_clean(live, repo, token, user, tmp_path)


def test_a_long_name_git_accepts_in_a_push_stays_readable(live: LiveHub, target, tmp_path: Path) -> None:
    """Names over 255 bytes are refused when the hub writes them, but one a push brought in is still served."""
    user, token, repo, client = target
    env = setup_git_home(tmp_path / "pusher")
    work = tmp_path / "work"
    git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=env)
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=work, env=env, input=b"long\n", capture_output=True, check=True
    ).stdout.decode()
    base = git("ls-tree", "HEAD", cwd=work, env=env).stdout
    tree = subprocess.run(
        ["git", "mktree"],
        cwd=work,
        env=env,
        input=(base + f"100644 blob {blob.strip()}\t{LONG}\n").encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    commit = git("commit-tree", tree.strip(), "-p", "HEAD", "-m", "long name", cwd=work, env=env).stdout.strip()
    git("push", "origin", f"{commit}:refs/heads/main", cwd=work, env=env)
    assert client.get(f"/{repo}/resolve/main/{LONG}").content == b"long\n"
    r = client.post(f"/api/models/{repo}/commit/main", content=_ndjson(_header(), _file(LONG, b"rewrite")))
    assert "255 bytes" in _refused(r, LONG)
    assert client.get(f"/{repo}/resolve/main/{LONG}").content == b"long\n"
