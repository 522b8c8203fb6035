"""Every portal page on a 390 px phone (Debian's Chromium through Playwright) against one live hub whose
site has one of each thing a page shows: no page scrolls sideways (wide code and tables scroll inside
themselves), and none logs a console error, throws, or fails to load one of its own assets.

The pages walked come from the application itself: every GET route of the portal's routers is either
mapped to a concrete URL on the site below (PAGES) or excluded with a reason (EXCLUDED), and a unit-level
test fails when a new page route is neither, so no future page escapes the walk."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response

from csghub.core.names import RepoId, RepoType
from csghub.services.community import collections, discussions, likes
from csghub.services.compute import endpoints
from csghub.services.finetune import experiments, groups, instances, jobs
from csghub.services.identity import accounts, orgs, profile_details, tokens
from csghub.services.mirrors import mirrors, sources
from csghub.services.permissions import Actor
from csghub.services.repositories import files as files_service
from csghub.services.repositories import repos
from csghub.services.webhooks import hooks
from csghub.web.routes import mount_web
from tests.conftest import start_hub
from tests.support.clients import create_repo, write_file
from tests.support.live import LiveHub, kill_replicas_left_in

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "walking passphrase 8"
PHONE = {"width": 390, "height": 844}
WIDE = "w" * 320
CODE = f"```python\nprint('{WIDE}')\n```\n"
HEADS, CELLS = " | ".join(f"column {i}" for i in range(14)), " | ".join(f"v{i}" for i in range(14))
TABLE = f"| {HEADS} |\n|{'---|' * 14}\n| {CELLS} |\n"
LONG_NAME = "a-rather-long-repository-name-that-keeps-going-and-going"
README = f"# Wide things\n\n{CODE}\n{TABLE}\n"
SPACE_README = "---\nsdk: static\ntitle: Hello page\n---\n\n# A space\n"
CSV = "question,answer\n" + "".join(f"What is {i} plus {i}?,{2 * i}\n" for i in range(20)) + f"Long?,{WIDE}\n"

# The typed prefix of each repository type's pages, and the repository of that type on the site.
TYPES = {"model": "", "dataset": "/datasets", "space": "/spaces", "code": "/codes"}


@dataclass(frozen=True)
class Site:
    url: str
    admin: str
    org: str
    model: str
    dataset: str
    space: str
    code: str
    commits: dict[str, str]
    collection: str
    webhook: int
    source: int
    task: int
    instance: int
    experiment: int


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

# Parts of the routes of pages only an account (or a space's owner) opens: the visitor's walk leaves them out.
SIGNED_IN_ONLY = (
    "/new",
    "/settings",
    "/notifications",
    "/admin",
    "/organizations/",
    "/collections/new",
    "/endpoints/new",
    "/resource-console",
    "/finetune",
    "/upload/",
    "/edit/",
    "/new/",
    "/discussions/new",
    "/logs",
)

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


def test_every_page_route_is_walked_or_excluded_with_a_reason() -> None:
    routes = html_routes()
    assert sorted(routes - PAGES.keys() - EXCLUDED.keys()) == [], "map each new page to a URL in PAGES, or exclude it"
    assert sorted((PAGES.keys() | EXCLUDED.keys()) - routes) == [], "entries for routes that no longer exist"
    assert sorted(PAGES.keys() & EXCLUDED.keys()) == []
    assert all(reason.strip() for reason in EXCLUDED.values())


def _fill(live: LiveHub, api: HfApi, actor: Actor, token: str, kind: str, repo: str, files: dict[str, str]) -> str:
    """A repository of `kind` with `files` and a discussion holding wide code; its last commit's id.
    huggingface_hub knows no code repositories: those go through the CSGHub API and the services."""
    title = f"Code in a comment {WIDE[:80]}"
    if kind == "code":
        create_repo(live.url, token, repo, repo_type="code")
        for path, text in files.items():
            write_file(live.url, token, repo, path, text, repo_type="code")
        repo_id = RepoId.parse(repo)
        opened = discussions.open_discussion(live.hub, actor, RepoType.CODE, repo_id, title, CODE)
        discussions.add_comment(live.hub, actor, RepoType.CODE, repo_id, opened.number, f"Or this:\n\n{CODE}")
        view = repos.get_repo(live.hub, actor, RepoType.CODE, repo_id)
        return files_service.at_revision(live.hub, actor, view, None).sha
    api.create_repo(repo, repo_type=kind, space_sdk="static" if kind == "space" else None)
    adds = [CommitOperationAdd(path, text.encode()) for path, text in files.items()]
    commit = api.create_commit(repo, adds, commit_message=f"Files for the walk {WIDE[:120]}", repo_type=kind).oid
    discussion = api.create_discussion(repo, title=title, description=CODE, repo_type=kind)
    api.comment_discussion(repo, discussion.num, f"Or this:\n\n{CODE}", repo_type=kind)
    return commit


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # A hub that may reach itself: the mirror source and the webhook point at 127.0.0.1.
    data_dir = tmp_path_factory.mktemp("walk") / "data"
    live = start_hub(data_dir, {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    try:
        yield _build_site(live)
    finally:
        live.stop()
        kill_replicas_left_in(data_dir)


def _build_site(live: LiveHub) -> Site:
    admin = f"root{secrets.token_hex(3)}"
    user = accounts.create_user(live.hub, admin, email=f"{admin}@example.com", password=PASSWORD, is_admin=True)
    actor = accounts.actor_from_user_id(live.hub, user.id)
    token = tokens.create_token(live.hub, admin, scope="write")[0]
    org = f"lab-with-a-long-name-{secrets.token_hex(3)}"
    orgs.create_org(live.hub, org, owner=admin, full_name="A laboratory with a rather long name indeed")
    api = HfApi(endpoint=live.url, token=token)
    names = {kind: f"{admin}/{LONG_NAME}-{kind}" for kind in TYPES}
    commits: dict[str, str] = {}
    for kind, repo in names.items():
        folder = {
            "model": "docs/guide.md",
            "dataset": "data/train.csv",
            "space": "docs/guide.md",
            "code": "src/main.py",
        }
        files = {"README.md": SPACE_README + README if kind == "space" else README, "wide.py": f"print('{WIDE}')\n"}
        files[folder[kind]] = CSV if kind == "dataset" else f"# {WIDE}\n"
        files[f"{folder[kind].split('/')[0]}/{LONG_NAME}-{LONG_NAME}.md"] = "A file with a long name\n"
        if kind == "model":  # a model an endpoint can be made of (weights are not needed for the record)
            files["README.md"] = f"---\npipeline_tag: text-generation\ntags:\n- {WIDE[:80]}\n---\n" + README
            files["config.json"] = '{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n'
        if kind == "space":
            files["index.html"] = "<!doctype html><title>Hello</title><p>Hello from a space</p>\n"
        commits[kind] = _fill(live, api, actor, token, kind, repo, files)
    # Long words where people write their own text: full names, bios, links.
    for name in (admin, org):
        profile_details.update_details(
            live.hub,
            actor,
            name,
            full_name=f"Ada {WIDE[:150]}",
            bio=WIDE,
            links={"homepage": f"https://{WIDE[:200]}.org"},
        )
    # A pull request (discussion 2 of the model) from another user, who mentions the admin: a notification.
    fan = f"fan{secrets.token_hex(3)}"
    accounts.create_user(live.hub, fan, email=f"{fan}@example.com", password=PASSWORD)
    fan_api = HfApi(endpoint=live.url, token=tokens.create_token(live.hub, fan, scope="write")[0])
    fan_api.create_commit(
        names["model"],
        [CommitOperationAdd("wide.py", f"print('{WIDE} changed')\n".encode())],
        commit_message=f"A change for @{admin} {WIDE[:120]}",
        create_pr=True,
    )
    fan_api.comment_discussion(names["model"], 1, f"@{admin} have a look")
    likes.set_like(live.hub, actor, RepoType.MODEL, RepoId.parse(names["model"]), True)
    api.create_branch(names["model"], branch=f"feature-{LONG_NAME}")
    picks = collections.create_collection(live.hub, actor, admin, f"Walk picks {WIDE[:60]}", description=WIDE)
    collections.add_item(live.hub, actor, admin, picks.slug, RepoType.MODEL, RepoId.parse(names["model"]))
    webhook = hooks.create_webhook(
        live.hub,
        actor,
        hooks.WebhookSpec(url=f"http://127.0.0.1:9/hook/{WIDE[:120]}", watched=(hooks.Watched("user", admin),)),
    )
    source = sources.create_source(live.hub, actor, sources.SourceSpec(name="peer", base_url=live.url))
    mirrors.create_mirror(
        live.hub, actor, mirrors.MirrorSpec(source="peer", upstream=names["model"], repo=f"{admin}/mirrored")
    )
    task = mirrors.list_tasks(live.hub, actor)[0][0]
    groups.create_group(live.hub, actor, "walk-group", {})
    # An endpoint and an experiment stopped as soon as they are made: their pages, with nothing running.
    spec = endpoints.EndpointSpec(name="walk-endpoint", visibility="public")
    endpoint = endpoints.create_endpoint(live.hub, actor, RepoId.parse(names["model"]), spec)
    endpoints.stop_endpoint(live.hub, actor, endpoint.id)
    job = jobs.JobRequest(name="walk-task", model=names["model"], dataset=names["dataset"])
    experiment = experiments.create_experiment(live.hub, actor, "walk-experiment", [job])
    experiments.cancel_experiment(live.hub, actor, experiment.id)
    instance = instances.create_instance(live.hub, actor, RepoId.parse(names["model"]), "walk-instance")
    return Site(
        url=live.url,
        admin=admin,
        org=org,
        model=names["model"],
        dataset=names["dataset"],
        space=names["space"],
        code=names["code"],
        commits=commits,
        collection=picks.slug,
        webhook=webhook.id,
        source=source.id,
        task=task.id,
        instance=instance.id,
        experiment=experiment.id,
    )


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

    def visit(self, path: str, status: int = 200) -> list[str]:
        """What is wrong with one page: its status, its width, and what it logged."""
        self.problems.clear()
        answer = self.page.goto(self.origin + path)
        found = [] if answer is not None and answer.status == status else [f"status {answer and answer.status}"]
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
    """Each URL to walk with the status it answers: the pages (a visitor's leaves out SIGNED_IN_ONLY
    routes), then the error pages."""
    fields = {name: getattr(site, name) for name in Site.__dataclass_fields__}
    visits = [
        (url.format(**fields), 200)
        for route, urls in PAGES.items()
        if signed_in or not any(part in route for part in SIGNED_IN_ONLY)
        for url in urls
    ]
    return visits + [(path.format(**fields), status) for path, status in ERRORS.items()]


@pytest.mark.parametrize("walker", list(VARIANTS), indirect=True)
def test_every_page_fits_a_phone_without_errors(walker: Walker, site: Site) -> None:
    visits = _visits(site, signed_in=walker.signed_in)
    failures = {path: found for path, status in visits if (found := walker.visit(path, status))}
    report = "\n".join(f"{path}: {'; '.join(found)}" for path, found in failures.items())
    assert not failures, f"{len(failures)} of {len(visits)} pages fail on a phone:\n{report}"
