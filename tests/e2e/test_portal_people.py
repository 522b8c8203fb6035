"""People in a real browser (Debian's Chromium through Playwright) against a live hub: a user edits their
profile with an avatar and sees it on their page, with their bio and links; an SVG avatar is a readable
error page; the likes tab and /collections show only what the viewer may read; a mention makes a
notification whose unread count shows in the header and clears once read. Every one of these pages fits
a 390 px phone with no sideways scrolling and no console error, in the light and dark themes, in English
and Chinese."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from csghub.services.identity import accounts, tokens
from tests.e2e.test_people_api import png
from tests.support.browser import shot
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "people passphrase 7"
# A 1x1 GIF, the smallest real image.
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
SIZES = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}


@dataclass(frozen=True)
class People:
    owner: str
    owner_token: str
    fan: str
    fan_token: str


def _account(live: LiveHub, prefix: str) -> tuple[str, str]:
    name = f"{prefix}{secrets.token_hex(3)}"
    accounts.create_user(live.hub, name, email=f"{name}@example.com", password=PASSWORD)
    return name, tokens.create_token(live.hub, name, scope="write")[0]


@pytest.fixture(scope="module")
def people(live: LiveHub) -> People:
    owner, owner_token = _account(live, "own")
    fan, fan_token = _account(live, "fan")
    create_repo(live.url, owner_token, f"{owner}/liked-model")
    create_repo(live.url, owner_token, f"{owner}/secret-model", private=True)
    with api(live.url, owner_token) as client:
        r = client.put(f"/api/v1/models/{owner}/secret-model/collaborators/{fan}", json={"role": "read"})
        assert r.status_code == 200, r.text
        r = client.post("/api/collections", json={"namespace": owner, "title": "Favourite things"})
        assert r.status_code in (200, 201), r.text
    with api(live.url, fan_token) as client:
        for repo in ("liked-model", "secret-model"):
            assert client.post(f"/api/models/{owner}/{repo}/like").status_code == 200
    return People(owner, owner_token, fan, fan_token)


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    problems: list[str]


def _open(browser: Browser, live: LiveHub, name: str, *, size: str = "desktop", scheme: str = "light") -> Visit:
    """`name` signed in, in a browser of the given size and colour scheme, collecting every console error."""
    context = browser.new_context(viewport=SIZES[size], color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("a.me")).to_have_text(name)
    return Visit(context, page, problems)


@pytest.fixture
def owner_visit(browser: Browser, live: LiveHub, people: People) -> Iterator[Visit]:
    visit = _open(browser, live, people.owner)
    yield visit
    visit.context.close()


def test_edit_a_profile_with_an_avatar_and_see_it(owner_visit: Visit, live: LiveHub, people: People) -> None:
    page = owner_visit.page
    page.goto(f"{live.url}/settings")
    page.set_input_files("input[name=avatar]", {"name": "me.png", "mimeType": "image/png", "buffer": png(8, 8)})
    page.click("form[action='/settings/avatar'] button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Avatar saved")
    page.fill("input[name=full_name]", "Grace Hopper")
    page.fill("textarea[name=bio]", "Compilers and **COBOL**")
    page.fill("input[name=link_github]", "https://github.com/grace")
    page.click("form[action='/settings/profile'] button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Profile saved")

    page.goto(f"{live.url}/{people.owner}")
    expect(page.locator("h1.profile-name")).to_have_text("Grace Hopper")
    avatar = page.locator("aside img.avatar-img")
    expect(avatar).to_be_visible()
    assert avatar.evaluate("(img) => img.complete && img.naturalWidth") == 8
    expect(page.locator(".profile-bio strong")).to_have_text("COBOL")
    link = page.locator(".profile-links a")
    expect(link).to_have_attribute("href", "https://github.com/grace")
    assert {"nofollow", "noopener"} <= set((link.get_attribute("rel") or "").split())
    shot(page, "profile-with-avatar")
    assert owner_visit.problems == []


def test_an_organization_admin_edits_its_profile(owner_visit: Visit, live: LiveHub, people: People) -> None:
    org = f"lab{secrets.token_hex(3)}"
    with api(live.url, people.owner_token) as client:  # through the server, which knows its admin at once
        assert client.post("/api/v1/organizations", json={"name": org}).status_code == 201
    page = owner_visit.page
    page.goto(f"{live.url}/organizations/{org}/settings")
    page.set_input_files("input[name=avatar]", {"name": "o.gif", "mimeType": "image/gif", "buffer": GIF})
    page.click(f"form[action='/organizations/{org}/settings/avatar'] button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Avatar saved")
    page.fill("input[name=full_name]", "Lab of Things")
    page.fill("textarea[name=bio]", "We measure *everything*")
    page.fill("input[name=link_homepage]", "https://lab.example.org")
    page.click(f"form[action='/organizations/{org}/settings/details'] button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Profile saved")
    page.goto(f"{live.url}/{org}")
    expect(page.locator("h1.profile-name")).to_have_text("Lab of Things")
    assert page.locator("aside img.avatar-img").evaluate("(img) => img.complete && img.naturalWidth") == 1
    expect(page.locator(".profile-bio em")).to_have_text("everything")
    expect(page.locator(".profile-links a")).to_have_attribute("href", "https://lab.example.org")
    assert owner_visit.problems == []


def test_an_svg_avatar_is_a_readable_error_page(owner_visit: Visit, live: LiveHub) -> None:
    page = owner_visit.page
    page.goto(f"{live.url}/settings")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    page.set_input_files("input[name=avatar]", {"name": "me.png", "mimeType": "image/png", "buffer": svg})
    with page.expect_response(lambda r: r.url.endswith("/settings/avatar")) as answer:
        page.click("form[action='/settings/avatar'] button[type=submit]")
    assert answer.value.status == 400
    expect(page.locator("main")).to_contain_text("PNG, JPEG, WebP or GIF")


def test_the_likes_tab_shows_only_what_the_viewer_may_read(browser: Browser, live: LiveHub, people: People) -> None:
    fan = _open(browser, live, people.fan)
    fan.page.goto(f"{live.url}/{people.fan}?type=likes")
    expect(fan.page.locator("#likes-tab")).to_have_class("active")
    expect(fan.page.locator(".repo-list")).to_contain_text(f"{people.owner}/secret-model")
    expect(fan.page.locator(".repo-list")).to_contain_text(f"{people.owner}/liked-model")
    fan.context.close()
    stranger = browser.new_page()
    stranger.goto(f"{live.url}/{people.fan}?type=likes")
    expect(stranger.locator(".repo-list")).to_contain_text(f"{people.owner}/liked-model")
    expect(stranger.locator("main")).not_to_contain_text("secret-model")
    stranger.close()


def test_collections_page_searches_and_sorts(browser: Browser, live: LiveHub, people: People) -> None:
    page = browser.new_page()
    page.goto(f"{live.url}/collections")
    expect(page.locator(".collection-card", has_text="Favourite things")).to_be_visible()
    page.fill(".collection-filters input[name=search]", "no-such-collection-anywhere")
    page.click(".collection-filters button[type=submit]")
    expect(page.locator("main")).to_contain_text("No collections match.")
    page.goto(f"{live.url}/collections?sort=updated&search=favourite")
    expect(page.locator(".collection-card").first).to_contain_text("Favourite things")
    assert page.goto(f"{live.url}/collections?sort=sideways").status == 400  # type: ignore[union-attr]
    page.close()


@pytest.mark.parametrize(("size", "scheme", "lang"), [("desktop", "light", "en"), ("phone", "dark", "zh")])
def test_a_mention_lights_the_header_count_until_read(
    browser: Browser, live: LiveHub, people: People, size: str, scheme: str, lang: str
) -> None:
    reader_name, _ = _account(live, "rd")
    repo = f"talk-{size}"
    create_repo(live.url, people.owner_token, f"{people.owner}/{repo}")
    reader = _open(browser, live, reader_name, size=size, scheme=scheme)
    page = reader.page
    page.goto(f"{live.url}/lang/{lang}?next=/notifications")
    expect(page.locator("[data-unread]")).to_have_count(0)
    with api(live.url, people.owner_token) as client:
        body = {"title": "Have a look", "description": f"What do you think, @{reader_name}?"}
        assert client.post(f"/api/models/{people.owner}/{repo}/discussions", json=body).status_code == 200
    page.goto(f"{live.url}/notifications")
    expect(page.locator("header [data-unread]")).to_have_text("1")
    item = page.locator("li.notification.unread")
    expect(item).to_contain_text(people.owner)
    expect(item).to_contain_text("提到了您" if lang == "zh" else "mentioned you in")
    expect(item.locator("a.where")).to_have_attribute("href", f"/{people.owner}/{repo}/discussions/1")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width == SIZES[size]["width"], f"/notifications is {width}px wide"
    shot(page, f"notifications-{size}-{scheme}-{lang}")
    page.click("#mark-all-read")
    expect(page.locator("li.notification.read")).to_have_count(1)
    expect(page.locator("header [data-unread]")).to_have_count(0)
    assert reader.problems == []
    reader.context.close()


PAGES = {
    "settings": "/settings",
    "profile": "/{owner}",
    "likes": "/{fan}?type=likes",
    "notifications": "/notifications",
    "collections": "/collections",
}
# Words of these pages that only the people part shows, in Chinese.
ZH_PROOF = {
    "settings": "上传头像",
    "profile": "点赞",
    "likes": "点赞",
    "notifications": "全部标为已读",
    "collections": "最近更新",
}


# Each size, theme and language meets each other one (pairs), in four runs rather than eight.
SCREENS = [("desktop", "light", "en"), ("desktop", "dark", "zh"), ("phone", "light", "zh"), ("phone", "dark", "en")]


@pytest.mark.parametrize(("size", "scheme", "lang"), SCREENS)
def test_people_pages_fit_every_screen(
    browser: Browser, live: LiveHub, people: People, size: str, scheme: str, lang: str
) -> None:
    visit = _open(browser, live, people.owner, size=size, scheme=scheme)
    page = visit.page
    page.goto(f"{live.url}/lang/{lang}?next=/")
    with api(live.url, people.fan_token) as client:  # something to mark read on the owner's page
        client.post(f"/api/models/{people.owner}/liked-model/discussions", json={"title": "Hi", "description": "!"})
    for name, path in PAGES.items():
        response = page.goto(f"{live.url}{path.format(owner=people.owner, fan=people.fan)}")
        assert response is not None and response.status == 200, name
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width == SIZES[size]["width"], f"{name} is {width}px wide at {size}"
        if lang == "zh":
            expect(page.locator("main")).to_contain_text(ZH_PROOF[name])
    assert visit.problems == []
    visit.context.close()
