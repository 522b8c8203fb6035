"""Mounts the API: the Hugging Face surface at / and /hf, repo info and resolve also under /csg, and
the CSGHub-native /api/v1."""

from __future__ import annotations

from fastapi import FastAPI

from csghub.api import (
    admin,
    collections_api,
    compute_api,
    csg_listings,
    csg_v1,
    datasets_server,
    dataviewer,
    finetune_api,
    hf_commits,
    hf_files,
    hf_repos,
    hf_xet,
    mirror_sources_api,
    mirrors_api,
    notebooks_api,
    notifications_api,
    orgs,
    people,
    pulls_api,
    quicksearch,
    repo_access,
    social,
    spaces_api,
    ssh_keys,
    sso,
    users,
    webhooks_api,
)
from csghub.api.paths import EncodedSlashMiddleware
from csghub.http.routing import include_routes


def mount_api(app: FastAPI) -> None:
    app.add_middleware(EncodedSlashMiddleware)
    # Accounts before the generic /api/v1/{type}s/{ns}/{name} routes they would otherwise fall into.
    for module in (
        users,
        people,
        notifications_api,
        sso,
        admin,
        orgs,
        ssh_keys,
        webhooks_api,
        repo_access,
        social,
        pulls_api,
        collections_api,
        quicksearch,
    ):
        include_routes(app, module.router)
    # huggingface_hub clients pointed at /hf find likes, discussions, pull requests and collections there too.
    include_routes(app, social.router, "/hf")
    include_routes(app, people.router, "/hf")
    include_routes(app, pulls_api.router, "/hf")
    include_routes(app, collections_api.router, "/hf")
    include_routes(app, compute_api.router)
    # Before the generic repository routes: /api/v1/mirror/... and .../{name}/mirror.
    include_routes(app, mirror_sources_api.router)
    include_routes(app, mirrors_api.router)
    include_routes(app, finetune_api.router)
    include_routes(app, notebooks_api.router)
    # Before the generic repository routes (CSGHub's /api/v1/{type}s/... and HF's /api/{type}s/...).
    include_routes(app, spaces_api.router)
    include_routes(app, spaces_api.router, "/hf")
    # The dataset viewer (HF's /datasets-server, CSGHub's dataviewer, the Hub's parquet listing) before the
    # generic repository routes.
    include_routes(app, datasets_server.router)
    include_routes(app, dataviewer.router)
    include_routes(app, dataviewer.hub_router)
    include_routes(app, dataviewer.hub_router, "/hf")
    include_routes(app, csg_v1.router)
    include_routes(app, csg_listings.router)
    # Prefixed mounts first: the unprefixed `/{type}s/{ns}/{name}/resolve/...` would otherwise take
    # `/csg/{ns}/{name}/resolve/...` for a repository type named "csg".
    for prefix, routers in (
        ("/hf", (hf_xet, hf_commits, hf_files, hf_repos)),
        ("/csg", (hf_files, hf_repos)),
        ("", (hf_xet, hf_commits, hf_files, hf_repos)),
    ):
        # Specific routes before generic ones: /api/whoami-v2 is not a listing of "whoami-v2"s.
        for module in routers:
            include_routes(app, module.router, prefix)
