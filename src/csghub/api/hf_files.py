"""Hugging Face-compatible reading routes: tree, paths-info, refs, commits, branches, tags, resolve."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.api.pagination import next_link, parse_cursor
from csghub.api.paths import unmask
from csghub.api.serialize import commit_json, tree_entry_json
from csghub.core.errors import InvalidArgument, RevisionNotFound
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import bool_field, optional_text_field, read_json_object, text_field
from csghub.http.deps import base_url, client_address, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, TEXTS, WHOLE, WRITE_ERRORS, errors, json_body, query
from csghub.http.repos import RepoContext, RevisionContext, repo_route, revision_route
from csghub.http.streams import bytes_response, parse_range, stream_bytes
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import downloads, files, lfs, refs, repos
from csghub.services.repositories.writes import VIA_API as VIA
from csghub.services.scanning import status as scan_status

router = APIRouter(responses=API_ERRORS)
_PATHS = {"type": "object", "properties": {"paths": TEXTS, "expand": FLAG}, "required": ["paths"]}
# huggingface_hub posts a form; a JSON object works too.
PATHS_INFO_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": _PATHS}, "application/json": {"schema": _PATHS}},
    }
}
TREE_PAGE = 1000
# Small files kept in git are read on the event loop: a pygit2 read of a few KiB costs less than a thread hop.
INLINE_FILE = 64 * 1024
COMMITS_PAGE = 50


@router.get(
    "/api/{type_plural:repo_type}/{namespace}/{name}/tree/{revision}",
    openapi_extra=query(recursive=FLAG, expand=FLAG, cursor=TEXT),
)
@router.get(
    "/api/{type_plural:repo_type}/{namespace}/{name}/tree/{revision}/{folder:path}",
    openapi_extra=query(recursive=FLAG, expand=FLAG, cursor=TEXT),
)
async def list_tree(
    request: Request, folder: str = "", at: RevisionContext = Depends(revision_route())
) -> JSONResponse:
    params = request.query_params
    recursive = params.get("recursive", "").lower() in ("1", "true")
    expand = params.get("expand", "").lower() in ("1", "true")
    offset = parse_cursor(params.get("cursor"))

    def work() -> tuple[list[dict[str, Any]], bool]:
        entries = files.list_tree(at.snapshot, unmask(folder), recursive=recursive)
        page = list(itertools.islice(entries, offset, offset + TREE_PAGE + 1))
        shown = page[:TREE_PAGE]
        xet = lfs.xet_hashes_of(at.hub, at.repo.id, [e.lfs.oid for e in shown if e.lfs])
        security = scan_status.security_of(at.hub, at.repo.id, shown) if expand else None
        return [tree_entry_json(e, xet_hashes=xet, security=security) for e in shown], len(page) > TREE_PAGE

    data, more = await run_in_threadpool(work)
    return JSONResponse(data, headers=next_link(request, offset + TREE_PAGE) if more else {})


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/paths-info/{revision}",
    responses=WRITE_ERRORS,
    openapi_extra=PATHS_INFO_BODY,
)
async def paths_info(request: Request, at: RevisionContext = Depends(revision_route())) -> JSONResponse:
    paths: Any
    expand: Any
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json_object(request)
        paths, expand = body.get("paths"), body.get("expand")
    else:
        form = await request.form()
        paths, expand = form.getlist("paths"), form.get("expand")  # an uploaded file among them is refused below
    expand = expand is True or (isinstance(expand, str) and expand.lower() in ("1", "true"))
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise InvalidArgument("'paths' must be a list of file paths")

    def work() -> list[dict[str, Any]]:
        found = files.paths_info(at.snapshot, paths)
        xet = lfs.xet_hashes_of(at.hub, at.repo.id, [e.lfs.oid for e in found if e.lfs])
        security = scan_status.security_of(at.hub, at.repo.id, found) if expand else None
        return [tree_entry_json(e, xet_hashes=xet, security=security) for e in found]

    return JSONResponse(await run_in_threadpool(work))


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/refs", openapi_extra=query(include_prs=FLAG))
async def list_refs(request: Request, at: RepoContext = Depends(repo_route())) -> JSONResponse:
    def work() -> dict[str, Any]:
        found = refs.list_refs(at.hub, at.actor, at.repo)
        out: dict[str, Any] = {
            "branches": [{"name": r.name, "ref": r.ref, "targetCommit": r.target} for r in found.branches],
            "tags": [{"name": r.name, "ref": r.ref, "targetCommit": r.target} for r in found.tags],
            "converts": [{"name": r.name, "ref": r.ref, "targetCommit": r.target} for r in found.converts],
        }
        if request.query_params.get("include_prs"):
            out["pullRequests"] = [{"name": r.name, "ref": r.ref, "targetCommit": r.target} for r in found.pulls]
        return out

    return JSONResponse(await run_in_threadpool(work))


@router.get(
    "/api/{type_plural:repo_type}/{namespace}/{name}/commits/{revision}", openapi_extra=query(limit=WHOLE, cursor=TEXT)
)
async def list_commits(request: Request, at: RevisionContext = Depends(revision_route())) -> JSONResponse:
    offset = parse_cursor(request.query_params.get("cursor"))
    try:
        limit = min(int(request.query_params.get("limit") or COMMITS_PAGE), 1000)
    except ValueError:
        raise InvalidArgument("'limit' must be an integer") from None

    def work() -> tuple[list[dict[str, Any]], int]:
        commits, total = files.history(at.snapshot, skip=offset, limit=limit)
        return [commit_json(c) for c in commits], total

    data, total = await run_in_threadpool(work)
    headers = {"X-Total-Count": str(total)}
    if offset + len(data) < total:
        headers.update(next_link(request, offset + len(data)))
    return JSONResponse(data, headers=headers)


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/branch/{branch:path}",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(optional=True, startingPoint=TEXT, exist_ok=FLAG),
)
async def create_branch(
    request: Request, branch: str, at: RepoContext = Depends(repo_route(Action.WRITE))
) -> JSONResponse:
    body = await read_json_object(request, optional=True)

    def work() -> str:
        start = optional_text_field(body, "startingPoint") or optional_text_field(body, "starting_point")
        exist_ok = bool(bool_field(body, "exist_ok"))
        return refs.create_branch(at.hub, at.actor, at.repo, unmask(branch), start=start, exist_ok=exist_ok, via=VIA)

    target = await run_in_threadpool(work)
    return JSONResponse({"name": unmask(branch), "targetCommit": target})


@router.delete("/api/{type_plural:repo_type}/{namespace}/{name}/branch/{branch:path}", responses=WRITE_ERRORS)
async def delete_branch(branch: str, at: RepoContext = Depends(repo_route(Action.WRITE))) -> JSONResponse:
    await run_in_threadpool(lambda: refs.delete_branch(at.hub, at.actor, at.repo, unmask(branch), via=VIA))
    return JSONResponse({"deleted": unmask(branch)})


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/tag/{revision:path}",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("tag", tag=TEXT, message=TEXT, exist_ok=FLAG),
)
async def create_tag(
    request: Request, revision: str, at: RepoContext = Depends(repo_route(Action.WRITE))
) -> JSONResponse:
    body = await read_json_object(request, optional=True)
    tag = text_field(body, "tag", required=True)
    exist_ok = bool(bool_field(body, "exist_ok"))
    target = await run_in_threadpool(
        lambda: refs.create_tag(at.hub, at.actor, at.repo, tag, revision=unmask(revision), exist_ok=exist_ok, via=VIA)
    )
    return JSONResponse({"name": tag, "targetCommit": target})


@router.delete("/api/{type_plural:repo_type}/{namespace}/{name}/tag/{tag:path}", responses=WRITE_ERRORS)
async def delete_tag(tag: str, at: RepoContext = Depends(repo_route(Action.WRITE))) -> JSONResponse:
    await run_in_threadpool(lambda: refs.delete_tag(at.hub, at.actor, at.repo, unmask(tag), via=VIA))
    return JSONResponse({"deleted": unmask(tag)})


# --- resolve ---------------------------------------------------------------------------------------


def _snapshot_for(hub: Hub, actor: Actor, repo: repos.RepoView, revision: str, path: str) -> tuple[files.Snapshot, str]:
    """Resolve `revision`; an unquoted branch name with '/' is found by trying longer prefixes."""
    try:
        return files.at_revision(hub, actor, repo, revision), path
    except RevisionNotFound:
        parts = path.split("/")
        for i in range(1, len(parts)):
            candidate = "/".join([revision, *parts[:i]])
            try:
                return files.at_revision(hub, actor, repo, candidate), "/".join(parts[i:])
            except (RevisionNotFound, InvalidArgument):
                continue
        raise


def _file_at(
    hub: Hub, actor: Actor, repo: repos.RepoView, revision: str | None, path: str, exact_revision: bool
) -> tuple[files.Snapshot, files.FileContent]:
    if exact_revision or revision is None:
        snapshot, file_path = files.at_revision(hub, actor, repo, revision), unmask(path)
    else:
        snapshot, file_path = _snapshot_for(hub, actor, repo, unmask(revision), unmask(path))
    return snapshot, files.file_content(snapshot, file_path)


def _lfs_links(hub: Hub, repo: repos.RepoView, content: files.FileContent) -> tuple[str | None, str | None]:
    """An LFS file's Xet hash and presigned URL, once the repository is known to reference it."""
    if content.entry.lfs is None:
        return None, None
    lfs.require_linked(hub, repo.id, content.entry.lfs)
    oid = content.entry.lfs.oid
    return lfs.xet_hash_of(hub, oid), lfs.direct_download_url(hub, oid)


