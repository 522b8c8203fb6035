"""The resource console (`/resource-console`): every compute instance the signed-in user owns (endpoints
now; fine-tunes, notebooks and spaces as they arrive) with state, cluster, tier, uptime and usage, each
linking to its own page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.services.compute import console
from csghub.services.compute.console import InstanceSummary
from csghub.services.permissions import Actor
from csghub.web.forms import drop_notice, run_page, take_notice
from csghub.web.render import render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
PATH = "/resource-console"
# Where each kind's page lives; a kind without a page yet is listed without a link.
PAGES = {"endpoint": "/endpoints/{owner}/{name}", "notebook": "/notebooks/{owner}/{name}/"}


def page_of(instance: InstanceSummary) -> str:
    pattern = PAGES.get(instance.kind)
    return pattern.format(owner=instance.owner, name=instance.name) if pattern else ""


def uptime(seconds: int) -> str:
    if seconds <= 0:
        return "—"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s"


@router.get(PATH, response_class=HTMLResponse)
async def resource_console(request: Request) -> Response:
    hub = get_hub(request)

    def work(actor: Actor) -> Response:
        found = console.list_owned_instances(hub, actor)
        rows = [(i, page_of(i), uptime(i.uptime_seconds)) for i in found]
        response = render(request, "console.html", rows=rows, notice=take_notice(request, actor))
        return drop_notice(request, response, PATH)

    return await run_page(request, work)
