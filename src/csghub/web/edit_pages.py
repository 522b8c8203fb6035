"""Contributing from the browser: upload files (drag and drop, with progress), create, edit and delete a
file, each as one commit with a message, on the current branch or a new one.

Uploads stream to disk while they are hashed; files that are large or binary (by the repository's
.gitattributes and the size threshold) land in LFS storage exactly as a git push would put them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from csghub.core.errors import InvalidArgument, PermissionDenied
from csghub.core.names import RepoId, RepoType, validate_path
from csghub.http.deps import CSRF_HEADER, SESSION_COOKIE, get_actor, get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.services.community import pulls
from csghub.services.context import Hub
from csghub.services.identity import sessions
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import commits, files, repos, writes
from csghub.web.forms import sign_in_redirect
from csghub.web.i18n import script_messages, translate_format
from csghub.web.page_repos import open_page_repo
from csghub.web.render import language, page_actor, render, repo_path
from csghub.web.security import CSRF_FIELD, check_form_csrf

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
MAX_EDITABLE = 512 * 1024


def _location(repo: repos.RepoView) -> str:
    return repo_path(repo.type, repo.full_name)


async def _writer(
    request: Request, repo_type: RepoType, ns: str, name: str, action: Action = Action.WRITE
) -> tuple[Actor, repos.RepoView]:
    """The signed-in actor, allowed to write to the repository, or (PROPOSE: the edit form) to propose a
    change to it as a pull request (else 404/403 like everywhere else)."""
    actor = await page_actor(request)
    if actor.is_anonymous:
        raise PermissionDenied("Sign in to change files")
    at = await open_page_repo(request, repo_type, ns, name, action)
    return at.actor, at.repo


async def _sender(request: Request) -> Actor:
    actor = await get_actor(request)
    if actor.is_anonymous:
        raise PermissionDenied("Sign in to change files")
    return actor


async def _checked_form(request: Request) -> Any:
    """The form, after its CSRF check: the page's script sends the session's header, plain forms the field."""
    form = await request.form(max_files=1000, max_fields=2000)
    if not request.headers.get(CSRF_HEADER):
        field = form.get(CSRF_FIELD)
        check_form_csrf(request, field if isinstance(field, str) else "")
    return form


async def _posted(request: Request) -> tuple[Any, Actor]:
    form = await _checked_form(request)
    return form, await _sender(request)


async def _uploader(request: Request) -> Actor:
    """Who uploads, settled before the upload streams to disk. The page's script proves its session
    with the CSRF header; a plain form carries its token inside the body, so its session is looked up
    now and the token checked once the form is read."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if request.headers.get(CSRF_HEADER) or not session_id:
        return await _sender(request)
    actor, _ = await run_in_threadpool(sessions.actor_from_session, get_hub(request), session_id)
    return actor


def _spool_upload(hub: Hub, upload: UploadFile, path: str) -> commits.InlineFile:
    digest, size = hashlib.sha256(), 0
    fd, name = tempfile.mkstemp(dir=hub.settings.tmp_dir, prefix="web-upload-")
    with os.fdopen(fd, "wb") as out:
        upload.file.seek(0)
        while block := upload.file.read(1024 * 1024):
            digest.update(block)
            size += len(block)
            out.write(block)
    return commits.InlineFile(validate_path(path), Path(name), size, digest.hexdigest())


def _commit(
    hub: Hub, actor: Actor, repo: repos.RepoView, form: Any, operations: list[commits.Operation], default_summary: str
) -> commits.CommitResult:
    branch = str(form.get("branch") or repo.default_branch)
    new_branch = str(form.get("new_branch") or "").strip()
    if form.get("create_pr"):  # "Open a pull request": the change goes to a new refs/pr/N instead
        summary = str(form.get("summary") or "").strip() or default_summary
        made, number = pulls.commit_as_pull(
            hub,
            actor,
            repo,
            branch,
            operations,
            summary=summary,
            description=str(form.get("description") or ""),
            parent_commit=None,
            via=writes.VIA_WEB,
        )
        return commits.CommitResult(made.sha, made.branch, pull_request=number)
    return commits.create_commit(
        hub,
        actor,
        repo,
        new_branch or branch,
        operations,
        summary=str(form.get("summary") or "").strip() or default_summary,
        description=str(form.get("description") or ""),
        create_branch_from=branch if new_branch else None,
        via=writes.VIA_WEB,
    )


