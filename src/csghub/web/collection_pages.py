"""Collections in the portal: a namespace's list, one collection's page, the form that creates one,
and the small forms that edit it and add or remove repositories. Every rule (who sees a private
collection, who edits, which items a viewer may see) lives in services/community/collections.py.

Mounted before pages.py: `/collections/{ns}` has the shape of a repository page (`/{ns}/{name}`);
"collections" is a reserved namespace, so nothing else lives there.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import page_number
from csghub.services.community import collections
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, NamespaceResource, can
from csghub.web.forms import form_actor
from csghub.web.render import page_actor, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
PAGE_SIZE = 30


def _owners(actor: Actor) -> list[str]:
    """Where the actor may create a collection: their own namespace and organizations they write in."""
    candidates = [actor.name, *sorted(actor.org_roles)]
    return [ns for ns in candidates if can(actor, Action.CREATE, NamespaceResource(ns))]


async def _page(request: Request, work: Callable[[Hub, Actor], Response]) -> Response:
    actor = await page_actor(request)
    return await run_in_threadpool(work, get_hub(request), actor)


async def _act(request: Request, act: Callable[[Hub, Actor, dict[str, str]], str]) -> Response:
    """Post/redirect/get: run one change and go where it says; a refusal is the error page."""
    fields, actor = await form_actor(request)
    target = await run_in_threadpool(act, get_hub(request), actor, fields)
    return RedirectResponse(target, status_code=303)


def _new_form(request: Request, actor: Actor, form: dict[str, str], error: str = "", status: int = 200) -> Response:
    return render(request, "collection_new.html", status=status, owners=_owners(actor), form=form, error=error)


@router.get("/collections/new", response_class=HTMLResponse)
async def new_collection_form(request: Request) -> Response:
    actor = await page_actor(request)
    if actor.is_anonymous:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return _new_form(request, actor, {"owner": request.query_params.get("owner", actor.name)})


@router.post("/collections/new", response_class=HTMLResponse)
async def create_collection(request: Request) -> Response:
    fields, actor = await form_actor(request)
    try:
        made = await run_in_threadpool(
            lambda: collections.create_collection(
                get_hub(request),
                actor,
                fields.get("owner", actor.name),
                fields.get("title", ""),
                description=fields.get("description", ""),
                visibility=fields.get("visibility", "public"),
            )
        )
    except HubError as exc:
        return _new_form(request, actor, fields, exc.message, exc.status)
    return RedirectResponse(f"/collections/{made.path}", status_code=303)


@router.post("/collections/items")
async def add_item(request: Request) -> Response:
    """The repository page's "add to collection" form: `collection` is "namespace/slug"."""

    def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        namespace, _, slug = fields.get("collection", "").partition("/")
        repo_type, repo_id = RepoType.parse(fields.get("repo_type")), RepoId.parse(fields.get("repo", ""))
        collections.add_item(hub, actor, namespace, slug, repo_type, repo_id, note=fields.get("note", "").strip())
        return f"/collections/{namespace}/{slug}"

    return await _act(request, act)


@router.get("/collections", response_class=HTMLResponse)
async def all_collections(request: Request) -> Response:
    """Every collection the viewer may see: searchable, trending or recently updated first, paged."""
    params = request.query_params
    page, search, sort = page_number(params.get("page")), params.get("search", ""), params.get("sort") or "trending"

    def work(hub: Hub, actor: Actor) -> Response:
        found, total = collections.list_all_collections(
            hub, actor, search=search, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        base = "/collections?" + urlencode({"search": search, "sort": sort})
        return render(
            request,
            "collections_all.html",
            found=found,
            total=total,
            search=search,
            sort=sort,
            prev_url=f"{base}&page={page - 1}" if page > 1 else None,
            next_url=f"{base}&page={page + 1}" if page * PAGE_SIZE < total else None,
        )

    return await _page(request, work)


@router.get("/collections/{namespace}", response_class=HTMLResponse)
async def namespace_collections(request: Request, namespace: str) -> Response:
    def work(hub: Hub, actor: Actor) -> Response:
        found = collections.list_collections(hub, actor, namespace)
        may_create = can(actor, Action.CREATE, NamespaceResource(namespace))
        return render(request, "collections.html", namespace=namespace, found=found, may_create=may_create)

    return await _page(request, work)


@router.get("/collections/{namespace}/{slug}", response_class=HTMLResponse)
async def collection_page(request: Request, namespace: str, slug: str) -> Response:
    def work(hub: Hub, actor: Actor) -> Response:
        found = collections.get_collection(hub, actor, namespace, slug)
        return render(request, "collection.html", collection=found)

    return await _page(request, work)


@router.post("/collections/{namespace}/{slug}/edit")
async def edit_collection(request: Request, namespace: str, slug: str) -> Response:
    def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        collections.update_collection(
            hub,
            actor,
            namespace,
            slug,
            title=fields.get("title"),
            description=fields.get("description"),
            visibility=fields.get("visibility"),
        )
        return f"/collections/{namespace}/{slug}"

    return await _act(request, act)


@router.post("/collections/{namespace}/{slug}/delete")
async def delete_collection(request: Request, namespace: str, slug: str) -> Response:
    def act(hub: Hub, actor: Actor, _fields: dict[str, str]) -> str:
        collections.delete_collection(hub, actor, namespace, slug)
        return f"/collections/{namespace}"

    return await _act(request, act)


@router.post("/collections/{namespace}/{slug}/remove")
async def remove_item(request: Request, namespace: str, slug: str) -> Response:
    def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        repo_type, repo_id = RepoType.parse(fields.get("repo_type")), RepoId.parse(fields.get("repo", ""))
        collections.remove_item(hub, actor, namespace, slug, repo_type, repo_id)
        return f"/collections/{namespace}/{slug}"

    return await _act(request, act)
