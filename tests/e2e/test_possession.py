"""Private bytes by hash: a write token on one's own repository must not reach another repository's
private LFS or Xet object by naming its sha256 and size, through any door (the NDJSON commit,
huggingface_hub, git pushes of pointers with and without git-lfs, the Xet CAS), and the LFS batch
answer must not tell whether an object is stored elsewhere. The flows that legitimately reuse an
object (a copy between one's own repositories, an organization's object read by a member, the
same bytes uploaded again, Xet deduplication) keep working, and storage keeps one copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from csghub.git.lfs import format_pointer
from tests.conftest import LiveHubFactory
from tests.support.clients import api, client_env, create_repo, git, setup_git_home
from tests.support.live import LiveHub
from tests.support.s3 import MotoServer

LFS_JSON = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}

# huggingface_hub as an attacker runs it: an addition whose upload info names someone else's object.
_FORGED_COMMIT = """
import sys
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.lfs import UploadInfo
endpoint, token, repo, oid, size = sys.argv[1:6]
op = CommitOperationAdd(path_in_repo="stolen.bin", path_or_fileobj=b"\\0not the bytes")
op.upload_info = UploadInfo(sha256=bytes.fromhex(oid), size=int(size), sample=b"\\0" * 64)
HfApi(endpoint=endpoint, token=token).create_commit(repo, [op], commit_message="take it")
"""

_UPLOAD_FILE = """
import sys
from huggingface_hub import HfApi
endpoint, token, repo, path, name = sys.argv[1:6]
HfApi(endpoint=endpoint, token=token).upload_file(path_or_fileobj=path, path_in_repo=name, repo_id=repo)
"""


@dataclass(frozen=True)
class Secret:
    """A private repository's LFS object, and its owner."""

    owner: str
    token: str
    repo: str
    data: bytes
    oid: str


def _run_hf(live: LiveHub, tmp: Path, script: str, *args: str, xet: bool) -> subprocess.CompletedProcess[str]:
    env = client_env(tmp / f"hf-home-{secrets.token_hex(3)}", {"HF_HUB_DISABLE_TELEMETRY": "1"})
    env["HF_HUB_CACHE"] = str(tmp / "hf-cache")
    env["HF_XET_CACHE"] = str(tmp / f"xet-{secrets.token_hex(3)}")
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    return subprocess.run(
        [sys.executable, "-c", script, live.url, *args], env=env, capture_output=True, text=True, timeout=300
    )


def _private_object(live: LiveHub, tmp: Path, *, xet: bool = False, size: int = 300_000) -> Secret:
    owner, token = live.user("owner")
    repo = f"{owner}/vault"
    create_repo(live.url, token, repo, private=True)
    data = os.urandom(size)
    path = tmp / f"secret-{secrets.token_hex(3)}.bin"
    path.write_bytes(data)
    done = _run_hf(live, tmp, _UPLOAD_FILE, token, repo, str(path), "secret.bin", xet=xet)
    assert done.returncode == 0, done.stderr
    oid = hashlib.sha256(data).hexdigest()
    with api(live.url, token) as client:
        assert client.get(f"/{repo}/resolve/main/secret.bin").content == data
    return Secret(owner, token, repo, data, oid)


def _ndjson(*lines: dict[str, object]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def _lfs_line(path: str, oid: str, size: int, summary: str = "take it") -> str:
    return _ndjson(
        {"key": "header", "value": {"summary": summary}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}},
    )


def _head(client: httpx.Client, repo: str) -> str:
    info = client.get(f"/api/models/{repo}")
    assert info.status_code == 200, info.text
    return str(info.json()["sha"])


