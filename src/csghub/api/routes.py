"""Mounts the API: the Hugging Face surface at / and /hf, repo info and resolve also under /csg."""

from __future__ import annotations

from fastapi import FastAPI

from csghub.api import hf_commits, hf_files, hf_repos
from csghub.api.paths import EncodedSlashMiddleware


def mount_api(app: FastAPI) -> None:
    app.add_middleware(EncodedSlashMiddleware)
    for prefix in ("/hf", ""):
        # Specific routes first: /api/whoami-v2 must not be taken for a listing of "whoami-v2"s.
        app.include_router(hf_commits.router, prefix=prefix)
        app.include_router(hf_files.router, prefix=prefix)
        app.include_router(hf_repos.router, prefix=prefix)
    app.include_router(hf_repos.router, prefix="/csg")
    app.include_router(hf_files.router, prefix="/csg")
