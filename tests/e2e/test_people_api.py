"""People over the API of a live hub: editing a profile (full name, bio, links, avatar) and seeing it in
huggingface_hub's get_user_overview and get_organization_overview; avatars refused unless they are small
PNG/JPEG/WebP/GIF images (never SVG, never HTML named .png); list_liked_repos shows only what the viewer
may read; a mention in a discussion reaches its person's notifications, which the API lists, counts and
marks read."""

from __future__ import annotations

import hashlib
import struct
import zlib

import httpx
from huggingface_hub import HfApi

from tests.support.clients import api, create_repo
from tests.support.live import LiveHub


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_profile_edits_show_in_the_hf_overview(live: LiveHub) -> None:
    name, token = live.user("prof")
    with api(live.url, token) as client:
        r = client.put(
            "/api/v1/user/profile",
            json={
                "full_name": "Ada Lovelace",
                "bio": "Engines *and* poems",
                "links": {"github": "https://github.com/ada"},
            },
        )
        assert r.status_code == 200, r.text
        image = png()
        r = client.put("/api/v1/user/avatar", content=image, headers={"Content-Type": "image/png"})
        assert r.status_code == 200, r.text
        avatar_url = r.json()["data"]["avatarUrl"]
    user = HfApi(endpoint=live.url, token=False).get_user_overview(name)
    assert (user.username, user.fullname, user.details) == (name, "Ada Lovelace", "Engines *and* poems")
    assert user.avatar_url == avatar_url and avatar_url.startswith(f"{live.url}/api/avatars/")
    served = httpx.get(avatar_url)
    assert served.content == image and served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    # A content hash names it: any other id (an LFS object's, say) is not served here.
    assert httpx.get(f"{live.url}/api/avatars/{hashlib.sha256(image).hexdigest()}").status_code == 404


def test_bad_avatars_and_links_are_refused_with_json(live: LiveHub) -> None:
    _name, token = live.user("bad")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<!doctype html><script>alert(1)</script>"
    with api(live.url, token) as client:
        for body, status in ((svg, 400), (html, 400), (b"", 400), (png() + b"\x00" * (1024 * 1024), 413)):
            r = client.put("/api/v1/user/avatar", content=body, headers={"Content-Type": "image/png"})
            assert r.status_code == status, r.text
            assert r.json()["error"] and r.headers["x-error-code"]
        for links in ({"homepage": "javascript:alert(1)"}, {"github": "ftp://x.org"}, {"myspace": "https://x.org"}):
            r = client.put("/api/v1/user/profile", json={"links": links})
            assert r.status_code == 400 and "link" in r.json()["error"].lower(), r.text
        assert client.put("/api/v1/user/profile", json={"bio": "x" * 5000}).status_code == 400
    assert httpx.put(f"{live.url}/api/v1/user/profile", json={"bio": "hi"}).status_code == 401


def test_org_admins_edit_its_profile_and_members_cannot(live: LiveHub) -> None:
    admin, admin_token = live.user("oadm")
    member, member_token = live.user("omem")
    org = f"org{admin[-8:]}"
    with api(live.url, admin_token) as client:
        assert client.post("/api/v1/organizations", json={"name": org}).status_code == 201
        r = client.put(f"/api/v1/organizations/{org}/members/{member}", json={"role": "write"})
        assert r.status_code == 200, r.text
        r = client.put(f"/api/v1/organizations/{org}/profile", json={"full_name": "Acme Labs", "bio": "We build"})
        assert r.status_code == 200, r.text
        assert client.put(f"/api/v1/organizations/{org}/avatar", content=png()).status_code == 200
    with api(live.url, member_token) as client:
        assert client.put(f"/api/v1/organizations/{org}/profile", json={"bio": "hijacked"}).status_code == 403
    overview = HfApi(endpoint=live.url, token=False).get_organization_overview(org)
    assert (overview.fullname, overview.details) == ("Acme Labs", "We build")
    assert overview.avatar_url.startswith(f"{live.url}/api/avatars/")


def test_likes_list_hides_what_the_viewer_cannot_read(live: LiveHub) -> None:
    owner, owner_token = live.user("lko")
    fan, fan_token = live.user("lkf")
    create_repo(live.url, owner_token, f"{owner}/open")
    create_repo(live.url, owner_token, f"{owner}/hidden", private=True)
    with api(live.url, owner_token) as client:
        r = client.put(f"/api/v1/models/{owner}/hidden/collaborators/{fan}", json={"role": "read"})
        assert r.status_code == 200, r.text
    with api(live.url, fan_token) as client:
        for repo in ("open", "hidden"):
            assert client.post(f"/api/models/{owner}/{repo}/like").status_code == 200
    assert HfApi(endpoint=live.url, token=fan_token).list_liked_repos(fan).models == [
        f"{owner}/hidden",
        f"{owner}/open",
    ]
    assert HfApi(endpoint=live.url, token=False).list_liked_repos(fan).models == [f"{owner}/open"]


def test_a_mention_becomes_a_notification_marked_read_by_api(live: LiveHub) -> None:
    owner, owner_token = live.user("nto")
    friend, friend_token = live.user("ntf")
    create_repo(live.url, owner_token, f"{owner}/talk")
    with api(live.url, owner_token) as client:
        r = client.post(
            f"/api/models/{owner}/talk/discussions", json={"title": "Review?", "description": f"@{friend} please"}
        )
        assert r.status_code == 200, r.text
        assert client.get("/api/v1/notifications/count").json()["data"]["unread"] == 0  # not the actor
    with api(live.url, friend_token) as client:
        assert client.get("/api/v1/notifications/count").json()["data"]["unread"] == 1
        page = client.get("/api/v1/notifications", params={"filter": "unread"}).json()["data"]
        item = page["items"][0]
        assert (item["kind"], item["actor"], item["repo"]["name"], item["number"]) == (
            "mention",
            owner,
            f"{owner}/talk",
            1,
        )
        assert client.put(f"/api/v1/notifications/{item['id']}", json={"read": True}).status_code == 200
        assert client.get("/api/v1/notifications/count").json()["data"]["unread"] == 0
        assert client.get("/api/v1/notifications", params={"filter": "bogus"}).status_code == 400
    with api(live.url, owner_token) as client:
        assert client.put(f"/api/v1/notifications/{item['id']}", json={"read": True}).status_code == 404
    assert httpx.get(f"{live.url}/api/v1/notifications").status_code == 401
