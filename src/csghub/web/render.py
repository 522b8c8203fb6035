"""Rendering portal pages: one Jinja2 environment (autoescaping on), the language, the signed-in
actor, the CSRF token and small formatting helpers every template may use."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from csghub.core.errors import HubError, PermissionDenied, Unauthenticated
from csghub.core.names import NAME_PATTERN, RepoType
from csghub.http.deps import get_actor, get_hub
from csghub.services.community import notifications
from csghub.services.permissions import ANONYMOUS, Action, Actor, Resource, can
from csghub.web.i18n import LANG_COOKIE, choose_language, translate, translate_error
from csghub.web.security import CSRF_COOKIE, csrf_token
from csghub.web.space_cards import bare_card

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)
# Name fields check the server's own rule in the browser. HTML compiles a `pattern` with the `v` flag
# and anchors it itself; NAME_PATTERN's syntax is valid there too (its `-` in a class is escaped).
_env.globals["name_pattern"] = NAME_PATTERN.removeprefix("^").removesuffix("$")
# A space's card from its front matter, where a page lists a few spaces without looking up their links.
_env.globals["bare_space_card"] = bare_card


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


_UNITS = (("day", "天", 86400), ("hour", "小时", 3600), ("minute", "分钟", 60), ("second", "秒", 1))


def ago(moment: datetime, lang: str = "en") -> str:
    now = datetime.now(UTC).replace(tzinfo=None)
    seconds = max(0, int((now - moment.replace(tzinfo=None)).total_seconds()))
    unit, unit_zh, length = next(u for u in _UNITS if seconds >= u[2] or u[2] == 1)
    count = seconds // length
    if lang == "zh":
        return f"{count} {unit_zh}前"
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def repo_path(repo_type: RepoType, full_name: str) -> str:
    """The page of a repository, as on the Hugging Face Hub: models at the root, others under their type."""
    return f"/{full_name}" if repo_type is RepoType.MODEL else f"/{repo_type.plural}/{full_name}"


async def page_actor(request: Request) -> Actor:
    """The signed-in user, or anonymous when the session has ended (pages never fail on that)."""
    try:
        return await get_actor(request)
    except Unauthenticated:
        request.state.drop_session = True
    except PermissionDenied:
        pass  # a post whose CSRF check failed: show the error page, signed out, rather than JSON
    # Pages read the actor from request.state, so a stale or forged cookie must leave one there too.
    request.state.actor = ANONYMOUS
    return ANONYMOUS


def language(request: Request) -> str:
    return choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language", ""))


def _may(actor: Actor) -> Callable[[str, Resource], bool]:
    """`may('admin', repo.resource)` for templates: they hide what the actor may not do; services still refuse it."""
    return lambda action, resource: can(actor, Action(action), resource)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    actor: Actor = getattr(request.state, "actor", None) or ANONYMOUS
    if isinstance(context.get("error"), str):
        # Forms show the server's message about what was wrong: in the page's language.
        context["error"] = translate_error(lang, context["error"])
    html = _env.get_template(template).render(
        request=request,
        lang=lang,
        t=lambda text: translate(lang, text),
        user=actor,
        csrf=csrf_token(request),
        session_csrf=getattr(request.state, "csrf_token", ""),
        human_size=human_size,
        ago=lambda moment: ago(moment, lang),
        repo_path=repo_path,
        may=_may(actor),
        unread_notifications=lambda: notifications.cached_unread(get_hub(request), actor),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="strict", path="/")
    if getattr(request.state, "drop_session", False):
        response.delete_cookie("csghub_session", path="/")
    return response


def correctable(exc: HubError) -> bool:
    """A mistake in a form (a bad name, an unknown user or revision): show the form again with the reason.
    A repository the actor cannot see, or may not change, answers the error page instead."""
    return exc.status in (400, 409) or (exc.status == 404 and exc.code not in ("RepoNotFound", "Unauthenticated"))


async def error_page(request: Request, exc: HubError) -> HTMLResponse:
    """What a portal route answers when it raises: the error page, showing who is signed in."""
    if getattr(request.state, "actor", None) is None:
        await page_actor(request)
    return render_error(request, exc, exc.status)


def render_error(request: Request, exc: HubError | None, status: int) -> HTMLResponse:
    """The friendly page for a failure: 404 for anything missing or hidden, a short note otherwise."""
    if status == 404 or (exc is not None and exc.code == "RepoNotFound"):
        return render(request, "error.html", status=404, title="Page not found", detail=None)
    if exc is not None and exc.code == "GatedRepo":
        # A file link of a gated repository: point at the page where access is requested.
        page = re.split(r"/(?:resolve|raw|blob)/", request.url.path, maxsplit=1)[0]
        note = "Request access to this repository to download its files."
        return render(request, "error.html", status=status, title="Gated repository", detail=note, gate=page)
    detail = translate_error(language(request), exc.message, exc.code) if exc is not None and status < 500 else None
    return render(request, "error.html", status=status, title="Something went wrong", detail=detail, gate=None)