def _batch(client: httpx.Client, repo: str, operation: str, oid: str, size: int) -> dict[str, object]:
    r = client.post(
        f"/{repo}.git/info/lfs/objects/batch",
        json={"operation": operation, "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]},
        headers=LFS_JSON,
    )
    assert r.status_code == 200, r.text
    (entry,) = r.json()["objects"]
    return dict(entry)


def _assert_unreadable(live: LiveHub, token: str, repo: str, secret: Secret) -> None:
    """Nothing of the secret comes back through the attacker's repository, by any download door."""
    with api(live.url, token) as client:
        r = client.get(f"/{repo}/resolve/main/stolen.bin")
        assert r.status_code == 404 and secret.data not in r.content
        download = _batch(client, repo, "download", secret.oid, len(secret.data))
        assert "actions" not in download and download["error"] == {
            "code": 404,
            "message": f"Object {secret.oid} does not exist in this repository",
        }
        info = client.post(f"/api/models/{repo}/paths-info/main", json={"paths": ["stolen.bin"]})
        assert info.status_code == 200 and info.json() == []
        planned = client.post(
            f"/api/models/{repo}/preupload/main", json={"files": [{"path": "stolen.bin", "size": len(secret.data)}]}
        )
        assert planned.json()["files"] == [
            {"path": "stolen.bin", "uploadMode": "lfs", "shouldIgnore": False, "oid": None}
        ]
        # The owner's repository stays hidden.
        assert client.get(f"/{secret.repo}/resolve/main/secret.bin").status_code == 404


def test_lfs_file_line_naming_a_private_object_is_refused(live: LiveHub, tmp_path: Path) -> None:
    secret = _private_object(live, tmp_path)
    thief, token = live.user("thief")
    repo = f"{thief}/loot"
    create_repo(live.url, token, repo)
    with api(live.url, token) as client:
        before = _head(client, repo)
        r = client.post(f"/api/models/{repo}/commit/main", content=_lfs_line("stolen.bin", secret.oid, 300_000))
        assert r.status_code == 400, r.text
        assert r.headers["x-error-code"] == "InvalidArgument"
        message = r.json()["error"]
        assert "stolen.bin" in message and secret.oid in message and "not uploaded to this repository" in message
        assert "Upload their bytes first" in message
        # The pointer's text as an ordinary file is the same claim: through the NDJSON `file` line,
        # and through csghub-sdk's raw-file route.
        pointer = format_pointer(secret.oid, len(secret.data))
        encoded = b64encode(pointer).decode()
        inline = _ndjson(
            {"key": "header", "value": {"summary": "take it"}},
            {"key": "file", "value": {"path": "stolen.txt", "encoding": "base64", "content": encoded}},
        )
        r = client.post(f"/api/models/{repo}/commit/main", content=inline)
        assert r.status_code == 400 and "stolen.txt" in r.json()["error"], r.text
        r = client.post(f"/api/v1/models/{repo}/raw/stolen.bin", json={"content": encoded})
        assert r.status_code == 400 and "not uploaded to this repository" in r.json()["error"], r.text
        assert _head(client, repo) == before
    _assert_unreadable(live, token, repo, secret)
    with api(live.url, token) as client:
        # Inline text on a path .gitattributes routes to LFS is stored as its own bytes: the file is
        # the pointer's text, never what it points at.
        routed = inline.replace("stolen.txt", "notes.bin")
        assert client.post(f"/api/models/{repo}/commit/main", content=routed).status_code == 200
        assert client.get(f"/{repo}/resolve/main/notes.bin").content == pointer


def test_huggingface_hub_commit_with_forged_upload_info_gets_nothing(live: LiveHub, tmp_path: Path) -> None:
    secret = _private_object(live, tmp_path)
    thief, token = live.user("thief")
    repo = f"{thief}/loot"
    create_repo(live.url, token, repo)
    done = _run_hf(live, tmp_path, _FORGED_COMMIT, token, repo, secret.oid, str(len(secret.data)), xet=False)
    # The batch asks for the bytes, and what the client sends does not hash to the object.
    assert done.returncode != 0
    assert "Size mismatch" in done.stderr or "Checksum mismatch" in done.stderr, done.stderr[-3000:]
    with api(live.url, token) as client:
        assert [e["path"] for e in client.get(f"/api/models/{repo}/tree/main").json()] == [
            ".gitattributes",
        ]
    _assert_unreadable(live, token, repo, secret)


@pytest.mark.parametrize("client", ["plain git", "git-lfs"])
def test_pushed_pointer_to_a_private_object_is_refused_by_path(live: LiveHub, tmp_path: Path, client: str) -> None:
    secret = _private_object(live, tmp_path)
    thief, token = live.user("thief")
    repo = f"{thief}/loot"
    create_repo(live.url, token, repo)
    home = tmp_path / "home"
    env = setup_git_home(home) if client == "git-lfs" else client_env(home)
    checkout = tmp_path / "checkout"
    git("clone", f"http://{thief}:{token}@{live.host()}/{repo}.git", str(checkout), cwd=tmp_path, env=env)
    before = git("rev-parse", "HEAD", cwd=checkout, env=env).stdout.strip()
    # Only the pointer: the thief never had the bytes.
    (checkout / "stolen.bin").write_bytes(format_pointer(secret.oid, len(secret.data)))
    git("add", "stolen.bin", cwd=checkout, env=env)
    git("commit", "-qm", "take it", cwd=checkout, env=env)
    push = git("push", "origin", "main", cwd=checkout, env=env, check=False)
    assert push.returncode != 0
    if client == "plain git":
        # Refused in-protocol by the pre-receive hook, naming the path.
        assert "stolen.bin" in push.stderr and secret.oid in push.stderr, push.stderr
        assert "never uploaded to this repository" in push.stderr
    else:
        # git-lfs is asked for the bytes before the push and has none to send.
        said = push.stdout + push.stderr
        assert "stolen.bin" in said and secret.oid in said and "missing" in said, said
    remote = git("ls-remote", "origin", "refs/heads/main", cwd=checkout, env=env).stdout.split()[0]
    assert remote == before
    _assert_unreadable(live, token, repo, secret)


def test_xet_file_of_a_private_repo_is_not_reachable_by_hash(live: LiveHub, tmp_path: Path) -> None:
    from csghub.db.models import LfsObject, XetFile
    from csghub.xet.hashes import from_hex, sha256_to_shard
    from csghub.xet.shards import FileBlock, Shard, Term, serialize_shard

    secret = _private_object(live, tmp_path, xet=True, size=400_000)
    with live.hub.db() as session:
        row = session.get(LfsObject, secret.oid)
        assert row is not None and row.xet_hash is not None
        xet_hash = row.xet_hash
        stored = session.get(XetFile, xet_hash)
        assert stored is not None
        terms = bytes(stored.terms)
    thief, token = live.user("thief")
    repo = f"{thief}/loot"
    create_repo(live.url, token, repo)
    with api(live.url, token) as client:
        r = client.post(f"/api/models/{repo}/commit/main", content=_lfs_line("stolen.bin", secret.oid, 400_000))
        assert r.status_code == 400 and "not uploaded to this repository" in r.json()["error"]
        write = client.get(f"/api/models/{repo}/xet-write-token/main").json()
        read = client.get(f"/api/models/{repo}/xet-read-token/main").json()
    cas = write["casUrl"]
    # The thief's own Xet token does not open the owner's file, by its Xet hash.
    r = httpx.get(f"{cas}/v1/reconstructions/{xet_hash}", headers={"Authorization": f"Bearer {read['accessToken']}"})
    assert r.status_code == 404 and secret.data not in r.content
    # Even told the xorb and chunk range, a shard cannot register the file without every chunk's hash.
    xorb = terms[:32]
    start, end, unpacked = (int.from_bytes(terms[32 + 4 * i : 36 + 4 * i], "little") for i in range(3))
    forged = Shard(
        (
            FileBlock(
                from_hex(xet_hash),
                (Term(xorb, unpacked, start, end),),
                (os.urandom(32),),
                sha256_to_shard(secret.oid),
            ),
        ),
        (),
    )
    r = httpx.post(
        f"{cas}/v1/shards", content=serialize_shard(forged), headers={"Authorization": f"Bearer {write['accessToken']}"}
    )
    assert r.status_code == 400 and "verification" in r.json()["error"]
    with api(live.url, token) as client:
        r = client.post(f"/api/models/{repo}/commit/main", content=_lfs_line("stolen.bin", secret.oid, 400_000))
        assert r.status_code == 400
    _assert_unreadable(live, token, repo, secret)

    # Someone who holds the same bytes uploads them through hf_xet: deduplicated against the owner's
    # xorbs (nothing new stored), committed, and readable in their own repository.
    honest, honest_token = live.user("twin")
    twin = f"{honest}/copy"
    create_repo(live.url, honest_token, twin)
    path = tmp_path / "same.bin"
    path.write_bytes(secret.data)
    xorbs_before = _xorb_count(live)
    done = _run_hf(live, tmp_path, _UPLOAD_FILE, honest_token, twin, str(path), "same.bin", xet=True)
    assert done.returncode == 0, done.stderr
    assert _xorb_count(live) == xorbs_before
    with api(live.url, honest_token) as client:
        assert client.get(f"/{twin}/resolve/main/same.bin").content == secret.data
    # Through plain LFS, into another repository, the bytes are sent and hashed, but the hub keeps
    # only its Xet copy.
    plain = f"{honest}/plain"
    create_repo(live.url, honest_token, plain, private=True)
    done = _run_hf(live, tmp_path, _UPLOAD_FILE, honest_token, plain, str(path), "again.bin", xet=False)
    assert done.returncode == 0, done.stderr
    with api(live.url, honest_token) as client:
        assert client.get(f"/{plain}/resolve/main/again.bin").content == secret.data
    assert _blob_files(live, secret.oid) == [] and _xorb_count(live) == xorbs_before


def _xorb_count(live: LiveHub) -> int:
    from sqlalchemy import func, select

    from csghub.db.models import XetXorb

    with live.hub.db() as session:
        return int(session.scalar(select(func.count()).select_from(XetXorb)) or 0)


def _blob_files(live: LiveHub, oid: str) -> list[Path]:
    return [p for p in live.data_dir.rglob(oid) if p.is_file()]


def test_lfs_batch_asks_for_an_upload_of_objects_stored_elsewhere(live: LiveHub, tmp_path: Path) -> None:
    secret = _private_object(live, tmp_path)
    size = len(secret.data)
    other, token = live.user("other")
    repo = f"{other}/mine"
    create_repo(live.url, token, repo)
    with api(live.url, token) as client:
        stored = _batch(client, repo, "upload", secret.oid, size)
        unknown = _batch(client, repo, "upload", secrets.token_hex(32), size)
        # The same answer for an object stored elsewhere as for one that exists nowhere.
        assert set(stored["actions"]) == set(unknown["actions"]) == {"upload", "verify"}  # type: ignore[arg-type]
        actions = stored["actions"]
        assert isinstance(actions, dict)
        href, verify = actions["upload"]["href"], actions["verify"]["href"]
        # Naming the object is not enough: the verify stands only for bytes sent here.
        r = httpx.post(verify, json={"oid": secret.oid, "size": size})
        assert r.status_code == 400 and "was not uploaded" in r.json()["message"]
        r = httpx.put(href, content=os.urandom(size))
        assert r.status_code == 400 and "Checksum mismatch" in r.json()["message"]
        r = client.post(f"/api/models/{repo}/commit/main", content=_lfs_line("copy.bin", secret.oid, size))
        assert r.status_code == 400
        # Whoever holds the bytes sends them: verified, committed, and stored once.
        assert httpx.put(href, content=secret.data).status_code == 200
        assert httpx.post(verify, json={"oid": secret.oid, "size": size}).status_code == 200
        r = client.post(f"/api/models/{repo}/commit/main", content=_lfs_line("copy.bin", secret.oid, size))
        assert r.status_code == 200, r.text
        assert client.get(f"/{repo}/resolve/main/copy.bin").content == secret.data
        assert "actions" not in _batch(client, repo, "upload", secret.oid, size)
    assert len(_blob_files(live, secret.oid)) == 1
    # A transfer link is signed for one repository: it proves nothing for another one.
    thief, thief_token = live.user("thief")
    create_repo(live.url, thief_token, f"{thief}/loot")
    forged = verify.replace(f"repo={_repo_id(live, repo)}&", f"repo={_repo_id(live, f'{thief}/loot')}&")
    assert httpx.post(forged, json={"oid": secret.oid, "size": size}).status_code == 401


def _repo_id(live: LiveHub, full_name: str) -> int:
    from csghub.core.names import RepoId, RepoType
    from csghub.services.permissions import Actor
    from csghub.services.repositories import repos

    admin = Actor(user_id=0, name="admin", is_admin=True)
    return repos.get_repo(live.hub, admin, RepoType.MODEL, RepoId.of(*full_name.split("/"))).id


def test_owner_copies_an_object_between_their_repositories_without_uploading(live: LiveHub, tmp_path: Path) -> None:
    secret = _private_object(live, tmp_path)
    size = len(secret.data)
    second = f"{secret.owner}/second"
    create_repo(live.url, secret.token, second, private=True)
    with api(live.url, secret.token) as client:
        r = client.post(f"/api/models/{second}/commit/main", content=_lfs_line("copy.bin", secret.oid, size))
        assert r.status_code == 200, r.text
        assert client.get(f"/{second}/resolve/main/copy.bin").content == secret.data
    # The same through a push of the bare pointer, without git-lfs: the pusher may read the first repository.
    third = f"{secret.owner}/third"
    create_repo(live.url, secret.token, third)
    env = client_env(tmp_path / "home")
    checkout = tmp_path / "third"
    git(
        "clone", f"http://{secret.owner}:{secret.token}@{live.host()}/{third}.git", str(checkout), cwd=tmp_path, env=env
    )
    (checkout / "copy.bin").write_bytes(format_pointer(secret.oid, size))
    git("add", "copy.bin", cwd=checkout, env=env)
    git("commit", "-qm", "copy", cwd=checkout, env=env)
    git("push", "-q", "origin", "main", cwd=checkout, env=env)
    with api(live.url, secret.token) as client:
        assert client.get(f"/{third}/resolve/main/copy.bin").content == secret.data
        assert "actions" in _batch(client, third, "download", secret.oid, size)
    assert len(_blob_files(live, secret.oid)) == 1


def test_org_member_reuses_an_object_they_can_read_but_not_with_a_token_that_cannot(
    live: LiveHub, tmp_path: Path
) -> None:
    from csghub.services.identity import orgs, tokens

    secret = _private_object(live, tmp_path)
    size = len(secret.data)
    org = f"org{secrets.token_hex(3)}"
    orgs.create_org(live.hub, org, owner=secret.owner)
    # A new token: the server remembers a token's organizations from its first use.
    owner_token = tokens.create_token(live.hub, secret.owner, name="org")[0]
    team = f"{org}/weights"
    create_repo(live.url, owner_token, team, private=True)
    with api(live.url, owner_token) as client:
        r = client.post(f"/api/models/{team}/commit/main", content=_lfs_line("w.bin", secret.oid, size))
        assert r.status_code == 200, r.text
    member, member_token = live.user("member")
    orgs.set_member_role(live.hub, None, org, member, "read")
    own = f"{member}/finetune"
    create_repo(live.url, member_token, own)
    # A token that reaches only the member's own repository cannot read the organization's: no proof.
    narrow = tokens.create_token(
        live.hub, member, name="narrow", scope="fine", grants=[tokens.GrantSpec(f"model:{own}", ("read", "write"))]
    )[0]
    with api(live.url, narrow) as client:
        r = client.post(f"/api/models/{own}/commit/main", content=_lfs_line("base.bin", secret.oid, size))
        assert r.status_code == 400 and "not uploaded to this repository" in r.json()["error"]
    with api(live.url, member_token) as client:
        r = client.post(f"/api/models/{own}/commit/main", content=_lfs_line("base.bin", secret.oid, size))
        assert r.status_code == 200, r.text
        assert client.get(f"/{own}/resolve/main/base.bin").content == secret.data


def _ssh_pusher(live: LiveHub, tmp: Path, token: str, label: str) -> dict[str, str]:
    key = tmp / f"id-{label}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, capture_output=True)
    with api(live.url, token) as client:
        r = client.post("/api/v1/user/ssh_keys", json={"name": label, "content": key.with_suffix(".pub").read_text()})
        assert r.status_code == 200, r.text
    env = client_env(tmp / f"home-{label}")  # plain git: no git-lfs to upload anything
    env["GIT_SSH_COMMAND"] = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR"
    )
    return env