async def resolve_file(
    request: Request,
    repo_type: RepoType,
    namespace: str,
    name: str,
    revision: str | None,
    path: str,
    *,
    exact_revision: bool = False,
) -> Response:
    """One file's bytes, for every URL shape that names one. A revision taken from the URL path may be
    an unquoted branch name with '/' (see _snapshot_for); one from a query is `exact_revision`, and
    None there is the default branch."""
    actor = await get_actor(request)
    hub = get_hub(request)
    repo_id = RepoId.of(namespace, name)
    repo = repos.cached_repo(hub, actor, repo_type, repo_id, Action.DOWNLOAD)
    if repo is not None:
        # The row is at hand: refs and trees are read on the event loop; only LFS files need the database.
        snapshot, content = _file_at(hub, actor, repo, revision, path, exact_revision)
        xet_hash, direct = (
            (None, None) if content.entry.lfs is None else await run_in_threadpool(_lfs_links, hub, repo, content)
        )
    else:

        def work() -> tuple[files.Snapshot, files.FileContent, str | None, str | None]:
            found = repos.shared_repo(hub, actor, repo_type, repo_id, Action.DOWNLOAD)
            snapshot, content = _file_at(hub, actor, found, revision, path, exact_revision)
            return snapshot, content, *_lfs_links(hub, found, content)

        snapshot, content, xet_hash, direct = await run_in_threadpool(work)
    if request.method == "GET":
        downloads.count_download(hub, snapshot.repo.id, client_address(request))
    headers = {
        "X-Repo-Commit": snapshot.sha,
        "ETag": f'"{content.etag}"',
        "Content-Disposition": _disposition(
            content.entry.path, attachment=request.query_params.get("download") == "true"
        ),
    }
    if content.entry.lfs is not None:
        headers["X-Linked-Etag"] = f'"{content.etag}"'
        headers["X-Linked-Size"] = str(content.size)
        if xet_hash is not None:
            # Clients with hf_xet fetch the chunks from the CAS; others still get the bytes below.
            token_url = f"{base_url(request)}/api/{repo_type.plural}/{namespace}/{name}/xet-read-token/{snapshot.sha}"
            headers["X-Xet-Hash"] = xet_hash
            headers["Link"] = f'<{token_url}>; rel="xet-auth"'
        if direct is not None:
            return RedirectResponse(direct, status_code=302, headers=headers)
    byte_range = parse_range(request.headers.get("range"), content.size)
    if request.method == "HEAD":
        headers["Accept-Ranges"] = "bytes"
        headers["Content-Length"] = str(content.size if byte_range is None else byte_range[1] - byte_range[0])
        return Response(
            status_code=200 if byte_range is None else 206,
            headers=headers,
            media_type="application/octet-stream",
        )
    start, end = byte_range or (0, content.size)
    if content.entry.lfs is None and content.size <= INLINE_FILE:
        data = b"".join(files.read_file(hub, snapshot, content, start, end))
        return bytes_response(data, size=content.size, byte_range=byte_range, headers=headers)
    chunks = await run_in_threadpool(files.read_file, hub, snapshot, content, start, end)
    return stream_bytes(chunks, size=content.size, byte_range=byte_range, headers=headers)


