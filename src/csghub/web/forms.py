"""Helpers for the portal's form pages: who is signed in, the posted fields once their CSRF token
checks out, and a one-time notice carried across the redirect of post/redirect/get."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import PermissionDenied
from csghub.core.signing import make_token, read_token
from csghub.http.deps import get_actor, get_hub
from csghub.services.permissions import Actor
from csghub.web.render import page_actor
from csghub.web.security import CSRF_FIELD, check_form_csrf

NOTICE_COOKIE = "csghub_notice"


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, which comes back here."""
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


async def signed_in_page(request: Request) -> Actor | Response:
    """The signed-in viewer, or a redirect to the sign-in page that comes back here."""
    actor = await page_actor(request)
    if actor.is_anonymous:
        return sign_in_redirect(request)
    return actor


async def run_page(request: Request, work: Callable[[Actor], Response]) -> Response:
    """A page for signed-in people: its work runs in a thread."""
    found = await signed_in_page(request)
    if isinstance(found, Response):
        return found
    return await run_in_threadpool(work, found)


async def form_actor(request: Request) -> tuple[dict[str, str], Actor]:
    """The posted form and its sender, once the form's CSRF token checks out."""
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    check_form_csrf(request, fields.get(CSRF_FIELD, ""))
    actor = await get_actor(request)
    if actor.is_anonymous:
        raise PermissionDenied("Sign in first")
    return fields, actor


def redirect_with_flash(request: Request, actor: Actor, url: str, *, path: str, **said: str) -> Response:
    """303 to `url` carrying `said` to the next page under `path`, once: a signed cookie, only for this
    user, two minutes (a notice, or a new token that must be shown exactly once)."""
    hub = get_hub(request)
    token = make_token(hub.settings.secret_key, {"user": actor.user_id, **said}, expires_at=int(time.time()) + 120)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        NOTICE_COOKIE,
        token,
        max_age=120,
        httponly=True,
        samesite="strict",
        path=path,
        secure=request.url.scheme == "https",
    )
    return response


def redirect_with_notice(request: Request, actor: Actor, url: str, notice: str, *, path: str) -> Response:
    """303 to `url` with `notice` shown once there."""
    return redirect_with_flash(request, actor, url, path=path, notice=notice)


def read_flash(request: Request, actor: Actor) -> dict[str, str]:
    """What a redirect left for this user (the caller drops the cookie with drop_notice)."""
    claims = read_token(get_hub(request).settings.secret_key, request.cookies.get(NOTICE_COOKIE, "")) or {}
    if claims.get("user") != actor.user_id:
        return {}
    return {key: str(value) for key, value in claims.items() if key not in ("user", "exp") and value}


def take_notice(request: Request, actor: Actor) -> str | None:
    """The notice a redirect left for this user, if any."""
    return read_flash(request, actor).get("notice")


def drop_notice(request: Request, response: Response, path: str) -> Response:
    """Forget the notice once a page has shown it: a reload shows the page without it."""
    if NOTICE_COOKIE in request.cookies:
        response.delete_cookie(NOTICE_COOKIE, path=path)
    return response