def _push_pointer_over_ssh(
    live: LiveHub, tmp: Path, env: dict[str, str], repo: str, secret: Secret
) -> subprocess.CompletedProcess[str]:
    checkout = tmp / f"ssh-{repo.replace('/', '-')}"
    git("clone", f"ssh://git@127.0.0.1:{live.ssh_port}/{repo}.git", str(checkout), cwd=tmp, env=env)
    (checkout / "model.bin").write_bytes(format_pointer(secret.oid, len(secret.data)))
    git("add", "model.bin", cwd=checkout, env=env)
    git("commit", "-qm", "pointer", cwd=checkout, env=env)
    return git("push", "origin", "main", cwd=checkout, env=env, check=False)


def test_pointer_pushes_over_ssh_follow_the_pusher(live: LiveHub, tmp_path: Path) -> None:
    secret = _private_object(live, tmp_path)
    # The owner may read the first repository, so a bare pointer in a second one is a copy.
    own = f"{secret.owner}/over-ssh"
    create_repo(live.url, secret.token, own, private=True)
    push = _push_pointer_over_ssh(live, tmp_path, _ssh_pusher(live, tmp_path, secret.token, "owner"), own, secret)
    assert push.returncode == 0, push.stderr
    with api(live.url, secret.token) as client:
        assert client.get(f"/{own}/resolve/main/model.bin").content == secret.data
    # A stranger's pointer to the same object is refused in-protocol, by path.
    thief, token = live.user("thief")
    loot = f"{thief}/over-ssh"
    create_repo(live.url, token, loot)
    push = _push_pointer_over_ssh(live, tmp_path, _ssh_pusher(live, tmp_path, token, "thief"), loot, secret)
    assert push.returncode != 0
    assert "model.bin" in push.stderr and "never uploaded to this repository" in push.stderr, push.stderr
    with api(live.url, token) as client:
        assert client.get(f"/{loot}/resolve/main/model.bin").status_code == 404