def _disposition(path: str, *, attachment: bool = False) -> str:
    filename = path.rsplit("/", 1)[-1]
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


_BYTES = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_FILE_HEADERS = {
    name: {"schema": {"type": "string"}, "description": description}
    for name, description in (
        ("X-Repo-Commit", "The commit the revision resolved to"),
        ("ETag", "The git blob id, or an LFS file's sha256"),
        ("X-Linked-Size", "An LFS file's size"),
        ("X-Xet-Hash", "A Xet-stored file's hash; fetch its chunks from the CAS named by the Link header"),
    )
}
# A file's bytes whatever its type, as Hugging Face serves them; HEAD answers the same headers without them.
RESOLVE_QUERY = query(download=FLAG)
RESOLVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes", "content": _BYTES, "headers": _FILE_HEADERS},
    206: {"description": "The requested byte range of the file", "content": _BYTES, "headers": _FILE_HEADERS},
    302: {"description": "An LFS file stored in S3: its presigned URL in Location"},
    **errors(416),
}
# GET and HEAD are declared apart so each keeps its own operation id in the schema.
_RESOLVE_ROUTE: dict[str, Any] = {
    "response_class": Response,
    "responses": RESOLVE_RESPONSES,
    "openapi_extra": RESOLVE_QUERY,
}


@router.get("/{namespace}/{name}/resolve/{revision}/{path:path}", **_RESOLVE_ROUTE)
@router.head("/{namespace}/{name}/resolve/{revision}/{path:path}", **_RESOLVE_ROUTE)
async def resolve_model(request: Request, namespace: str, name: str, revision: str, path: str) -> Response:
    return await resolve_file(request, RepoType.MODEL, namespace, name, revision, path)


@router.get("/{type_plural:repo_type}/{namespace}/{name}/resolve/{revision}/{path:path}", **_RESOLVE_ROUTE)
@router.head("/{type_plural:repo_type}/{namespace}/{name}/resolve/{revision}/{path:path}", **_RESOLVE_ROUTE)
async def resolve_typed(
    request: Request, type_plural: str, namespace: str, name: str, revision: str, path: str
) -> Response:
    if type_plural not in ("models", "datasets", "spaces", "codes"):
        raise InvalidArgument(f"Unknown repository type '{type_plural:repo_type}'")
    return await resolve_file(request, RepoType.parse(type_plural), namespace, name, revision, path)
