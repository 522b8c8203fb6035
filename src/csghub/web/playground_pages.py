"""The portal's ways to talk to a running endpoint: its Playground, the Compare view (one prompt to up to
three endpoints, answered side by side) and the try-it panel of a model's page.

The pages only say which endpoints the viewer may call and where their gateway is; static/chat.js sends
the chat from the browser to the endpoint's own OpenAI-compatible URL with the viewer's session (and the
page's CSRF token), so what a page shows is exactly what an API client would get.

Mounted before the pages shaped like /{ns}/{name}: `/endpoints/compare` has the shape of a model page.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.services.compute import endpoints
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories.repos import RepoView
from csghub.web.endpoint_summary_pages import resource_of
from csghub.web.i18n import translate
from csghub.web.render import language, page_actor, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
# Endpoints answered side by side on the Compare page (the "up to three").
MAX_COMPARED = 3
# What chat.js says itself (the answers and the gateway's errors come from the server).
_SCRIPT_WORDS = (
    "You",
    "Assistant",
    "Stopped",
    "Thinking…",
    "The connection to the endpoint broke",
    "This endpoint is not running right now.",
    "Open its Summary",
    "{count} tokens",
    "{seconds} s",
    "{rate} tokens/s",
    "Choose at least one endpoint",
    "Write a prompt first",
)


@dataclass(frozen=True, slots=True)
class ChatTarget:
    """A running chat endpoint the viewer may call, as the pages name it."""

    full_name: str  # "owner/name"
    model: str
    url: str  # its gateway's base URL, "/endpoints/owner/name/v1"
    summary: str  # its Summary page


def _callable(view: endpoints.EndpointView) -> ChatTarget:
    path = f"/endpoints/{view.owner}/{view.name}"
    return ChatTarget(f"{view.owner}/{view.name}", view.model, f"{path}/v1", path)


def _chats(views: list[endpoints.EndpointView]) -> list[ChatTarget]:
    """The running ones that chat (an embeddings endpoint has nothing to say)."""
    return [_callable(v) for v in views if v.state == "running" and v.framework.engine != "embeddings"]


@dataclass(frozen=True, slots=True)
class TryIt:
    """A model page's try-it panel: the endpoints of the model it may talk to, and chat.js's words."""

    targets: list[ChatTarget]
    words: dict[str, str]


def try_it_panel(request: Request, hub: Hub, actor: Actor, repo: RepoView) -> TryIt | None:
    """For a model's page: None unless an endpoint of this model is running and the viewer may call it."""
    if repo.type is not RepoType.MODEL:
        return None
    targets = _chats(endpoints.list_endpoints(hub, actor, model=RepoId(repo.namespace, repo.name)))
    return TryIt(targets, script_words(language(request))) if targets else None


def script_words(lang: str) -> dict[str, str]:
    return {key: translate(lang, key) for key in _SCRIPT_WORDS}


@router.get("/endpoints/compare", response_class=HTMLResponse)
async def compare_page(request: Request) -> Response:
    hub = get_hub(request)
    actor = await page_actor(request)
    wanted = [value for value in request.query_params.getlist("e") if value][:MAX_COMPARED]

    def work() -> Response:
        running = _chats(endpoints.list_endpoints(hub, actor))
        names = {c.full_name for c in running}
        chosen = [w for w in wanted if w in names]
        # Unchosen columns default to the endpoints not chosen yet, so a first visit compares at once.
        rest = [c.full_name for c in running if c.full_name not in chosen]
        slots = (chosen + rest)[:MAX_COMPARED] if not wanted else chosen
        slots += [""] * (MAX_COMPARED - len(slots))
        return render(request, "compare.html", running=running, slots=slots, words=script_words(language(request)))

    return await run_in_threadpool(work)


@router.get("/endpoints/{owner}/{name}/playground", response_class=HTMLResponse)
async def playground_page(request: Request, owner: str, name: str) -> Response:
    hub = get_hub(request)
    actor = await page_actor(request)

    def work() -> Response:
        view = endpoints.find_endpoint(hub, actor, owner, name)  # NotFound (the 404 page) when invisible
        target = _callable(view)
        return render(
            request,
            "playground.html",
            endpoint=view,
            target=target,
            chats=view.framework.engine != "embeddings",
            manage=can(actor, Action.MANAGE, resource_of(view)),
            words=script_words(language(request)),
        )

    return await run_in_threadpool(work)
