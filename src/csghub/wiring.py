"""Builds the hub's adapters (database, blob store) from Settings.

Kept apart from app.py so that processes without a web server, such as the git hooks that run on every
push, start without importing the web framework.
"""

from __future__ import annotations

from csghub.config import Settings, prepare_data_dir
from csghub.db.engine import make_engine, make_sessionmaker, migrate
from csghub.services.context import Hub
from csghub.storage.base import BlobStore
from csghub.storage.local import LocalBlobStore


def build_blob_store(settings: Settings) -> BlobStore:
    if settings.storage == "s3":
        from csghub.storage.s3 import S3BlobStore  # boto3 is slow to import; only S3 hubs pay for it

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
