"""What the spaces' door tests run: a hub served by uvicorn in this process on an ephemeral port (no
compute supervisor: the test writes a space's instance and replica rows the way the spaces service
does, so nothing else starts or stops them), and a small app standing in for a space's replica (its
headers, Server-Sent Events released one at a time by the test, a WebSocket echo, a tiny JSON route)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from csghub.app import create_app
from csghub.config import load_settings
from csghub.core.names import RepoId, RepoType
from csghub.db.models import ComputeInstance, ComputeReplica, ComputeTier, Namespace, RuntimeFramework
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.wiring import build_hub
from tests.support.live import server_env


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def serve(app: Any) -> Served:
    """`app` on 127.0.0.1 at a free port, in a thread of its own, until stop()."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(2000):
        if server.started:
            ready.set()
            break
        ready.wait(0.01)
    if not ready.is_set():
        raise RuntimeError("the server did not start")
    host, port = sock.getsockname()
    return Served(f"http://{host}:{port}", server, thread)


@dataclass
class InProcessHub:
    hub: Hub
    served: Served

    @property
    def url(self) -> str:
        return self.served.url


@contextmanager
def in_process_hub(data_dir: Path) -> Iterator[InProcessHub]:
    settings = load_settings(server_env(), None, {"data_dir": data_dir})
    hub = build_hub(settings)
    served = serve(create_app(settings, hub))
    try:
        yield InProcessHub(hub, served)
    finally:
        served.stop()


def put_space(
    hub: Hub,
    repo: str,
    *,
    sdk: str,
    state: str = "running",
    desired: str = "running",
    reason: str = "",
    url: str = "",
    stopped_as: str = "",
) -> int:
    """The space's instance (and its healthy replica at `url`) as the spaces service records them;
    replaced if there is one."""
    admin = Actor(user_id=0, is_admin=True)
    view = repos.get_repo(hub, admin, RepoType.SPACE, RepoId.parse(repo))
    commit = hub.git(view.id).resolve(view.default_branch)
    owner, name = repo.split("/")
    spec = {"sdk": sdk, "app_file": "app.py", "base_url": f"/apps/{owner}/{name}/", "static": sdk == "static"}
    if stopped_as:
        spec["stopped_as"] = stopped_as
    with hub.db() as session:
        for old in session.scalars(select(ComputeInstance).where(ComputeInstance.repo_id == view.id)):
            session.delete(old)
        session.flush()
        namespace = session.scalar(select(Namespace).where(Namespace.name_key == owner.lower()))
        tier = session.scalar(select(ComputeTier).where(ComputeTier.cluster_id == LOCAL_CLUSTER_ID))
        framework = session.scalar(select(RuntimeFramework).order_by(RuntimeFramework.id))
        assert namespace is not None and tier is not None and framework is not None
        row = ComputeInstance(
            kind="space",
            namespace_id=namespace.id,
            name=name,
            name_key=name.lower(),
            repo_id=view.id,
            revision=view.default_branch,
            commit=commit,
            cluster_id=LOCAL_CLUSTER_ID,
            tier_id=tier.id,
            framework_id=framework.id,
            visibility=view.resource.visibility,
            spec=json.dumps(spec),
            desired=desired,
            state=state,
            reason=reason,
        )
        session.add(row)
        session.flush()
        if url:
            session.add(ComputeReplica(instance_id=row.id, state="healthy", url=url, handle="{}"))
        instance_id = row.id
    hub.compute.routes.clear()
    return instance_id


@dataclass
class Replica:
    """A stand-in for a space's app under its base path."""

    base: str
    released: asyncio.Queue[str] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    seen: list[dict[str, str]] = field(default_factory=list)

    def release(self, event: str) -> None:
        """Let the SSE route write its next event (from the test's thread)."""
        assert self.loop is not None and self.released is not None
        self.loop.call_soon_threadsafe(self.released.put_nowait, event)

    def app(self) -> Starlette:
        async def headers(request: Request) -> Response:
            return JSONResponse({k: v for k, v in request.headers.items()})

        async def root(request: Request) -> Response:
            # Gradio's way: its root URL from the forwarded host and its root path.
            origin = f"{request.headers['x-forwarded-proto']}://{request.headers['x-forwarded-host']}"
            return JSONResponse({"root": origin + self.base.rstrip("/"), "file": f"{origin}{self.base}f.png"})

        async def ping(request: Request) -> Response:
            return JSONResponse({"pong": True})

        async def events(request: Request) -> Response:
            self.loop = asyncio.get_running_loop()
            self.released = asyncio.Queue()

            async def stream() -> AsyncIterator[bytes]:
                while True:
                    event = await self.released.get()  # type: ignore[union-attr]
                    yield f"data: {event}\n\n".encode()
                    if event == "end":
                        return

            return StreamingResponse(stream(), media_type="text/event-stream")

        async def cookies(request: Request) -> Response:
            answer = JSONResponse({"set": True})
            answer.set_cookie("csghub_session", "planted")
            answer.headers["clear-site-data"] = '"cookies"'
            answer.headers["access-control-allow-origin"] = "https://evil.example"
            answer.headers["access-control-allow-credentials"] = "true"
            return answer

        async def moved(request: Request) -> Response:
            return RedirectResponse(f"{self.base}ping", status_code=302)

        async def echo(socket: WebSocket) -> None:
            await socket.accept()
            self.seen.append({k: v for k, v in socket.headers.items()})
            async for text in socket.iter_text():
                await socket.send_text(f"echo: {text}")

        routes = [
            Route("/headers", headers),
            Route("/ping", ping),
            Route("/root", root),
            Route("/events", events),
            Route("/cookies", cookies),
            Route("/moved", moved),
            WebSocketRoute("/ws", echo),
        ]
        return Starlette(routes=[Mount(self.base.rstrip("/"), routes=routes)])
