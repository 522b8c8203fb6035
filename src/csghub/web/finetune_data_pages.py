"""A dataset's "Fine-tune" tab (`/datasets/{ns}/{name}/finetune`): choose a training file and, when its
columns have other names, a column mapping; see the format found, the row count, the first rows as
LLaMA-Factory will read them and every problem with its row numbers (services/finetune/jobs.py's
preview_training_file, in the words a fine-tune would be refused with). From there, a new experiment on that file.

Mounted before the model pages shaped like /{ns}/{name}/...: this path has a dataset's prefix."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import EntryNotFound
from csghub.core.names import RepoType
from csghub.http.errors import PAGE_ROUTES
from csghub.http.repos import RepoContext
from csghub.services.finetune import jobs
from csghub.services.permissions import Action
from csghub.web.finetune_forms import FORMAT_NAMES, MAPPED, mapping_of
from csghub.web.i18n import translate_error
from csghub.web.page_repos import page_repo
from csghub.web.render import language, render, repo_path

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
opened = Depends(page_repo(RepoType.DATASET, Action.DOWNLOAD))
SHOWN_ROWS = 10  # of the preview's first rows


def _preview(request: Request, at: RepoContext) -> Response:
    repo = at.repo
    revision = repo.default_branch
    found = jobs.training_files(at.hub, at.actor, str(repo.full_name), revision)
    asked = request.query_params
    chosen = asked.get("file", "") or (found[0] if len(found) == 1 else "")
    fields = {k: v for k, v in asked.items()}
    mapping = mapping_of(fields)
    preview, missing = None, ""
    if chosen:
        try:
            preview = jobs.preview_training_file(at.hub, at.actor, str(repo.full_name), chosen, mapping, revision)
        except EntryNotFound as exc:
            missing = exc.message
    lang = language(request)
    return render(
        request,
        "finetune_data.html",
        repo=repo,
        base=repo_path(repo.type, repo.full_name),
        revision=revision,
        tab="finetune",
        files=found,
        chosen=chosen,
        values=fields,
        mapped=MAPPED,
        format_names=FORMAT_NAMES,
        preview=preview,
        shown_rows=preview.rows[:SHOWN_ROWS] if preview else (),
        missing=missing,
        said=lambda message: translate_error(lang, message),
    )


@router.get("/datasets/{ns}/{name}/finetune", response_class=HTMLResponse)
async def finetune_data_page(request: Request, at: RepoContext = opened) -> Response:
    return await run_in_threadpool(_preview, request, at)
