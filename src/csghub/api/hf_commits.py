"""Hugging Face-compatible writes: preupload, the NDJSON commit, validate-yaml, whoami."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.commit_stream import CommitBody, read_commit_body
from csghub.api.paths import unmask
from csghub.api.serialize import iso
from csghub.core.errors import InvalidArgument, RevisionNotFound, Unauthenticated
from csghub.core.names import RepoType
from csghub.http.bodies import int_field, optional_text_field, read_json_object, text_field
from csghub.http.deps import base_url, get_actor, get_hub, token_of
from csghub.http.openapi import API_ERRORS, FLAG, REPO_TYPE, TEXT, WHOLE, WRITE_ERRORS, json_body, query
from csghub.http.repos import RepoContext, open_repo
from csghub.http.streams import consume_body
from csghub.services.community import pulls
from csghub.services.identity import accounts, tokens
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import commits, files, pull_refs, uploads, writes
from csghub.services.repositories.cards import validate_card_yaml

router = APIRouter(responses=API_ERRORS)
MAX_INLINE_FILE = 100 * 1024**3
_PLANNED = {"type": "object", "properties": {"path": TEXT, "size": WHOLE, "sample": TEXT}, "required": ["path"]}
PREUPLOAD_BODY = json_body("files", files={"type": "array", "items": _PLANNED})
# One JSON object per line: a header, then file, lfsFile, deletedFile and deletedFolder operations.
NDJSON_COMMIT = {
    "requestBody": {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    },
    **query(create_pr=FLAG),  # the commit opens a pull request (refs/pr/N) instead of moving the branch
}


def _proposes(request: Request, revision: str) -> bool:
    """A commit that opens a pull request, or lands on one: its author needs no write access."""
    return request.query_params.get("create_pr") in ("1", "true", "True") or pull_refs.pr_number(revision) is not None


async def commit_target(
    request: Request, type_plural: str, namespace: str, name: str, revision: str, actor: Actor = Depends(get_actor)
) -> RepoContext:
    """The repository a commit or preupload goes to, if `actor` may write to it or propose to it (whether
    to this pull request is the commit service's to say), checked before the body is read."""
    action = Action.PROPOSE if _proposes(request, unmask(revision)) else Action.WRITE
    repo_type = RepoType.parse(type_plural)
    return await run_in_threadpool(open_repo, get_hub(request), actor, repo_type, namespace, name, action)


def parse_planned(body: dict[str, Any]) -> list[uploads.PlannedFile]:
    items = body.get("files")
    if not isinstance(items, list):
        raise InvalidArgument("Preupload body must be {'files': [{'path', 'size', 'sample'}]}")
    planned = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidArgument("Each preupload file must be an object {'path', 'size', 'sample'}")
        path = text_field(item, "path", required=True)
        size = int_field(item, "size", minimum=0) or 0
        try:
            sample = base64.b64decode(text_field(item, "sample"), validate=True)[:512]
        except (binascii.Error, ValueError):
            raise InvalidArgument(f"Invalid base64 sample for '{path}'") from None
        planned.append(uploads.PlannedFile(path, size, sample))
    return planned


def preupload_answer(
    at: RepoContext, revision: str, body: dict[str, Any], *, lfs_allowed: bool
) -> list[uploads.UploadMode]:
    """How each planned file should be sent; `at` was authorized to WRITE (or PROPOSE) by the route."""
    planned = parse_planned(body)
    try:
        snapshot: files.Snapshot | None = files.at_revision(at.hub, at.actor, at.repo, revision)
    except RevisionNotFound:
        snapshot = None  # a branch about to be created: nothing to compare against
    return uploads.plan_uploads(at.hub, snapshot, planned, lfs_allowed=lfs_allowed)


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/preupload/{revision}",
    responses=WRITE_ERRORS,
    openapi_extra=PREUPLOAD_BODY,
)
async def preupload(request: Request, revision: str, at: RepoContext = Depends(commit_target)) -> JSONResponse:
    body = await read_json_object(request)
    lfs_allowed = at.hub.settings.preupload_lfs
    modes = await run_in_threadpool(lambda: preupload_answer(at, unmask(revision), body, lfs_allowed=lfs_allowed))
    return JSONResponse(
        {"files": [{"path": m.path, "uploadMode": m.mode, "shouldIgnore": False, "oid": m.remote_oid} for m in modes]}
    )


@dataclass(frozen=True, slots=True)
class CommitHeader:
    summary: str
    description: str
    parent_commit: str | None


def _header(value: dict[str, Any]) -> CommitHeader:
    return CommitHeader(
        summary=text_field(value, "summary"),
        description=text_field(value, "description"),
        parent_commit=optional_text_field(value, "parentCommit") or None,
    )


def _operation(body: CommitBody, key: Any, value: dict[str, Any]) -> commits.Operation:
    path = text_field(value, "path", required=True)
    if key == "file":
        spool = body.spooled_content(value.get("content"))
        if text_field(value, "encoding", default="base64") != "base64" or spool is None:
            raise InvalidArgument("Inline files must carry base64 'content'")
        return commits.InlineFile(path, spool.path, spool.size, spool.sha256)
    if key == "lfsFile":
        if text_field(value, "algo", default="sha256") != "sha256":
            raise InvalidArgument("LFS files must be named by their sha256")
        size = int_field(value, "size", minimum=0)
        if size is None:
            raise InvalidArgument(f"Invalid size for LFS file '{path}'")
        return commits.LfsFile(path, text_field(value, "oid", required=True), size)
    if key == "deletedFile":
        return commits.DeletedFile(path)
    if key == "deletedFolder":
        return commits.DeletedFolder(path.rstrip("/"))
    raise InvalidArgument(f"Unsupported commit operation '{key}'")


