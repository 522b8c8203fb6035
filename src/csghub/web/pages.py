"""The portal's browsing pages: home, listings, and a repository's card, files, file view and history.

Handlers parse the URL, call services, and render; every rule (who sees what) stays in services.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import base_url, get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import lenient_index, page_number
from csghub.http.repos import RepoContext
from csghub.services.community import collections, likes
from csghub.services.compute import frameworks
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories import file_history, files, gating, refs, repos
from csghub.services.scanning import status as scan_status
from csghub.web import file_panels, first_steps, listing_pages, mirror_panels
from csghub.web.markdown import FrontMatter, MarkdownFile, cached_card, cached_document, highlight_file
from csghub.web.markdown_links import RepoLinks
from csghub.web.page_repos import open_page_repo, page_repo
from csghub.web.playground_pages import try_it_panel
from csghub.web.profile_pages import profile_page
from csghub.web.render import human_size, page_actor, render, repo_path

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
TREE_PAGE = 500
MAX_PREVIEW = 512 * 1024
_IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")


async def _page(request: Request, work: Any) -> Response:
    """Run a page's work in a thread (a failure becomes the error page: see http/errors.py)."""
    await page_actor(request)
    return await run_in_threadpool(work)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    hub = get_hub(request)

    def work() -> Response:
        actor: Actor = request.state.actor
        sections = [
            ("Trending models", "models", RepoType.MODEL, "downloads"),
            ("Recently updated models", "models", RepoType.MODEL, "lastModified"),
            ("Recently updated datasets", "datasets", RepoType.DATASET, "lastModified"),
            ("Recently updated spaces", "spaces", RepoType.SPACE, "lastModified"),
        ]
        found = [
            (title, kind, repos.list_repos(hub, actor, repos.RepoQuery(repo_type=t, sort=sort, limit=8)))
            for title, kind, t, sort in sections
        ]
        # A fresh hub: what to do first instead of four headings over empty lists.
        empty = not any(listed for _, _, listed in found)
        return render(request, "home.html", sections=found, empty=empty, steps=first_steps.steps(request, actor))

    return await _page(request, work)


@router.get("/{kind}", response_class=HTMLResponse)
async def listing(request: Request, kind: str) -> Response:
    if kind not in listing_pages.KINDS:
        return await profile_page(request, kind)
    return await _page(request, lambda: listing_pages.listing_page(request, kind, request.state.actor))


def _repo_base(repo: repos.RepoView) -> str:
    return repo_path(repo.type, repo.full_name)


def _resolve_base(repo: repos.RepoView) -> str:
    prefix = "" if repo.type is RepoType.MODEL else f"/{repo.type.plural}"
    return f"{prefix}/{repo.full_name}/resolve"


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = [p for p in path.split("/") if p]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