def _multipart_upload_id(client: httpx.Client, repo: str, oid: str, size: int) -> str:
    # csghub-sdk's way of asking: every object gets a multipart upload, resumable by its id.
    r = client.post(
        f"/{repo}.git/info/lfs/objects/batch?upload_id=sdk",
        json={"operation": "upload", "transfers": ["multipart"], "objects": [{"oid": oid, "size": size}]},
        headers=LFS_JSON,
    )
    assert r.status_code == 200, r.text
    href = r.json()["objects"][0]["actions"]["upload"]["href"]
    return str(href.split("/lfs/complete/")[1].split("?")[0])


def test_multipart_uploads_are_resumed_only_by_their_repository(live: LiveHub, tmp_path: Path) -> None:
    data = os.urandom(5000)
    oid = hashlib.sha256(data).hexdigest()
    owner, owner_token = live.user("owner")
    thief, thief_token = live.user("thief")
    create_repo(live.url, owner_token, f"{owner}/up", private=True)
    create_repo(live.url, thief_token, f"{thief}/loot")
    with api(live.url, owner_token) as client:
        first = _multipart_upload_id(client, f"{owner}/up", oid, len(data))
        assert _multipart_upload_id(client, f"{owner}/up", oid, len(data)) == first
    with api(live.url, thief_token) as client:
        # The thief's upload of the same object is a new one: completing it takes the thief's own parts.
        theirs = _multipart_upload_id(client, f"{thief}/loot", oid, len(data))
        assert theirs != first