def operations_from(body: CommitBody) -> tuple[CommitHeader, list[commits.Operation]]:
    header: CommitHeader | None = None
    operations: list[commits.Operation] = []
    for item in body.items:
        key, value = item.get("key"), item.get("value")
        if not isinstance(value, dict):
            raise InvalidArgument(f"Commit line '{key}' needs an object 'value'")
        if key == "header":
            header = _header(value)
        else:
            operations.append(_operation(body, key, value))
    if header is None:
        raise InvalidArgument("The commit body must start with a 'header' line")
    return header, operations


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/commit/{revision}",
    responses=WRITE_ERRORS,
    openapi_extra=NDJSON_COMMIT,
)
async def commit(request: Request, revision: str, at: RepoContext = Depends(commit_target)) -> JSONResponse:
    hub, repo = at.hub, at.repo
    create_pr = request.query_params.get("create_pr") in ("1", "true", "True")
    body = await consume_body(
        request, lambda chunks: read_commit_body(chunks, hub.settings.tmp_dir, max_file_size=MAX_INLINE_FILE)
    )
    try:
        header, operations = operations_from(body)
        result, number = await run_in_threadpool(
            lambda: _commit(at, unmask(revision), header, operations, create_pr=create_pr)
        )
    finally:
        body.cleanup()
    prefix = "" if repo.type is RepoType.MODEL else f"{repo.type.plural}/"
    pr_url = f"{base_url(request)}/{prefix}{repo.full_name}/discussions/{number}" if number else None
    return JSONResponse(
        {
            "success": True,
            "commitOid": result.sha,
            "commitUrl": f"{base_url(request)}/{prefix}{repo.full_name}/commit/{result.sha}",
            "commitMessage": header.summary,
            "pullRequestUrl": pr_url,
        }
    )


def _commit(
    at: RepoContext, revision: str, header: CommitHeader, operations: list[commits.Operation], *, create_pr: bool
) -> tuple[commits.CommitResult, int | None]:
    """The commit on `revision`, or (create_pr) on a new pull request against it, with its number."""
    if create_pr:
        return pulls.commit_as_pull(
            at.hub,
            at.actor,
            at.repo,
            revision,
            operations,
            summary=header.summary,
            description=header.description,
            parent_commit=header.parent_commit,
            via=writes.VIA_API,
        )
    made = commits.create_commit(
        at.hub,
        at.actor,
        at.repo,
        revision,
        operations,
        summary=header.summary,
        description=header.description,
        parent_commit=header.parent_commit,
        via=writes.VIA_API,
    )
    return made, None


@router.post(
    "/api/validate-yaml", responses=WRITE_ERRORS, openapi_extra=json_body("content", content=TEXT, repoType=REPO_TYPE)
)
async def validate_yaml(request: Request) -> JSONResponse:
    body = await read_json_object(request)
    if "content" not in body:
        raise InvalidArgument("'content' must be the YAML text to validate")
    validate_card_yaml(text_field(body, "content"))
    return JSONResponse({"errors": [], "warnings": []})


@router.get("/api/whoami-v2")
@router.get("/api/whoami")
async def whoami(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    if actor.is_anonymous:
        raise Unauthenticated("Invalid user token. Provide a token in the Authorization header")
    hub = get_hub(request)
    user = await run_in_threadpool(accounts.get_user, hub, actor.user_id or 0)
    orgs = await run_in_threadpool(accounts.list_user_orgs, hub, actor.user_id or 0)
    secret = token_of(request)
    token = await run_in_threadpool(tokens.describe_token, hub, secret) if secret else None
    return JSONResponse(
        {
            "type": "user",
            "id": str(user.id),
            "name": user.name,
            "fullname": user.full_name or user.name,
            "email": user.email or None,
            "emailVerified": bool(user.email),
            "isPro": False,
            "canPay": False,
            "avatarUrl": "",
            "isAdmin": user.is_admin,
            "orgs": [{"type": "org", "name": n, "roleInOrg": role, "id": n} for n, role in orgs],
            "auth": _auth_json(actor, token),
        }
    )


_HF_PERMISSIONS = {"read": ["repo.content.read"], "write": ["repo.write"], "manage": ["repo.manage"]}


def _auth_json(actor: Actor, token: tokens.TokenView | None) -> dict[str, Any]:
    """The credential as huggingface_hub reads it: auth.accessToken.{displayName, role, fineGrained}."""
    if token is None:
        return {"type": "session" if actor.scope == "write" else "access_token"}
    described: dict[str, Any] = {
        "displayName": token.name,
        "role": "fineGrained" if token.scope == "fine" else token.scope,
        "createdAt": iso(token.created_at),
        "expiresAt": iso(token.expires_at) if token.expires_at else None,
    }
    if token.scope == "fine":
        described["fineGrained"] = {
            "canReadGatedRepos": False,
            "global": [],
            "scoped": [
                {
                    "entity": {"type": "namespace" if g["kind"] == "namespace" else "repo", "name": g["name"]},
                    "permissions": [p for action in _actions(g) for p in _HF_PERMISSIONS[action]],
                }
                for g in token.grants
            ],
        }
    return {"type": "access_token", "accessToken": described}


def _actions(grant: dict[str, object]) -> list[str]:
    actions = grant.get("actions")
    return [str(a) for a in actions] if isinstance(actions, list) else []
