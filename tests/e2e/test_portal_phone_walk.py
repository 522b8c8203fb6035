"""Every portal page on a 390 px phone (Debian's Chromium through Playwright) against one live hub whose
site has one of each thing a page shows (tests/support/phone_site.py): no page scrolls sideways (wide
code and tables scroll inside themselves), and none logs a console error, throws, or fails to load one
of its own assets. The administrator walks every page, a visitor the public ones (and is sent to sign in,
or refused readably, by the others), in light and dark, English and Chinese.

The pages walked come from the application itself: every GET route of the portal's routers is either
mapped to concrete URLs on that site (PAGES) or excluded with a reason (EXCLUDED), and a unit-level test
fails when a new page route is neither, so no future page escapes the walk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response

from csghub.web.routes import mount_web
from tests.conftest import start_hub
from tests.support.live import kill_replicas_left_in
from tests.support.phone_site import PASSWORD, TYPES, Site, build_site

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PHONE = {"width": 390, "height": 844}


def _repo_pages(kind: str) -> dict[str, tuple[str, ...]]:
    """The pages of one repository type, as route path -> URLs on the site (formatted with Site's fields)."""
    prefix, repo = TYPES[kind], "{" + kind + "}"
    base = f"{prefix}/{repo}"
    folder = {"model": "docs", "dataset": "data", "space": "docs", "code": "src"}[kind]
    pages = {
        "/{ns}/{name}": (base,),
        "/{ns}/{name}/tree/{revision}": (f"{base}/tree/main",),
        "/{ns}/{name}/tree/{revision}/{folder:path}": (f"{base}/tree/main/{folder}",),
        "/{ns}/{name}/blob/{revision}/{path:path}": (f"{base}/blob/main/README.md", f"{base}/blob/main/wide.py"),
        "/{ns}/{name}/commits/{revision}": (f"{base}/commits/main",),
        "/{ns}/{name}/commits/{revision}/{path:path}": (f"{base}/commits/main/README.md",),
        "/{ns}/{name}/commit/{sha}": (f"{base}/commit/{{commits[{kind}]}}",),
        "/{ns}/{name}/branches": (f"{base}/branches",),
        "/{ns}/{name}/settings": (f"{base}/settings",),
        "/{ns}/{name}/discussions": (f"{base}/discussions",),
        "/{ns}/{name}/discussions/new": (f"{base}/discussions/new",),
        "/{ns}/{name}/discussions/{number:int}": (f"{base}/discussions/1",)
        + ((f"{base}/discussions/2",) * (kind == "model")),
        "/{ns}/{name}/upload/{revision}": (f"{base}/upload/main",),
        "/{ns}/{name}/edit/{revision}/{path:path}": (f"{base}/edit/main/README.md",),
        "/{ns}/{name}/new/{revision}": (f"{base}/new/main",),
    }
    return {prefix + path: urls for path, urls in pages.items()}


PAGES: dict[str, tuple[str, ...]] = {
    "/": ("/",),
    "/{kind}": ("/models", "/datasets", "/spaces", "/codes", "/{admin}", "/{admin}?type=likes", "/{org}"),
    "/search": ("/search?search=wide", "/search?search=nothing-matches-this"),
    "/login": ("/login",),
    "/join": ("/join",),
    "/setup": ("/setup",),
    "/new": ("/new",),
    "/settings": ("/settings",),
    "/notifications": ("/notifications",),
    "/settings/webhooks": ("/settings/webhooks",),
    "/settings/webhooks/{webhook_id}": ("/settings/webhooks/{webhook}",),
    "/admin": ("/admin",),
    "/admin/users": ("/admin/users",),
    "/admin/orgs": ("/admin/orgs",),
    "/admin/repos": ("/admin/repos",),
    "/admin/audit": ("/admin/audit",),
    "/admin/mirrors": ("/admin/mirrors",),
    "/admin/mirrors/tasks": ("/admin/mirrors/tasks",),
    "/admin/mirrors/tasks/{task_id}/logs": ("/admin/mirrors/tasks/{task}/logs",),
    "/admin/mirrors/sources": ("/admin/mirrors/sources",),
    "/admin/mirrors/sources/{source_id}": ("/admin/mirrors/sources/{source}",),
    "/new/mirror": ("/new/mirror",),
    "/organizations/new": ("/organizations/new",),
    "/organizations/{org}/settings": ("/organizations/{org}/settings",),
    "/collections/new": ("/collections/new",),
    "/collections": ("/collections",),
    "/collections/{namespace}": ("/collections/{admin}",),
    "/collections/{namespace}/{slug}": ("/collections/{admin}/{collection}",),
    "/endpoints/new": ("/endpoints/new?model={model}",),
    "/endpoints": ("/endpoints",),
    "/endpoints/compare": ("/endpoints/compare",),
    "/endpoints/{owner}/{name}": ("/endpoints/{admin}/walk-endpoint",),
    "/endpoints/{owner}/{name}/settings": ("/endpoints/{admin}/walk-endpoint/settings",),
    "/endpoints/{owner}/{name}/playground": ("/endpoints/{admin}/walk-endpoint/playground",),
    "/resource-console": ("/resource-console",),
    "/datasets/{ns}/{name}/viewer": ("/datasets/{dataset}/viewer",),
    "/datasets/{ns}/{name}/finetune": ("/datasets/{dataset}/finetune",),
    "/finetune": ("/finetune",),
    "/finetune/groups": ("/finetune/groups",),
    "/finetune/experiments": ("/finetune/experiments",),
    "/finetune/experiments/new": ("/finetune/experiments/new",),
    "/finetune/experiments/{experiment_id}": ("/finetune/experiments/{experiment}",),
    "/finetune/experiments/{experiment_id}/compare": ("/finetune/experiments/{experiment}/compare",),
    "/finetune/instances": ("/finetune/instances",),
    "/finetune/instances/new": ("/finetune/instances/new?model={model}",),
    "/finetune/instances/{instance_id}": ("/finetune/instances/{instance}",),
    "/spaces/{ns}/{name}/logs": ("/spaces/{space}/logs",),
    **{path: urls for kind in TYPES for path, urls in _repo_pages(kind).items()},
}

EXCLUDED = {
    "/static/code.css": "a stylesheet, not a page",
    "/lang/{code}": "sets the language cookie and redirects back",
    "/{org}/settings": "redirects to /organizations/{org}/settings (walked)",
    "/datasets/{ns}/{name}/viewer/status": "JSON the viewer page polls",
    **{
        f"{p}/{{ns}}/{{name}}/tree": "the branch switcher's form target: redirects to tree/{rev}"
        for p in TYPES.values()
    },
}

# Pages only an account (or a space's owner) opens: routes that begin with one of the first, or hold
# one of the second.
ACCOUNT_ROUTES = ("/new", "/settings", "/notifications", "/admin", "/organizations/", "/collections/new")
ACCOUNT_ROUTES += ("/endpoints/new", "/resource-console", "/finetune")
ACCOUNT_PARTS = ("/settings", "/upload/", "/edit/", "/new/", "/discussions/new", "/logs")


def _for_accounts(route: str) -> bool:
    return route.startswith(ACCOUNT_ROUTES) or any(part in route for part in ACCOUNT_PARTS)


# The status a walk expects of an account's page seen signed out: the sign-in form it leads to, or a
# readable refusal (403 for writing to a public repository, 404 for what is hidden).
SIGN_IN = 0

# Error pages, with their documented status.
ERRORS = {"/{admin}/no-such-repo": 404, "/{model}/blob/main/no-such-file.txt": 404, "/{model}/discussions/99": 404}


def html_routes() -> set[str]:
    """The path of every GET route the portal's routers mount (what the application serves as pages)."""
    app = FastAPI()
    mount_web(app)
    return {
        route.path
        for route in app.routes
        if isinstance(route, APIRoute)
        and "GET" in route.methods
        and route.endpoint.__module__.startswith("csghub.web.")
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # A hub that may reach itself: the mirror source and the webhook point at 127.0.0.1.
    data_dir = tmp_path_factory.mktemp("walk") / "data"
    live = start_hub(data_dir, {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    try:
        yield build_site(live)
    finally:
        live.stop()
        kill_replicas_left_in(data_dir)


def test_every_page_route_is_walked_or_excluded_with_a_reason() -> None:
    routes = html_routes()
    assert sorted(routes - PAGES.keys() - EXCLUDED.keys()) == [], "map each new page to a URL in PAGES, or exclude it"
    assert sorted((PAGES.keys() | EXCLUDED.keys()) - routes) == [], "entries for routes that no longer exist"
    assert sorted(PAGES.keys() & EXCLUDED.keys()) == []
    assert all(reason.strip() for reason in EXCLUDED.values())


@dataclass
class Walker:
    """One phone browser (a variant: who, theme, language) and what went wrong on the page it is on."""

    page: Page
    origin: str
    signed_in: bool
    problems: list[str] = field(default_factory=list)

    def watch(self) -> None:
        def console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and "Failed to load resource" not in msg.text:
                self.problems.append(f"console: {msg.text}")

        def response(answer: Response) -> None:
            if (
                answer.url.startswith(self.origin)
                and answer.status >= 400
                and answer.request.resource_type != "document"
            ):
                self.problems.append(f"{answer.status} {answer.request.resource_type} {answer.url[len(self.origin) :]}")

        def failed(request: Request) -> None:
            if request.url.startswith(self.origin) and "ERR_ABORTED" not in (request.failure or ""):
                self.problems.append(f"failed {request.url[len(self.origin) :]}: {request.failure}")

        self.page.on("console", console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("response", response)
        self.page.on("requestfailed", failed)

    def visit(self, path: str, status: int) -> list[str]:
        """What is wrong with one page: its status, its width, and what it logged. SIGN_IN stands for an
        account's page seen signed out."""
        self.problems.clear()
        answer = self.page.goto(self.origin + path)
        got = answer.status if answer is not None else 0
        if status == SIGN_IN:
            ok = got in (403, 404) or (got == 200 and urlsplit(self.page.url).path == "/login")
        else:
            ok = got == status
        found = [] if ok else [f"status {got} at {self.page.url[len(self.origin) :]}"]
        # Wider content would scroll sideways, or make the phone zoom out to show it all.
        width, shown = self.page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        if (width, shown) != (PHONE["width"], PHONE["width"]):
            found.append(f"{width}px wide, {shown}px shown")
        return found + self.problems


# Who walks, in which theme and language: the administrator sees every page; a visitor the public ones.
VARIANTS = {
    "admin-light-en": ("admin", "light", "en"),
    "admin-dark-en": ("admin", "dark", "en"),
    "admin-light-zh": ("admin", "light", "zh"),
    "admin-dark-zh": ("admin", "dark", "zh"),
    "anonymous-dark-en": ("anonymous", "dark", "en"),
    "anonymous-light-zh": ("anonymous", "light", "zh"),
}


@pytest.fixture
def walker(browser: Browser, site: Site, request: pytest.FixtureRequest) -> Iterator[Walker]:
    who, scheme, lang = VARIANTS[request.param]
    context: BrowserContext = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, color_scheme=scheme
    )
    page = context.new_page()
    if who == "admin":
        page.goto(f"{site.url}/login")
        page.fill("input[name=username]", site.admin)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{site.url}/")
    page.goto(f"{site.url}/lang/{lang}?next=/")
    assert page.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en")
    walker = Walker(page, site.url, signed_in=who == "admin")
    walker.watch()
    yield walker
    context.close()


def _visits(site: Site, *, signed_in: bool) -> list[tuple[str, int]]:
    """Each URL to walk with the status it answers: the pages (an account's lead a visitor to sign in),
    then the error pages."""
    fields = {name: getattr(site, name) for name in Site.__dataclass_fields__}
    visits = [
        (url.format(**fields), 200 if signed_in or not _for_accounts(route) else SIGN_IN)
        for route, urls in PAGES.items()
        for url in urls
    ]
    return visits + [(path.format(**fields), status) for path, status in ERRORS.items()]


@pytest.mark.parametrize("walker", list(VARIANTS), indirect=True)
def test_every_page_fits_a_phone_without_errors(walker: Walker, site: Site) -> None:
    visits = _visits(site, signed_in=walker.signed_in)
    failures = {path: found for path, status in visits if (found := walker.visit(path, status))}
    report = "\n".join(f"{path}: {'; '.join(found)}" for path, found in failures.items())
    assert not failures, f"{len(failures)} of {len(visits)} pages fail on a phone:\n{report}"