def _routes(prefix: str, repo_type: RepoType) -> None:
    @router.get(prefix + "/{ns}/{name}/upload/{revision}", response_class=HTMLResponse)
    async def upload_form(request: Request, ns: str, name: str, revision: str) -> Response:
        if (await page_actor(request)).is_anonymous:
            return sign_in_redirect(request)  # a visitor who may yet write: sign in first, then back here
        _actor, repo = await _writer(request, repo_type, ns, name)
        return render(
            request,
            "upload.html",
            repo=repo,
            base=_location(repo),
            revision=revision,
            tab="files",
            error=None,
            lfs_threshold=get_hub(request).settings.lfs_threshold,
            messages=script_messages(language(request)),
        )

    @router.post(prefix + "/{ns}/{name}/upload/{revision}")
    async def upload(request: Request, ns: str, name: str, revision: str) -> Response:
        hub = get_hub(request)
        wants_json = bool(request.headers.get(CSRF_HEADER))  # the page's script; errors answer it in JSON too
        spooled: list[Path] = []
        try:
            # Who may write is settled before the upload streams to disk.
            actor = await _uploader(request)
            repo = await run_in_threadpool(repos.get_repo, hub, actor, repo_type, RepoId.of(ns, name), Action.WRITE)
            form = await _checked_form(request)
            actor = await _sender(request)  # the form's token checked: the request's own actor
            uploads = [u for u in form.getlist("files") if isinstance(u, UploadFile)]
            paths = [str(p) for p in form.getlist("paths")]
            if not uploads:
                raise InvalidArgument("Choose or drop at least one file")
            folder = str(form.get("folder") or "").strip("/")

            def work() -> commits.CommitResult:
                operations: list[commits.Operation] = []
                for i, item in enumerate(uploads):
                    relative = paths[i] if i < len(paths) and paths[i] else (item.filename or "")
                    path = f"{folder}/{relative}" if folder else relative
                    operation = _spool_upload(hub, item, path)
                    spooled.append(operation.tmp_path)
                    operations.append(operation)
                many = "Upload {count} files" if len(operations) > 1 else "Upload {count} file"
                summary = translate_format(language(request), many, count=len(operations))
                return _commit(hub, actor, repo, form, operations, summary)

            result = await run_in_threadpool(work)
        finally:
            for tmp in spooled:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        target = f"{_location(repo)}/tree/{result.branch}"
        if wants_json:
            return JSONResponse({"commit": result.sha, "location": target})
        return RedirectResponse(target, status_code=303)

    @router.get(prefix + "/{ns}/{name}/edit/{revision}/{path:path}", response_class=HTMLResponse)
    async def edit_form(request: Request, ns: str, name: str, revision: str, path: str) -> Response:
        hub = get_hub(request)
        if (await page_actor(request)).is_anonymous:
            return sign_in_redirect(request)  # a visitor who may yet write: sign in first, then back here
        actor, repo = await _writer(request, repo_type, ns, name, Action.PROPOSE)
        text = await run_in_threadpool(_editable_text, hub, actor, repo, revision, path)
        return render(
            request,
            "edit.html",
            repo=repo,
            base=_location(repo),
            revision=revision,
            tab="files",
            path=path,
            content=text,
            creating=False,
            error=None,
        )

    @router.get(prefix + "/{ns}/{name}/new/{revision}", response_class=HTMLResponse)
    async def new_file_form(request: Request, ns: str, name: str, revision: str, folder: str = "") -> Response:
        if (await page_actor(request)).is_anonymous:
            return sign_in_redirect(request)  # a visitor who may yet write: sign in first, then back here
        _actor, repo = await _writer(request, repo_type, ns, name)
        path = f"{folder.strip('/')}/" if folder.strip("/") else ""
        return render(
            request,
            "edit.html",
            repo=repo,
            base=_location(repo),
            revision=revision,
            tab="files",
            path=path,
            content="",
            creating=True,
            error=None,
        )

    @router.post(prefix + "/{ns}/{name}/edit/{revision}", response_class=HTMLResponse)
    async def save_file(request: Request, ns: str, name: str, revision: str) -> Response:
        hub = get_hub(request)
        spooled: list[Path] = []
        try:
            form, actor = await _posted(request)
            wanted = Action.PROPOSE if form.get("create_pr") else Action.WRITE
            repo = await run_in_threadpool(repos.get_repo, hub, actor, repo_type, RepoId.of(ns, name), wanted)
            path = validate_path(str(form.get("path") or "").strip())
            data = str(form.get("content") or "").replace("\r\n", "\n").encode()

            def work() -> commits.CommitResult:
                fd, tmp_name = tempfile.mkstemp(dir=hub.settings.tmp_dir, prefix="web-edit-")
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                spooled.append(Path(tmp_name))
                operation = commits.InlineFile(path, Path(tmp_name), len(data), hashlib.sha256(data).hexdigest())
                summary = translate_format(language(request), "Update {path}", path=path)
                return _commit(hub, actor, repo, form, [operation], summary)

            result = await run_in_threadpool(work)
        finally:
            for tmp in spooled:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        if result.pull_request:
            return RedirectResponse(f"{_location(repo)}/discussions/{result.pull_request}", status_code=303)
        return RedirectResponse(f"{_location(repo)}/blob/{result.branch}/{path}", status_code=303)

    @router.post(prefix + "/{ns}/{name}/delete/{revision}/{path:path}", response_class=HTMLResponse)
    async def delete_file(request: Request, ns: str, name: str, revision: str, path: str) -> Response:
        hub = get_hub(request)
        form, actor = await _posted(request)
        repo = await run_in_threadpool(repos.get_repo, hub, actor, repo_type, RepoId.of(ns, name), Action.WRITE)
        operation = commits.DeletedFile(validate_path(path))
        summary = translate_format(language(request), "Delete {path}", path=path)
        result = await run_in_threadpool(_commit, hub, actor, repo, form, [operation], summary)
        return RedirectResponse(f"{_location(repo)}/tree/{result.branch}", status_code=303)


def _editable_text(hub: Hub, actor: Actor, repo: repos.RepoView, revision: str, path: str) -> str:
    snapshot = files.at_revision(hub, actor, repo, revision)
    entry = files.get_entry(snapshot, path)
    if entry.kind != "file" or entry.lfs is not None or entry.size > MAX_EDITABLE:
        raise InvalidArgument("Only text files under 512 kB that are not in LFS can be edited in the browser")
    data = files.read_small_file(snapshot, entry)
    if b"\x00" in data[:8000]:
        raise InvalidArgument("Binary files cannot be edited in the browser")
    return data.decode("utf-8", errors="replace")


for _type in (RepoType.DATASET, RepoType.SPACE, RepoType.CODE):
    _routes(f"/{_type.plural}", _type)
_routes("", RepoType.MODEL)