def _facts(repo: repos.RepoView, size: int, num_rows: int | None) -> list[tuple[str, str]]:
    card = repo.card_data
    facts = []
    for label, key in (("License", "license"), ("Library", "library_name")):
        if card.get(key):
            facts.append((label, str(card[key])))
    if repo.tasks:
        facts.append(("Task", ", ".join(repo.tasks)))
    for label, key in (("Base model", "base_model"), ("Datasets", "datasets"), ("Language", "language")):
        value = card.get(key)
        if value:
            facts.append((label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    if repo.type is RepoType.DATASET:
        subtasks = card.get("task_ids")
        if subtasks:
            facts.append(("Subtask", ", ".join(map(str, subtasks)) if isinstance(subtasks, list) else str(subtasks)))
        if repo.size_category:
            facts.append(("Size category", repo.size_category))
        if num_rows:
            facts.append(("Rows", f"{num_rows:,}"))
    facts.append(("Size", human_size(size)))
    facts.append(("Downloads", str(repo.downloads)))
    return facts


def use_snippets(request: Request, hub: Hub, repo: repos.RepoView) -> list[tuple[str, str]]:
    url = base_url(request)
    prefix = "" if repo.type is RepoType.MODEL else f"{repo.type.plural}/"
    host = url.split("://", 1)[-1].split("/")[0].split(":")[0]
    kind = repo.type.value
    snippets = [("Clone with HTTPS", f"git clone {url}/{prefix}{repo.full_name}")]
    port = getattr(request.app.state, "ssh_port", None)
    if port:
        snippets.append(("Clone with SSH", f"git clone ssh://git@{host}:{port}/{prefix}{repo.full_name}.git"))
    if repo.type is not RepoType.CODE:  # huggingface_hub knows models, datasets and spaces only
        snippets.append(
            (
                "huggingface_hub",
                f"# export HF_ENDPOINT={url}\nfrom huggingface_hub import snapshot_download\n"
                f'snapshot_download("{repo.full_name}"' + ("" if kind == "model" else f', repo_type="{kind}"') + ")",
            )
        )
    snippets.append(
        (
            "csghub-sdk",
            f"# export CSGHUB_DOMAIN={url}\ncsghub-cli download {repo.full_name}"
            + ("" if kind == "model" else f" -t {kind}"),
        )
    )
    if kind == "model":
        snippets.append(
            (
                "transformers",
                f"# export HF_ENDPOINT={url}\nfrom transformers import AutoModel\n"
                f'model = AutoModel.from_pretrained("{repo.full_name}")',
            )
        )
    return snippets


def _repo_context(at: RepoContext, revision: str | None) -> tuple[repos.RepoView, files.Snapshot, dict[str, Any]]:
    hub, actor, repo = at.hub, at.actor, at.repo
    snapshot = files.at_revision(hub, actor, repo, revision)
    mirror = mirror_panels.find_panel(hub, actor, repo)
    context = {
        # A mirror takes its content from upstream only: its pages offer no upload, edit or new branch.
        "can_write": can(actor, Action.WRITE, repo.resource) and mirror is None,
        "mirror": mirror,
        "repo": repo,
        "base": _repo_base(repo),
        "resolve": _resolve_base(repo),
        "revision": revision or repo.default_branch,
        "liked": likes.has_liked(hub, actor, repo),
    }
    return repo, snapshot, context


def _repo_page(request: Request, at: RepoContext) -> Response:
    hub, actor = at.hub, at.actor
    repo, snapshot, context = _repo_context(at, None)
    all_files = files.all_files(snapshot)
    size = sum((e.lfs.size if e.lfs else e.size) for e in all_files)
    card_html = ""
    readme = next((e for e in all_files if e.path.lower() == "readme.md"), None)
    if readme is not None and readme.lfs is None and readme.size <= MAX_PREVIEW:
        text = files.read_small_file(snapshot, readme).decode("utf-8", errors="replace")
        links = RepoLinks(context["base"], context["revision"])
        card_html = cached_card(hub, MarkdownFile(repo.id, snapshot.sha, readme.path, links, text))
    return render(
        request,
        "repo.html",
        tab="card",
        card_html=card_html,
        facts=_facts(repo, size, repos.find_row_count(hub, repo.id) if repo.type is RepoType.DATASET else None),
        snippets=use_snippets(request, hub, repo),
        collections_to_add=collections.collections_to_add_to(hub, actor),
        gate_status=gating.find_request_status(hub, actor, repo),
        deployable=_deployable(hub, actor, repo),
        try_it=try_it_panel(request, hub, actor, repo),
        **file_panels.card_context(hub, actor, snapshot),
        **context,
    )


def _deployable(hub: Hub, actor: Actor, repo: repos.RepoView) -> bool:
    """Deploy → Dedicated endpoint: for signed-in people who may download a model some framework fits."""
    if repo.type is not RepoType.MODEL or actor.is_anonymous or not can(actor, Action.DOWNLOAD, repo.resource):
        return False
    try:
        return bool(frameworks.frameworks_for_model(hub, actor, RepoId.parse(repo.full_name), None))
    except HubError:  # an empty repository, an adapter whose base is missing: nothing to deploy
        return False


def _tree_page(request: Request, at: RepoContext, revision: str, folder: str) -> Response:
    hub, actor = at.hub, at.actor
    repo, snapshot, context = _repo_context(at, revision)
    entries = files.folder_listing(snapshot, folder.strip("/"))
    # Big folders come a page at a time; the rest is one "more" link away.
    shown = lenient_index(request.query_params.get("show"))
    limit = max(TREE_PAGE, shown)
    more = len(entries) - limit if len(entries) > limit else 0
    entries = entries[:limit]
    listed = refs.list_refs(hub, actor, repo)
    names = [r.name for r in listed.branches] + [r.name for r in listed.tags]
    if context["revision"] not in names:
        names.insert(0, context["revision"])
    return render(
        request,
        "tree.html",
        tab="files",
        entries=entries,
        security=scan_status.security_of(hub, repo.id, entries),
        more=more,
        show_next=limit + TREE_PAGE,
        refs=names,
        folder=folder,
        crumbs=_crumbs(folder),
        **file_panels.tree_context(snapshot, folder.strip("/")),
        **context,
    )


def _blob_page(request: Request, at: RepoContext, revision: str, path: str) -> Response:
    actor = at.actor
    repo, snapshot, context = _repo_context(at, revision)
    entry = files.get_entry(snapshot, path)
    if entry.kind != "file":
        raise InvalidArgument(f"'{path}' is a folder")
    size = entry.lfs.size if entry.lfs else entry.size
    kind, html, note = "none", "", "This file is stored in LFS; download it to look inside." if entry.lfs else ""
    front_matter: FrontMatter | None = None
    lowered = path.lower()
    if not can(actor, Action.DOWNLOAD, repo.resource):
        # A gated repository lists its files to everyone; their contents wait for an accepted request.
        note = "Request access to this repository to see the contents of its files."
    elif lowered.endswith(_IMAGES):
        kind = "image"
    elif entry.lfs is None and size <= MAX_PREVIEW:
        data = files.read_small_file(snapshot, entry)
        if b"\x00" in data[:8000]:
            note = "Binary file: download it to look inside."
        else:
            text = data.decode("utf-8", errors="replace")
            if lowered.endswith(".md"):
                links = RepoLinks.for_file(context["base"], revision, path)
                source = MarkdownFile(repo.id, snapshot.sha, path, links, text)
                kind, (front_matter, html) = "markdown", cached_document(at.hub, source)
            else:
                kind, html = "code", highlight_file(path, text)
    elif entry.lfs is None:
        note = "This file is too large to show; download it."
    return render(
        request,
        "blob.html",
        tab="files",
        path=path,
        size=size,
        lfs=entry.lfs is not None,
        security=scan_status.security_of(at.hub, repo.id, [entry]).get(path),
        kind=kind,
        html=html,
        front_matter=front_matter,
        note=note,
        crumbs=_crumbs(path),
        **file_panels.blob_context(at.hub, actor, snapshot, entry),
        **context,
    )


def _commits_page(request: Request, at: RepoContext, revision: str) -> Response:
    _repo, snapshot, context = _repo_context(at, revision)
    commits, _total = files.history(snapshot, limit=100)
    return render(request, "commits.html", tab="commits", commits=commits, **context)


def _path_commits_page(request: Request, at: RepoContext, revision: str, path: str) -> Response:
    _repo, _snapshot, context = _repo_context(at, revision)
    page = page_number(request.query_params.get("page"))
    found = file_history.path_history(at.hub, at.actor, at.repo, revision, path, page)
    return render(request, "file_commits.html", tab="files", history=found, crumbs=_crumbs(found.path), **context)


async def model_page(request: Request, ns: str, name: str) -> Response:
    """A model's card, for routes of the same shape that give way to it (/{org}/settings)."""
    at = await open_page_repo(request, RepoType.MODEL, ns, name)
    return await _page(request, lambda: _repo_page(request, at))


def _repo_routes(prefix: str, repo_type: RepoType) -> None:
    """The same pages for each repository type: models at the root, the others under their plural."""

    opened = Depends(page_repo(repo_type))

    @router.get(prefix + "/{ns}/{name}", response_class=HTMLResponse)
    async def repo_page(request: Request, at: RepoContext = opened) -> Response:
        return await _page(request, lambda: _repo_page(request, at))

    @router.get(prefix + "/{ns}/{name}/tree", response_class=HTMLResponse)
    async def tree_switch(request: Request, ns: str, name: str, rev: str = "main", path: str = "") -> Response:
        # The branch switcher is a plain GET form; send it to the canonical URL.
        target = f"{prefix}/{ns}/{name}/tree/{quote(rev, safe='')}" + (f"/{quote(path)}" if path else "")
        return RedirectResponse(target, status_code=303)

    @router.get(prefix + "/{ns}/{name}/tree/{revision}", response_class=HTMLResponse)
    @router.get(prefix + "/{ns}/{name}/tree/{revision}/{folder:path}", response_class=HTMLResponse)
    async def tree_page(request: Request, revision: str, folder: str = "", at: RepoContext = opened) -> Response:
        return await _page(request, lambda: _tree_page(request, at, revision, folder))

    @router.get(prefix + "/{ns}/{name}/blob/{revision}/{path:path}", response_class=HTMLResponse)
    async def blob_page(request: Request, revision: str, path: str, at: RepoContext = opened) -> Response:
        return await _page(request, lambda: _blob_page(request, at, revision, path))

    @router.get(prefix + "/{ns}/{name}/commits/{revision}", response_class=HTMLResponse)
    async def commits_page(request: Request, revision: str, at: RepoContext = opened) -> Response:
        return await _page(request, lambda: _commits_page(request, at, revision))

    @router.get(prefix + "/{ns}/{name}/commits/{revision}/{path:path}", response_class=HTMLResponse)
    async def path_commits_page(request: Request, revision: str, path: str, at: RepoContext = opened) -> Response:
        return await _page(request, lambda: _path_commits_page(request, at, revision, path))


for _type in (RepoType.DATASET, RepoType.SPACE, RepoType.CODE):
    _repo_routes(f"/{_type.plural}", _type)
_repo_routes("", RepoType.MODEL)
