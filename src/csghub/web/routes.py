"""Mounts the portal: static files, the sign-in pages, then the browsing pages (whose catch-all
`/{name}` and `/{ns}/{name}` paths must come after every other route of one or two segments).

A repository's settings, branches and commits come last, typed ones before models': a model's
`/{ns}/{name}/settings` has the shape of a dataset's page `/datasets/{ns}/{name}`, and a dataset
named "settings" must still reach its page and its own settings."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from csghub.http.routing import include_routes
from csghub.http.unknown_paths import UnknownApiPaths
from csghub.web import (
    account_pages,
    admin_pages,
    auth_pages,
    collection_pages,
    community_pages,
    console_pages,
    dataset_viewer_pages,
    edit_pages,
    endpoint_pages,
    endpoint_summary_pages,
    finetune_data_pages,
    finetune_instance_pages,
    finetune_pages,
    history_pages,
    mirror_admin_pages,
    mirror_pages,
    mirror_source_pages,
    notification_pages,
    org_pages,
    pages,
    playground_pages,
    profile_edit_pages,
    repo_settings_pages,
    search_pages,
    space_pages,
    webhook_pages,
)
from csghub.web.markdown import pygments_css

STATIC = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    css = pygments_css()

    @app.get("/static/code.css", include_in_schema=False)
    def code_css() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Pages are shaped like /{ns}/{name}: an /api path no API route took is a JSON 404, not a page.
    app.router.routes.append(UnknownApiPaths(app.router))
    include_routes(app, auth_pages.router)
    include_routes(app, account_pages.router)
    include_routes(app, profile_edit_pages.router)
    include_routes(app, notification_pages.router)
    include_routes(app, webhook_pages.router)
    # Fixed prefixes (/admin, /organizations, /collections) before the pages shaped like /{ns}/{name}/...
    include_routes(app, admin_pages.router)
    include_routes(app, mirror_admin_pages.router)
    include_routes(app, mirror_source_pages.router)
    # /new/mirror has the shape of a model page, and a mirror's buttons post under its page.
    include_routes(app, mirror_pages.router)
    include_routes(app, org_pages.router)
    include_routes(app, collection_pages.router)
    include_routes(app, edit_pages.router)
    # /endpoints/{owner}/{name}[/...] before the model pages' /{ns}/{name}/...; the gateway's .../v1/... is
    # mounted earlier, with the API.
    include_routes(app, endpoint_pages.router)
    include_routes(app, endpoint_summary_pages.router)
    include_routes(app, console_pages.router)
    include_routes(app, playground_pages.router)  # /endpoints/compare has a model page's shape
    include_routes(app, dataset_viewer_pages.router)  # /datasets/{ns}/{name}/viewer, before a model's pages
    # /finetune/... has the shape of a model page; /datasets/{ns}/{name}/finetune comes before a model's pages.
    include_routes(app, finetune_pages.router)
    include_routes(app, finetune_instance_pages.router)
    include_routes(app, finetune_data_pages.router)
    include_routes(app, search_pages.router)  # before pages' /{kind}, which takes any one segment
    include_routes(app, space_pages.router)  # /spaces/{ns}/{name}: the app, before every repository's card page
    include_routes(app, pages.router)
    # After pages: a model's `/{ns}/{name}/settings` is shaped like a dataset page, `/datasets/{ns}/{name}`;
    # the typed routes (datasets, spaces, codes) of each module come before the models' ones.
    include_routes(app, repo_settings_pages.router)
    include_routes(app, history_pages.router)
    include_routes(app, community_pages.router)
    include_routes(app, repo_settings_pages.model_router)
    include_routes(app, history_pages.model_router)
