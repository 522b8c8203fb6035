"""Builds the hub's adapters (database, blob store) from Settings.

Kept apart from app.py so that processes without a web server, such as the git hooks that run on every
push, start without importing the web framework.
"""

from __future__ import annotations

import hashlib
from typing import Any

from csghub.config import ConfigError, Settings, prepare_data_dir
from csghub.db.engine import make_engine, make_sessionmaker, migrate
from csghub.runtime.base import Runner
from csghub.services.community import notify, pulls
from csghub.services.context import Hub
from csghub.services.datasets import conversions
from csghub.services.finetune import runs as finetune_runs
from csghub.services.mirrors import proxy as mirror_proxy
from csghub.services.mirrors import scheduler as mirror_scheduler
from csghub.services.observability.database import DatabaseCollector
from csghub.services.scanning import guard as scan_guard
from csghub.services.scanning import pipeline as scan_pipeline
from csghub.services.spaces import lifecycle as space_lifecycle
from csghub.services.spaces import settings as space_settings
from csghub.services.webhooks import events as webhook_events
from csghub.storage.base import BlobStore
from csghub.storage.local import LocalBlobStore


def build_blob_store(settings: Settings, *, create_bucket: bool = True) -> BlobStore:
    if settings.storage == "s3":
        from csghub.storage.s3 import S3BlobStore  # boto3 is slow to import; only S3 hubs pay for it

        store = S3BlobStore(
            bucket=settings.s3_bucket,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
        )
        if create_bucket:
            store.ensure_bucket()
        return store
    return LocalBlobStore(settings.blobs_dir, settings.tmp_dir)


def open_hub(settings: Settings) -> Hub:
    """An existing hub's database and storage as they are, for tools that must not change them (`csghub
    doctor`): no folders or secret key made, no migrations run, no bucket created, no listeners."""
    engine = make_engine(settings.effective_database_url)
    return Hub(
        settings=settings, sessions=make_sessionmaker(engine), blobs=build_blob_store(settings, create_bucket=False)
    )


def build_hub(settings: Settings, *, run_migrations: bool = True) -> Hub:
    settings = prepare_data_dir(settings)
    engine = make_engine(settings.effective_database_url)
    if run_migrations:
        migrate(engine)
    hub = Hub(
        settings=settings,
        sessions=make_sessionmaker(engine),
        blobs=build_blob_store(settings),
        **_sign_in_providers(settings),
    )
    hub.compute.make_runner = lambda kind, address: build_runner(settings, kind, address)
    hub.ref_listeners.append(conversions.on_ref_update)
    hub.ref_listeners.append(space_lifecycle.on_ref_update)
    hub.ref_listeners.append(scan_pipeline.on_ref_update)
    hub.ref_listeners.append(pulls.on_ref_update)
    hub.write_checks.append(scan_guard.refuse_dangerous)
    hub.repo_delete_listeners.append(space_lifecycle.on_repo_delete)
    hub.repo_event_listeners.append(webhook_events.on_repo_event)
    hub.repo_event_listeners.append(notify.on_repo_event)
    hub.person_event_listeners.append(notify.on_person_event)
    hub.compute.launch_env["space"] = space_settings.launch_env
    hub.missing.append(mirror_proxy.PullThrough())
    hub.compute.claimants.append(lambda: conversions.running_keys(hub))
    hub.compute.claimants.append(lambda: finetune_runs.running_keys(hub))
    hub.compute.claimants.append(lambda: mirror_scheduler.running_keys(hub))
    if settings.metrics_enabled:
        hub.metrics.add_collector(DatabaseCollector(hub.sessions))
    return hub


def build_runner(settings: Settings, kind: str, address: str) -> Runner:
    """The runner of a compute cluster: this machine's processes, or a Ray cluster (its client is
    imported only by hubs that register one)."""
    if kind == "ray":
        from csghub.runtime.ray import RayRunner, hub_namespace

        # One driver per cluster, each with its own log.
        log = settings.compute_dir / "logs" / f"ray-driver-{hashlib.sha256(address.encode()).hexdigest()[:8]}.log"
        return RayRunner(address, namespace=hub_namespace(settings.secret_key), driver_log=log)
    from csghub.runtime.local import LocalProcessRunner

    return LocalProcessRunner(settings.compute_dir)


def _sign_in_providers(settings: Settings) -> dict[str, Any]:
    """LDAP and OpenID Connect settings checked now, so a typo stops the start rather than a sign-in."""
    found: dict[str, Any] = {}
    try:
        if settings.ldap_url:
            from csghub.services.identity.ldap_login import LdapConfig

            found["ldap"] = LdapConfig(
                url=settings.ldap_url,
                user_base=settings.ldap_user_base,
                bind_dn=settings.ldap_bind_dn,
                bind_password=settings.ldap_bind_password,
                user_filter=settings.ldap_user_filter,
                group_base=settings.ldap_group_base,
                start_tls=settings.ldap_start_tls,
                ca_file=settings.ldap_ca_file,
            )
        if settings.oidc_issuer:
            from csghub.services.identity.oidc_login import OidcConfig, OidcProviderCache

            found["oidc"] = OidcConfig(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret,
                scopes=tuple(settings.oidc_scopes.split()),
                username_claim=settings.oidc_username_claim,
                groups_claim=settings.oidc_groups_claim,
            )
            found["oidc_cache"] = OidcProviderCache()
    except ValueError as exc:
        raise ConfigError(f"Sign-in settings are invalid: {exc}") from None
    return found
