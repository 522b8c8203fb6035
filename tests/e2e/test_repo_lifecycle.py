"""Repository lifecycle through the API: types, visibility, rename/move, model cards, deletion."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from huggingface_hub import HfApi

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub


def _commit(client, repo: str, files: dict[str, bytes], repo_type: str = "models") -> str:  # type: ignore[no-untyped-def]
    lines = [{"key": "header", "value": {"summary": "files"}}]
    lines += [
        {"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(), "encoding": "base64"}}
        for p, c in files.items()
    ]
    r = client.post(f"/api/{repo_type}/{repo}/commit/main", content="".join(json.dumps(x) + "\n" for x in lines))
    assert r.status_code == 200, r.text
    return str(r.json()["commitOid"])


def test_repo_types_have_their_own_urls_and_listings(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    hf = HfApi(endpoint=live.url, token=token)
    hf.create_repo(f"{user}/same-name", repo_type="dataset")
    hf.create_repo(f"{user}/same-name", repo_type="model")
    hf.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=f"{user}/same-name", repo_type="dataset"
    )
    assert [d.id for d in hf.list_datasets(author=user)] == [f"{user}/same-name"]
    assert hf.file_exists(f"{user}/same-name", "data.csv", repo_type="dataset")
    assert not hf.file_exists(f"{user}/same-name", "data.csv")
    env = setup_git_home(tmp_path / "home")
    git("clone", f"http://{live.host()}/datasets/{user}/same-name.git", str(tmp_path / "d"), cwd=tmp_path, env=env)
    assert (tmp_path / "d" / "data.csv").read_text() == "a,b\n1,2\n"
    with api(live.url, token) as client:
        r = client.post("/api/repos/create", json={"name": "c1", "organization": user, "type": "code"})
        assert r.status_code == 200 and r.json()["url"].endswith(f"/codes/{user}/c1")
        assert client.get(f"/api/codes/{user}/c1").json()["id"] == f"{user}/c1"


def test_repo_visibility_can_be_changed_and_hides_the_repo(live: LiveHub) -> None:
    user, token = live.user()
    repo = f"{user}/vis"
    create_repo(live.url, token, repo)
    with api(live.url) as anonymous, api(live.url, token) as owner:
        assert anonymous.get(f"/api/models/{repo}").status_code == 200
        r = owner.put(f"/api/models/{repo}/settings", json={"private": True})
        assert r.status_code == 200 and r.json()["private"] is True
        assert anonymous.get(f"/api/models/{repo}").status_code == 401
        assert repo not in [m["id"] for m in anonymous.get("/api/models", params={"author": user}).json()]
        assert repo in [m["id"] for m in owner.get("/api/models", params={"author": user}).json()]
        assert anonymous.head(f"/{repo}/resolve/main/README.md").status_code == 401
        bad = owner.put(f"/api/models/{repo}/settings", json={"private": "yes"})
        assert bad.status_code == 400


def test_repo_move_to_org_keeps_history_and_frees_the_old_name(live: LiveHub) -> None:
    from csghub.services.identity import orgs

    user, token = live.user()
    org = f"org{user}"
    orgs.create_org(live.hub, org, owner=user)
    create_repo(live.url, token, f"{user}/old")
    with api(live.url, token) as client:
        sha = _commit(client, f"{user}/old", {"a.txt": b"a"})
        r = client.post("/api/repos/move", json={"fromRepo": f"{user}/old", "toRepo": f"{org}/new", "type": "model"})
        assert r.status_code == 200, r.text
        moved = client.get(f"/api/models/{org}/new").json()
        assert moved["sha"] == sha and moved["author"] == org
        assert client.get(f"/api/models/{user}/old").status_code == 404
        assert client.get(f"/{org}/new/resolve/main/a.txt").text == "a"
        other, other_token = live.user()
        with api(live.url, other_token) as stranger:
            denied = stranger.post("/api/repos/move", json={"fromRepo": f"{org}/new", "toRepo": f"{other}/stolen"})
            assert denied.status_code == 403


def test_model_card_front_matter_becomes_card_data_whichever_way_it_arrives(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/card"
    create_repo(live.url, token, repo)
    env = setup_git_home(tmp_path / "home")
    work = tmp_path / "w"
    git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=env)
    (work / "README.md").write_text("---\nlicense: mit\npipeline_tag: text-classification\ntags: [pushed]\n---\n# x\n")
    (work / "model.gguf").write_bytes(os.urandom(1000))
    git("add", ".", cwd=work, env=env)
    git("commit", "-m", "card", cwd=work, env=env)
    git("push", "origin", "main", cwd=work, env=env)
    with api(live.url, token) as client:
        info = client.get(f"/api/models/{repo}").json()
        assert info["cardData"]["license"] == "mit"
        assert {"pushed", "gguf", "text-classification", "license:mit"} <= set(info["tags"])
        assert info["lastModified"].endswith("Z") and info["createdAt"].endswith("Z")
        _commit(client, repo, {"README.md": b"---\nlicense: apache-2.0\nlibrary_name: peft\n---\n"})
        info = client.get(f"/api/models/{repo}").json()
        assert info["cardData"] == {"license": "apache-2.0", "library_name": "peft"}
        assert "peft" in info["tags"] and "pushed" not in info["tags"]
        assert [m["id"] for m in client.get("/api/models", params={"filter": "peft", "author": user}).json()] == [repo]


def test_repo_delete_reclaims_storage_not_shared_objects(live: LiveHub) -> None:
    user, token = live.user()
    shared = os.urandom(200_000)
    own = os.urandom(200_000)
    with api(live.url, token) as client:
        for name in ("keep", "drop"):
            create_repo(live.url, token, f"{user}/{name}")
        _commit(client, f"{user}/keep", {"shared.bin": shared})
        _commit(client, f"{user}/drop", {"shared.bin": shared, "own.bin": own})
        view_path = client.get(f"/api/models/{user}/drop").json()["_id"]
        assert view_path.startswith("model-")
        repo_dir = live.hub.repo_path(int(view_path.split("-")[1]))
        assert repo_dir.exists()
        r = client.request("DELETE", "/api/repos/delete", json={"name": "drop", "organization": user})
        assert r.status_code == 200
        assert client.get(f"/api/models/{user}/drop").status_code == 404
    assert not repo_dir.exists()
    assert not live.hub.blobs.exists(hashlib.sha256(own).hexdigest())
    assert live.hub.blobs.exists(hashlib.sha256(shared).hexdigest())
    with api(live.url, token) as client:
        assert client.get(f"/{user}/keep/resolve/main/shared.bin").content == shared
