"""People over the API: Hugging Face's user and organization overviews, editing one's profile (full name,
bio, links, avatar) and an organization's, and serving avatars."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.core.errors import InvalidArgument, NotFound, Unauthenticated
from csghub.core.names import RepoType
from csghub.http.bodies import optional_text_field, read_body, read_json_object
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WRITE_ERRORS, json_body
from csghub.services.identity import avatars, profile_details, profiles
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
LINKS = {"type": "object", "additionalProperties": TEXT}
_IMAGE = {"schema": {"type": "string", "format": "binary"}}
_IMAGES = {kind: _IMAGE for kind in ("image/png", "image/jpeg", "image/webp", "image/gif")}
# The image's own bytes as the body (its type is read from them, not from Content-Type).
AVATAR_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": _IMAGE, **_IMAGES}}}
AVATAR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The avatar image",
        "content": _IMAGES,
        "headers": {
            name: {"schema": {"type": "string"}}
            for name in ("Cache-Control", "X-Content-Type-Options", "Content-Security-Policy")
        },
    }
}


def _absolute(request: Request, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}" if path else ""


def details_json(request: Request, details: profile_details.ProfileDetails) -> dict[str, Any]:
    return {
        "name": details.name,
        "type": details.kind,
        "fullname": details.full_name,
        "details": details.bio,
        "links": details.links,
        "avatarUrl": _absolute(request, details.avatar_url),
    }


def _overview(request: Request, profile: profiles.ProfileView) -> dict[str, Any]:
    details = profile.details or profile_details.ProfileDetails(profile.name, profile.kind, profile.full_name)
    counts = {
        "numModels": profile.counts[RepoType.MODEL],
        "numDatasets": profile.counts[RepoType.DATASET],
        "numSpaces": profile.counts[RepoType.SPACE],
    }
    return {
        "avatarUrl": _absolute(request, details.avatar_url),
        "fullname": profile.full_name or profile.name,
        "details": details.bio,
        "links": details.links,
        "createdAt": iso(profile.created_at) if profile.created_at else None,
        "isFollowing": False,
        **counts,
    }


@router.get("/api/users/{name}/overview")
async def user_overview(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    """huggingface_hub's get_user_overview; the counts are of what the viewer may see."""
    profile = await run_in_threadpool(profiles.get_profile, get_hub(request), actor, name)
    if profile.kind != "user":
        raise NotFound(f"User '{name}' does not exist")
    orgs = [{"name": org, "fullname": org, "avatarUrl": ""} for org, _role in profile.orgs]
    return JSONResponse({**_overview(request, profile), "user": profile.name, "type": "user", "orgs": orgs})


@router.get("/api/organizations/{name}/overview")
async def org_overview(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    """huggingface_hub's get_organization_overview."""
    profile = await run_in_threadpool(profiles.get_profile, get_hub(request), actor, name)
    if profile.kind != "org":
        raise NotFound(f"Organization '{name}' does not exist")
    return JSONResponse({**_overview(request, profile), "name": profile.name, "numUsers": len(profile.members)})


def _links(body: dict[str, Any]) -> dict[str, str] | None:
    raw = body.get("links")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise InvalidArgument('\'links\' must be an object of URLs: {"homepage": "https://...", ...}')
    return {str(k): v for k, v in raw.items()}


def _signed_in(actor: Actor) -> Actor:
    if actor.is_anonymous:
        raise Unauthenticated("Sign in first")
    return actor


async def _update(request: Request, actor: Actor, name: str | None) -> JSONResponse:
    body = await read_json_object(request)
    full_name, bio, links = optional_text_field(body, "full_name"), optional_text_field(body, "bio"), _links(body)
    target = name or actor.name
    details = await run_in_threadpool(
        lambda: profile_details.update_details(
            get_hub(request), actor, target, full_name=full_name, bio=bio, links=links
        )
    )
    return ok(details_json(request, details))


PROFILE_BODY = json_body(full_name=TEXT, bio=TEXT, links=LINKS)


@router.put("/api/v1/user/profile", responses=WRITE_ERRORS, openapi_extra=PROFILE_BODY)
async def update_my_profile(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await _update(request, _signed_in(actor), None)


@router.put("/api/v1/organizations/{name}/profile", responses=WRITE_ERRORS, openapi_extra=PROFILE_BODY)
async def update_org_profile(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await _update(request, actor, name)


async def _avatar(request: Request, actor: Actor, name: str) -> JSONResponse:
    data = None
    if request.method == "PUT":
        data = await read_body(request, max_bytes=avatars.MAX_BYTES)
    details = await run_in_threadpool(profile_details.set_avatar, get_hub(request), actor, name, data)
    return ok(details_json(request, details))


@router.put("/api/v1/user/avatar", responses=WRITE_ERRORS, openapi_extra=AVATAR_BODY)
@router.delete("/api/v1/user/avatar", responses=WRITE_ERRORS)
async def my_avatar(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    """PUT the image's bytes as the body (PNG, JPEG, WebP or GIF, at most 1 MiB); DELETE removes it."""
    return await _avatar(request, _signed_in(actor), actor.name)


@router.put("/api/v1/organizations/{name}/avatar", responses=WRITE_ERRORS, openapi_extra=AVATAR_BODY)
@router.delete("/api/v1/organizations/{name}/avatar", responses=WRITE_ERRORS)
async def org_avatar(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await _avatar(request, actor, name)


@router.get("/api/avatars/{oid}", response_class=Response, responses=AVATAR_RESPONSES)
async def avatar(request: Request, oid: str) -> Response:
    """An avatar in use, by the id of its stored bytes: cached for good, never sniffed as anything else."""
    if len(oid) != 64 or not all(c in "0123456789abcdef" for c in oid):
        raise NotFound("No such avatar")

    def load() -> tuple[str, bytes]:
        media_type, _size, chunks = avatars.read(get_hub(request), oid)
        return media_type, b"".join(chunks)  # at most MAX_BYTES

    media_type, data = await run_in_threadpool(load)
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(data, media_type=media_type, headers=headers)
