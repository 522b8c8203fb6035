"""Signing in, signing up and out in the browser, and choosing the portal's language."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, PermissionDenied, RateLimited
from csghub.http.deps import SESSION_COOKIE, client_address, get_hub, local_path, set_session_cookie
from csghub.http.errors import PAGE_ROUTES
from csghub.services.identity import accounts, sessions
from csghub.web.i18n import LANG_COOKIE, LANGUAGES
from csghub.web.render import page_actor, render
from csghub.web.security import CSRF_FIELD, check_form_csrf

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    await page_actor(request)
    return render(request, "login.html", next=local_path(next), username="", error=None, oidc=_oidc(request))


def _oidc(request: Request) -> bool:
    return get_hub(request).oidc is not None


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    await page_actor(request)
    next_url = local_path(str(form.get("next") or "/"))
    username = str(form.get("username") or "")
    try:
        check_form_csrf(request, str(form.get(CSRF_FIELD) or ""))
        signed = await run_in_threadpool(
            sessions.login,
            get_hub(request),
            username,
            str(form.get("password") or ""),
            address=client_address(request),
        )
    except RateLimited as exc:
        return render(
            request, "login.html", status=429, next=next_url, username=username, error=exc.message, oidc=_oidc(request)
        )
    except PermissionDenied:
        raise  # a forged form or a refused account: the error page, not the form again
    except HubError:
        return render(
            request,
            "login.html",
            status=401,
            next=next_url,
            username=username,
            error="Invalid username or password",
            oidc=_oidc(request),
        )
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(request, response, signed)
    return response


@router.get("/join", response_class=HTMLResponse)
async def join_form(request: Request) -> Response:
    await page_actor(request)
    invite = get_hub(request).settings.registration == "invite"
    return render(request, "join.html", form={}, error=None, invite=invite)


@router.post("/join", response_class=HTMLResponse)
async def join(request: Request) -> Response:
    form = await request.form()
    await page_actor(request)
    hub = get_hub(request)
    fields = {key: str(form.get(key) or "") for key in ("username", "email", "password", "invite_code")}
    try:
        check_form_csrf(request, str(form.get(CSRF_FIELD) or ""))
        await run_in_threadpool(
            lambda: accounts.register(
                hub,
                fields["username"],
                email=fields["email"],
                password=fields["password"],
                invite_code=fields["invite_code"],
                address=client_address(request),
            )
        )
        signed = await run_in_threadpool(
            sessions.login, hub, fields["username"], fields["password"], address=client_address(request)
        )
    except HubError as exc:
        fields.pop("password")
        return render(
            request,
            "join.html",
            status=exc.status,
            form=fields,
            error=exc.message,
            invite=hub.settings.registration == "invite",
        )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(request, response, signed)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_form_csrf(request, str(form.get(CSRF_FIELD) or ""))
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        await run_in_threadpool(sessions.logout, get_hub(request), session_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
async def choose_language(request: Request, code: str, next: str = "/") -> Response:
    response = RedirectResponse(local_path(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.get("/setup", response_class=HTMLResponse)
async def setup_form(request: Request, token: str = "") -> Response:
    """The first administrator's page, reached by the one-time link `csghub serve` prints."""
    await page_actor(request)
    state = await run_in_threadpool(accounts.setup_link_state, get_hub(request), token)
    return render(request, "setup.html", state=state, token=token, form={}, error=None)


@router.post("/setup", response_class=HTMLResponse)
async def setup(request: Request) -> Response:
    form = await request.form()
    await page_actor(request)
    hub = get_hub(request)
    fields = {key: str(form.get(key) or "") for key in ("token", "username", "email", "password")}
    try:
        check_form_csrf(request, str(form.get(CSRF_FIELD) or ""))
        await run_in_threadpool(
            lambda: accounts.setup_first_admin(
                hub,
                fields["token"],
                fields["username"],
                password=fields["password"],
                email=fields["email"],
                address=client_address(request),
            )
        )
        signed = await run_in_threadpool(
            sessions.login, hub, fields["username"], fields["password"], address=client_address(request)
        )
    except HubError as exc:
        fields.pop("password")
        # A weak password or a bad name shows the form again; a spent link says so instead.
        state = await run_in_threadpool(accounts.setup_link_state, hub, fields["token"])
        return render(
            request, "setup.html", status=exc.status, state=state, token=fields["token"], form=fields, error=exc.message
        )
    response = RedirectResponse("/admin", status_code=303)
    set_session_cookie(request, response, signed)
    return response
