"""create_app(settings): the one place adapters (database, blob store) are built and routes mounted."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from csghub.api.routes import mount_api
from csghub.config import Settings, prepare_data_dir
from csghub.db.engine import make_engine, make_sessionmaker, migrate
from csghub.http import errors as api_errors
from csghub.services.context import Hub
from csghub.storage.base import BlobStore
from csghub.storage.local import LocalBlobStore
from csghub.storage.s3 import S3BlobStore
from csghub.transport.git_http import router as git_http_router
from csghub.transport.lfs_http import router as lfs_router

log = logging.getLogger(__name__)


def build_blob_store(settings: Settings) -> BlobStore:
    if settings.storage == "s3":
        store = S3BlobStore(
            bucket=settings.s3_bucket,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
        )
        store.ensure_bucket()
        return store
    return LocalBlobStore(settings.blobs_dir, settings.tmp_dir)


def build_hub(settings: Settings, *, run_migrations: bool = True) -> Hub:
    settings = prepare_data_dir(settings)
    engine = make_engine(settings.effective_database_url)
    if run_migrations:
        migrate(engine)
    return Hub(settings=settings, sessions=make_sessionmaker(engine), blobs=build_blob_store(settings))


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    hub = hub or build_hub(settings)
    app = FastAPI(title="CSGHub", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.hub = hub
    api_errors.install(app)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # LFS and git transports first: their paths end in .git/... and must win over resolve routes.
    app.include_router(lfs_router)
    app.include_router(git_http_router)
    mount_api(app)
    # csghub-native (/api/v1) routes come with the csghub-sdk compatibility layer.
    return app