def test_on_s3_the_bytes_of_a_stored_object_are_uploaded_again_and_kept_once(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    moto = MotoServer().start()
    try:
        bucket = f"hub{secrets.token_hex(4)}"
        hub = live_hub_factory(
            {
                "CSGHUB_STORAGE": "s3",
                "CSGHUB_S3_BUCKET": bucket,
                "CSGHUB_S3_ENDPOINT": moto.endpoint,
                "CSGHUB_S3_ACCESS_KEY": "test",
                "CSGHUB_S3_SECRET_KEY": "test",
            }
        )
        payload = os.urandom(2_000_000)
        oid = hashlib.sha256(payload).hexdigest()
        env = setup_git_home(tmp_path / "home")
        for label in ("first", "second"):
            user, token = hub.user(label)
            repo = f"{user}/weights"
            create_repo(hub.url, token, repo, private=True)
            work = tmp_path / label
            git("clone", f"http://{user}:{token}@{hub.host()}/{repo}", str(work), cwd=tmp_path, env=env)
            (work / "weights.bin").write_bytes(payload)
            git("add", "weights.bin", cwd=work, env=env)
            git("commit", "-qm", "weights", cwd=work, env=env)
            git("push", "origin", "main", cwd=work, env=env)
            with api(hub.url, token) as client:
                assert client.get(f"/{repo}/resolve/main/weights.bin", follow_redirects=True).content == payload
        # The second push uploaded the bytes too (the hub asked although it had them): both repositories
        # hold the proof of an upload, and the bucket one object.
        from sqlalchemy import select

        from csghub.db.models import RepoLfsUpload

        with hub.hub.db() as session:
            assert len(list(session.scalars(select(RepoLfsUpload.repo_id).where(RepoLfsUpload.oid == oid)))) == 2
        keys = [o["Key"] for o in hub.hub.blobs.client.list_objects_v2(Bucket=bucket).get("Contents", [])]  # type: ignore[attr-defined]
        assert [k for k in keys if oid in k] == [f"lfs/{oid[:2]}/{oid[2:4]}/{oid}"], keys
        # A stranger's verify for the object stands for no upload of theirs.
        thief, thief_token = hub.user("thief")
        create_repo(hub.url, thief_token, f"{thief}/loot")
        with api(hub.url, thief_token) as client:
            entry = _batch(client, f"{thief}/loot", "upload", oid, len(payload))
            actions = entry["actions"]
            assert isinstance(actions, dict) and actions["upload"]["href"].startswith(moto.endpoint)
            r = httpx.post(actions["verify"]["href"], json={"oid": oid, "size": len(payload)})
            assert r.status_code == 400 and "was not uploaded" in r.json()["message"]
            r = client.post(f"/api/models/{thief}/loot/commit/main", content=_lfs_line("w.bin", oid, len(payload)))
            assert r.status_code == 400
    finally:
        moto.stop()
