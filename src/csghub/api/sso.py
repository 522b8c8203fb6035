"""OpenID Connect sign-in for browsers: /api/v1/auth/oidc/login sends the browser to the provider,
/api/v1/auth/oidc/callback comes back with a code, opens a session and returns to the page it started on.

The state, nonce and PKCE verifier ride in a short-lived signed, HttpOnly cookie between the two.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import NotFound, Unauthenticated
from csghub.core.signing import make_token, read_token
from csghub.http.deps import base_url, client_address, get_hub, local_path, set_session_cookie
from csghub.http.openapi import API_ERRORS
from csghub.services.context import Hub
from csghub.services.identity import sessions, sso

router = APIRouter(responses=API_ERRORS)
FLOW_COOKIE = "csghub_oidc"
FLOW_TTL = 600
CALLBACK_PATH = "/api/v1/auth/oidc/callback"


def _configured(hub: Hub) -> Hub:
    if hub.oidc is None or hub.oidc_cache is None:
        raise NotFound("OpenID Connect sign-in is not configured on this hub")
    return hub


@router.get("/api/v1/auth/oidc/login", status_code=302, response_class=RedirectResponse)
async def oidc_login(request: Request, next: str = "/") -> RedirectResponse:
    from csghub.services.identity.oidc_login import begin_login

    hub = _configured(get_hub(request))
    assert hub.oidc is not None and hub.oidc_cache is not None
    redirect_uri = base_url(request) + CALLBACK_PATH
    start = await run_in_threadpool(begin_login, hub.oidc, redirect_uri, cache=hub.oidc_cache)
    flow = make_token(
        hub.settings.secret_key,
        {"state": start.state, "nonce": start.nonce, "verifier": start.code_verifier, "next": local_path(next)},
        expires_at=int(time.time()) + FLOW_TTL,
    )
    response = RedirectResponse(start.authorize_url, status_code=302)
    response.set_cookie(
        FLOW_COOKIE, flow, max_age=FLOW_TTL, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
    return response


@router.get(CALLBACK_PATH, status_code=303, response_class=RedirectResponse)
async def oidc_callback(request: Request) -> RedirectResponse:
    from csghub.services.identity.oidc_login import check_callback, finish_login

    hub = _configured(get_hub(request))
    assert hub.oidc is not None and hub.oidc_cache is not None
    flow = read_token(hub.settings.secret_key, request.cookies.get(FLOW_COOKIE, ""))
    if flow is None:
        raise Unauthenticated("The sign-in took too long or was started elsewhere; start it again")
    code = check_callback(hub.oidc, dict(request.query_params), str(flow["state"]))
    redirect_uri = base_url(request) + CALLBACK_PATH
    config, cache = hub.oidc, hub.oidc_cache

    def work() -> sessions.SignedIn:
        identity = finish_login(config, redirect_uri, code, str(flow["verifier"]), str(flow["nonce"]), cache=cache)
        actor = sso.sign_in_external(hub, identity, address=client_address(request))
        return sessions.open_session(hub, actor, method="oidc")

    signed = await run_in_threadpool(work)
    response = RedirectResponse(local_path(str(flow.get("next", "/"))), status_code=303)
    response.delete_cookie(FLOW_COOKIE)
    set_session_cookie(request, response, signed)
    return response
