"""create_app(settings): the one place adapters (database, blob store) are built and routes mounted."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from csghub.api.metrics import router as metrics_router
from csghub.api.reference import mount_reference
from csghub.api.routes import mount_api
from csghub.config import Settings
from csghub.core.logs import AccessSink
from csghub.http import body_limits
from csghub.http import errors as api_errors
from csghub.http import openapi as api_schema
from csghub.http.bodies import BodyMemory
from csghub.http.health import HealthMiddleware
from csghub.http.observe import ObserveMiddleware
from csghub.http.ratelimit import RateLimitMiddleware
from csghub.http.routing import include_routes, index_routes
from csghub.services.compute import supervisor
from csghub.services.context import Hub
from csghub.services.datasets import conversions
from csghub.services.finetune import runs as finetune_runs
from csghub.services.mirrors import scheduler as mirror_scheduler
from csghub.services.repositories import downloads
from csghub.services.scanning import pipeline as scan_pipeline
from csghub.services.webhooks import deliveries as webhook_deliveries
from csghub.transport import gateway
from csghub.transport.app_relay import AppRelay
from csghub.transport.git_hooks import start_hook_listener
from csghub.transport.git_http import router as git_http_router
from csghub.transport.lfs_http import router as lfs_router
from csghub.transport.notebook_proxy import NotebookProxyMiddleware
from csghub.transport.space_proxy import SpaceProxyMiddleware
from csghub.transport.ssh import start_ssh_server
from csghub.transport.xet_http import router as xet_router
from csghub.transport.xet_http import store_router as xet_store_router
from csghub.web.render import error_page, render_error
from csghub.web.routes import mount_web
from csghub.web.security import SecurityHeadersMiddleware
from csghub.wiring import build_hub

log = logging.getLogger(__name__)
DOWNLOAD_FLUSH_SECONDS = 2.0


async def _flush_downloads(hub: Hub) -> None:
    """Write counted downloads every few seconds; a failure is logged and tried again next time."""
    while True:
        await asyncio.sleep(DOWNLOAD_FLUSH_SECONDS)
        try:
            await run_in_threadpool(downloads.flush, hub)
        except Exception:  # a background loop: log, never stop counting
            log.exception("writing download counts failed")


def _upload_origins(settings: Settings) -> tuple[str, ...]:
    """With S3 storage, portal pages send LFS parts straight to presigned S3 URLs."""
    if settings.storage != "s3":
        return ()
    if settings.s3_endpoint:
        parts = urlsplit(settings.s3_endpoint)
        return (f"{parts.scheme}://{parts.netloc}",)
    return ("https://*.amazonaws.com",)


def _own_url(host: str, port: int) -> str:
    """Where processes on this machine (endpoint replicas fetching weights) reach the hub."""
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def create_app(settings: Settings, hub: Hub | None = None, *, http_port: int | None = None) -> FastAPI:
    """The web application; with `http_port` (as `csghub serve` passes it) it also runs the SSH server."""
    hub = hub or build_hub(settings)
    endpoint_gateway = gateway.make_gateway(hub)
    app_relay = AppRelay()  # the notebooks' and the spaces' doors share one client
    access_sink = AccessSink()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_flush_downloads(hub))
        hooks = await start_hook_listener(hub)
        acceptor = None
        background: list[asyncio.Task[None]] = []
        if http_port is not None and settings.ssh_port >= 0:
            acceptor = await start_ssh_server(hub, http_port)
            _app.state.ssh_port = acceptor.get_port()  # the real one, also when the setting asked for any free port
            print(f"CSGHub SSH listening on port {acceptor.get_port()}", file=sys.stderr, flush=True)
        if http_port is not None:
            hub.compute.hub_url = _own_url(settings.host, http_port)
            hub.compute.supervisor = asyncio.create_task(supervisor.supervise(hub))
            background.append(asyncio.create_task(conversions.supervise(hub)))
            background.append(asyncio.create_task(finetune_runs.supervise(hub)))
            background.append(asyncio.create_task(mirror_scheduler.supervise(hub)))
            background.append(asyncio.create_task(webhook_deliveries.supervise(hub)))
            await run_in_threadpool(scan_pipeline.resume, hub)  # scans a restart cut short
        # What start-up built (modules, routes, models: some 230,000 objects) lives as long as the
        # process. Frozen, it is left out of every later full collection, each of which would otherwise
        # stall all requests for about 100 ms (benches/bench_request_overhead.py, p99).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if hub.compute.supervisor is not None:
                hub.compute.supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hub.compute.supervisor
                await run_in_threadpool(supervisor.shutdown, hub)
            hub.compute.close()
            if acceptor is not None:
                acceptor.close()
            hooks.close()
            flusher.cancel()
            await endpoint_gateway.aclose()
            await app_relay.aclose()
            await run_in_threadpool(downloads.flush, hub)
            hub.metrics.close()
            access_sink.flush()

    app = FastAPI(
        title="CSGHub",
        version="0.1.0",
        docs_url=None,  # mount_reference serves it from the hub, not a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.gateway = endpoint_gateway
    body_memory = BodyMemory(settings.max_body_memory)
    # Inside the rate limit and security headers (added after it), outside everything that reads a body.
    app.add_middleware(
        body_limits.BodyLimitMiddleware,
        rules=body_limits.body_rules(settings),
        default_limit=settings.max_json_body,
        timeout=float(settings.client_timeout),
        memory=body_memory,
    )
    api_errors.install(app, html_error=render_error, page_error=error_page)
    api_schema.install(app)
    app.add_middleware(SecurityHeadersMiddleware, upload_origins=_upload_origins(settings))
    # The endpoint gateway answers its own paths here, inside the rate limit (transport/gateway.py).
    bound = gateway.BodyBound(settings.max_json_body, float(settings.client_timeout), body_memory)
    app.add_middleware(gateway.GatewayMiddleware, hub=hub, gateway=endpoint_gateway, bound=bound)
    # Notebooks' JupyterLab (HTTP and WebSockets) through the hub, beside the gateway (transport/notebook_proxy.py).
    app.add_middleware(NotebookProxyMiddleware, hub=hub, relay=app_relay)
    # Spaces' apps (HTTP, SSE, WebSockets; static files) at /apps/..., sandboxed (transport/space_proxy.py).
    app.add_middleware(SpaceProxyMiddleware, hub=hub, relay=app_relay)
    if settings.rate_limit_per_token or settings.rate_limit_per_address:
        app.add_middleware(
            RateLimitMiddleware,
            per_token=settings.rate_limit_per_token,
            per_address=settings.rate_limit_per_address,
        )

    # LFS and git transports first: their paths end in .git/... and must win over resolve routes.
    include_routes(app, lfs_router)
    include_routes(app, xet_router)
    include_routes(app, xet_store_router)
    include_routes(app, git_http_router)
    mount_reference(app)
    if settings.metrics_enabled:
        include_routes(app, metrics_router)
    mount_api(app)
    mount_web(app)
    index_routes(app)
    # Request ids, metrics and the access log see every request but the probes'.
    app.add_middleware(
        ObserveMiddleware,
        metrics=hub.metrics if settings.metrics_enabled else None,
        access_log=settings.access_log,
        sink=access_sink,
    )
    app.add_middleware(HealthMiddleware)  # outermost of ours: a probe pays for nothing else
    # csghub-native (/api/v1) routes come with the csghub-sdk compatibility layer.
    return app
