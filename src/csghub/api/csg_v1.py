"""The CSGHub-native API under /api/v1, as csghub-sdk and csghub-cli call it.

Answers use CSGHub's envelope `{"msg": "OK", "data": ...}`; the work is done by the same services as
the Hugging Face-compatible routes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from csghub.api.hf_commits import PREUPLOAD_BODY, preupload_answer
from csghub.api.hf_files import RESOLVE_RESPONSES, resolve_file
from csghub.api.paths import unmask
from csghub.api.serialize import csg_repo_json, ok, visibility_of
from csghub.core.errors import Conflict, InvalidArgument
from csghub.core.names import RepoId, RepoType, validate_path
from csghub.http.bodies import read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, VISIBILITY, WRITE_ERRORS, json_body, query
from csghub.http.repos import RepoContext, repo_route
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import commits, refs, repos
from csghub.services.repositories.writes import VIA_CSGHUB_API as VIA
from csghub.services.spaces import creation
from csghub.services.spaces.creation import NewSpace

router = APIRouter(responses=API_ERRORS)
RAW_BODY = json_body("content", content=TEXT, message=TEXT, branch=TEXT, new_branch=TEXT)


@router.post(
    "/api/v1/{type_plural:repo_type}",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(
        "name",
        name=TEXT,
        namespace=TEXT,
        description=TEXT,
        default_branch=TEXT,
        license=TEXT,
        sdk=TEXT,
        private=FLAG,
        visibility=VISIBILITY,
    ),
)
async def create_repo(request: Request, type_plural: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    repo_type = RepoType.parse(type_plural)
    repo_id = RepoId.of(text_field(body, "namespace") or actor.name, text_field(body, "name", required=True))
    sdk = text_field(body, "sdk") if repo_type is RepoType.SPACE else ""
    try:
        if sdk:  # CSGHub's POST /api/v1/spaces with an sdk: the README declares it and the space starts
            new = NewSpace(
                sdk=sdk,
                visibility=visibility_of(body) or "public",
                description=text_field(body, "description"),
                license=text_field(body, "license"),
            )
            view = await run_in_threadpool(creation.create_space, get_hub(request), actor, repo_id, new)
        else:
            view = await run_in_threadpool(
                lambda: repos.create_repo(
                    get_hub(request),
                    actor,
                    repo_type,
                    repo_id,
                    visibility=visibility_of(body) or "public",
                    description=text_field(body, "description"),
                    default_branch=text_field(body, "default_branch", default="main"),
                    license=text_field(body, "license"),
                )
            )
    except Conflict as exc:
        # csghub-sdk recognizes an existing repository by this phrase (PostgreSQL's wording) and stays quiet.
        raise Conflict(f"{exc.message} (duplicate key value violates unique constraint)", code=exc.code) from None
    return ok(csg_repo_json(view))


@router.get("/api/v1/{type_plural:repo_type}/{namespace}/{name}")
async def repo_detail(at: RepoContext = Depends(repo_route())) -> JSONResponse:
    return ok(csg_repo_json(at.repo))


@router.get("/api/v1/{type_plural:repo_type}/{namespace}/{name}/branches")
async def list_branches(at: RepoContext = Depends(repo_route())) -> JSONResponse:
    found = await run_in_threadpool(refs.list_refs, at.hub, at.actor, at.repo)
    return ok([{"name": b.name, "commit": {"id": b.target}} for b in found.branches])


def _decode_content(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidArgument(f"'content' of '{path}' must be a base64 string")
    try:
        # Python's base64.encode wraps lines; whitespace is not part of the data.
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"'content' of '{path}' is not valid base64") from None


# Writes take the repository from repo_route(Action.WRITE), settled before a body carrying file content
# is read (up to max_inline_body into memory, or max_upload_body to disk): a stranger is refused first.
WRITER = Depends(repo_route(Action.WRITE))


def _commit_files(
    at: RepoContext,
    branch: str,
    files: list[tuple[str, bytes | None]],
    message: str,
    *,
    create_branch_from: str | None = None,
) -> commits.CommitResult:
    spooled: list[Path] = []
    try:
        operations: list[commits.Operation] = []
        for path, data in files:
            validate_path(path)
            operations.append(
                commits.DeletedFile(path) if data is None else commits.content_operation(at.hub, path, data, spooled)
            )
        return commits.create_commit(
            at.hub,
            at.actor,
            at.repo,
            branch,
            operations,
            summary=message,
            create_branch_from=create_branch_from,
            via=VIA,
        )
    finally:
        for tmp in spooled:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@router.post(
    "/api/v1/{type_plural:repo_type}/{namespace}/{name}/raw/{path:path}", responses=WRITE_ERRORS, openapi_extra=RAW_BODY
)
@router.put(
    "/api/v1/{type_plural:repo_type}/{namespace}/{name}/raw/{path:path}", responses=WRITE_ERRORS, openapi_extra=RAW_BODY
)
async def write_raw_file(request: Request, path: str, at: RepoContext = WRITER) -> JSONResponse:
    body = await read_json_object(request)
    data = _decode_content(body.get("content", ""), path)
    new_branch, named_branch = text_field(body, "new_branch"), text_field(body, "branch")
    message = text_field(body, "message", default=f"Upload {path}")

    def work() -> commits.CommitResult:
        branch = new_branch or named_branch or at.repo.default_branch
        start = (named_branch or at.repo.default_branch) if new_branch else None
        return _commit_files(at, branch, [(unmask(path), data)], message, create_branch_from=start)

    result = await run_in_threadpool(work)
    return ok({"commit": {"id": result.sha}, "branch": result.branch, "path": unmask(path)})


@router.post("/api/v1/{type_plural:repo_type}/{namespace}/{name}/upload_file", responses=WRITE_ERRORS)
async def upload_file(request: Request, at: RepoContext = WRITER) -> JSONResponse:
    hub, actor, repo = at.hub, at.actor, at.repo
    form = await request.form()
    upload = form.get("file")
    path = form.get("file_path")
    if not isinstance(upload, UploadFile) or not isinstance(path, str) or not path:
        raise InvalidArgument("upload_file needs a 'file' part and a 'file_path' field")
    branch, message = form.get("branch") or repo.default_branch, form.get("message") or f"Upload {path}"
    if not isinstance(branch, str) or not isinstance(message, str):
        raise InvalidArgument("'branch' and 'message' of upload_file must be text fields, not files")

    def work() -> commits.CommitResult:
        # The form parser already spooled the part to disk; hash it from there in one pass.
        digest = hashlib.sha256()
        size = 0
        fd, name_ = tempfile.mkstemp(dir=hub.settings.tmp_dir, prefix="csg-upload-")
        tmp = Path(name_)
        try:
            with os.fdopen(fd, "wb") as out:
                upload.file.seek(0)
                while block := upload.file.read(1024 * 1024):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
            operation = commits.InlineFile(validate_path(path), tmp, size, digest.hexdigest())
            return commits.create_commit(hub, actor, repo, branch, [operation], summary=message, via=VIA)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    try:
        result = await run_in_threadpool(work)
    finally:
        await upload.close()
    return ok({"commit": {"id": result.sha}, "path": path, "branch": result.branch})


@router.post(
    "/api/v1/{type_plural:repo_type}/{namespace}/{name}/preupload/{revision}",
    responses=WRITE_ERRORS,
    openapi_extra=PREUPLOAD_BODY,
)
async def preupload(request: Request, revision: str, at: RepoContext = WRITER) -> JSONResponse:
    body = await read_json_object(request)

    def work() -> list[dict[str, Any]]:
        # csghub-sdk never speaks Xet here, so large and binary files may always go through LFS.
        modes = preupload_answer(at, unmask(revision), body, lfs_allowed=True)
        return [
            {"path": m.path, "uploadMode": m.mode, "shouldIgnore": False, "oid": m.remote_oid or "", "isDir": m.is_dir}
            for m in modes
        ]

    return ok({"files": await run_in_threadpool(work)})


@router.post(
    "/api/v1/{type_plural:repo_type}/{namespace}/{name}/commit/{revision}",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(
        "files",
        files={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": TEXT,
                    "action": {"type": "string", "enum": ["create", "update", "delete"]},
                    "content": TEXT,
                },
                "required": ["path"],
            },
        },
        message=TEXT,
    ),
)
async def commit(request: Request, revision: str, at: RepoContext = WRITER) -> JSONResponse:
    body = await read_json_object(request)
    entries = body.get("files")
    if not isinstance(entries, list) or not entries:
        raise InvalidArgument("A commit needs a non-empty 'files' list")
    files: list[tuple[str, bytes | None]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise InvalidArgument("Each file needs a 'path'")
        action = entry.get("action", "create")
        if action not in ("create", "update", "delete"):
            raise InvalidArgument(f"Unknown file action '{action}': expected create, update or delete")
        data = None if action == "delete" else _decode_content(entry.get("content", ""), entry["path"])
        files.append((entry["path"], data))

    def work() -> commits.CommitResult:
        message = text_field(body, "message", default="Upload files")
        return _commit_files(at, unmask(revision), files, message)

    result = await run_in_threadpool(work)
    return ok({"commit": {"id": result.sha}, "branch": result.branch})


# CSGHub's own download URL, the one pycsghub's `http_get` is given: the revision is a query parameter
# (`ref` in CSGHub's API; `revision` and `branch` are read too), the default branch without one.
_REF_PARAMETERS = ("ref", "revision", "branch")
_RESOLVE_ROUTE: dict[str, Any] = {
    "response_class": Response,
    "responses": RESOLVE_RESPONSES,
    "openapi_extra": query(**dict.fromkeys(_REF_PARAMETERS, TEXT), download=FLAG),
}


def _ref_of(request: Request) -> str | None:
    given = {value for key in _REF_PARAMETERS if (value := request.query_params.get(key))}
    if len(given) > 1:
        raise InvalidArgument("'ref', 'revision' and 'branch' name the same revision: give one of them")
    return given.pop() if given else None


@router.get("/api/v1/{type_plural:repo_type}/{namespace}/{name}/resolve/{path:path}", **_RESOLVE_ROUTE)
@router.head("/api/v1/{type_plural:repo_type}/{namespace}/{name}/resolve/{path:path}", **_RESOLVE_ROUTE)
async def resolve_download(request: Request, type_plural: str, namespace: str, name: str, path: str) -> Response:
    repo_type = RepoType.parse(type_plural)
    return await resolve_file(request, repo_type, namespace, name, _ref_of(request), path, exact_revision=True)
