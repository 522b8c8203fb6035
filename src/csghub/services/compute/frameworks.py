"""Runtime frameworks: named, versioned package sets compute work runs in, which ones fit a model, and
their builds on this hub (a batch job of the local runner running `python -m csghub.runtime.environments`
with the hub's own interpreter; state absent -> building -> ready | failed, its log readable)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from csghub.core.errors import EntryNotFound, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import ComputeTier, RuntimeFramework, utcnow
from csghub.runtime.base import Environment, Handle, ProcessSpec, ProcessState, Runner, WorkKind
from csghub.services.context import Hub
from csghub.services.permissions import SITE, Action, Actor, authorize
from csghub.services.repositories import files
from csghub.services.repositories.repos import get_repo

# What each engine serves; a model fits an engine when it is for one of these tasks.
CHAT_TASKS = frozenset({"text-generation", "text2text-generation", "conversational"})
EMBEDDING_TASKS = frozenset({"feature-extraction", "sentence-similarity"})
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class FrameworkView:
    id: int
    name: str
    version: str
    engine: str  # "transformers" | "embeddings" | "vllm"
    needs_gpu: bool
    tasks: tuple[str, ...]
    state: str  # "absent" | "building" | "ready" | "failed" | "disabled"
    reason: str
    enabled: bool
    packages: tuple[str, ...] = ()


def framework_view(row: RuntimeFramework) -> FrameworkView:
    return FrameworkView(
        id=row.id,
        name=row.name,
        version=row.version,
        engine=row.engine,
        needs_gpu=row.needs_gpu,
        tasks=tuple(json.loads(row.tasks or "[]")),
        state=row.state if row.enabled else "disabled",
        reason=row.reason,
        enabled=row.enabled,
        packages=tuple(json.loads(row.packages or "[]")),
    )


def list_frameworks(hub: Hub, actor: Actor) -> list[FrameworkView]:
    with hub.db() as session:
        rows = session.scalars(select(RuntimeFramework).order_by(RuntimeFramework.id)).all()
        return [framework_view(r) for r in rows if r.enabled or actor.is_admin]


def get_framework(hub: Hub, framework_id: int) -> FrameworkView:
    with hub.db() as session:
        row = session.get(RuntimeFramework, framework_id)
        if row is None:
            raise NotFound(f"Runtime framework #{framework_id} does not exist", code="FrameworkNotFound")
        return framework_view(row)


def find_framework(hub: Hub, name_or_id: str) -> FrameworkView:
    with hub.db() as session:
        row = session.scalar(
            select(RuntimeFramework).where(RuntimeFramework.name == name_or_id).order_by(RuntimeFramework.id.desc())
        )
        if row is None and name_or_id.isdigit():
            row = session.get(RuntimeFramework, int(name_or_id))
        if row is None:
            raise NotFound(f"Runtime framework '{name_or_id}' does not exist", code="FrameworkNotFound")
        return framework_view(row)


def model_tasks(config: Mapping[str, Any] | None, card: Mapping[str, Any]) -> frozenset[str]:
    """What a model is for, from its card's pipeline_tag (or library) and else its config's architectures."""
    tag = card.get("pipeline_tag")
    if isinstance(tag, str) and tag:
        return frozenset({tag})
    if card.get("library_name") == "sentence-transformers":
        return frozenset({"feature-extraction"})
    if not config:
        return frozenset()
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    if any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")) for a in architectures):
        return frozenset({"text-generation"})
    if any(a.endswith("Model") for a in architectures):
        return frozenset({"feature-extraction"})
    return frozenset()


def fits(framework: FrameworkView, tasks: Iterable[str], *, gpus_available: bool) -> bool:
    """Whether a framework can serve a model for these tasks here (GPU frameworks only with GPU tiers)."""
    if not framework.enabled or (framework.needs_gpu and not gpus_available):
        return False
    return bool(set(framework.tasks) & set(tasks))


def _read_json(snapshot: files.Snapshot, path: str) -> dict[str, Any] | None:
    try:
        entry = files.get_entry(snapshot, path)
    except EntryNotFound:
        return None
    if entry.lfs is not None or entry.size > MAX_CONFIG_BYTES:
        return None
    try:
        value = json.loads(files.read_small_file(snapshot, entry))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def tasks_of_model(hub: Hub, actor: Actor, repo_id: RepoId, revision: str | None) -> frozenset[str]:
    repo = get_repo(hub, actor, RepoType.MODEL, repo_id)
    snapshot = files.at_revision(hub, actor, repo, revision)
    return model_tasks(_read_json(snapshot, "config.json"), repo.card_data)


def gpus_available(hub: Hub) -> bool:
    with hub.db() as session:
        return (
            session.scalar(select(ComputeTier.id).where(ComputeTier.gpus > 0, ComputeTier.enabled.is_(True)))
            is not None
        )


def frameworks_for_model(hub: Hub, actor: Actor, repo_id: RepoId, revision: str | None) -> list[FrameworkView]:
    tasks = tasks_of_model(hub, actor, repo_id, revision)
    gpus = gpus_available(hub)
    return [f for f in list_frameworks(hub, actor) if fits(f, tasks, gpus_available=gpus)]


def environment_of(hub: Hub, framework: FrameworkView) -> Environment:
    """The framework's package set, with its interpreter once built on this machine."""
    environment = Environment(framework.name, framework.version, framework.packages)
    python = env_dir(hub, environment) / "bin" / "python"
    if framework.state == "ready" and python.exists():
        return Environment(framework.name, framework.version, framework.packages, str(python))
    return environment


def env_dir(hub: Hub, environment: Environment) -> Path:
    return hub.settings.runtimes_path / environment.key


def is_built(hub: Hub, environment: Environment) -> bool:
    return (env_dir(hub, environment) / ".ready").exists()


def set_enabled(hub: Hub, actor: Actor, framework_id: int, enabled: bool) -> FrameworkView:
    authorize(actor, Action.MANAGE, SITE)
    with hub.db() as session:
        row = session.get(RuntimeFramework, framework_id)
        if row is None:
            raise NotFound(f"Runtime framework #{framework_id} does not exist", code="FrameworkNotFound")
        row.enabled = enabled
        row.updated_at = utcnow()
        return framework_view(row)


def request_build(hub: Hub, framework_id: int, *, again: bool = False) -> FrameworkView:
    """Ask the supervisor to build it (absent or failed ones; `again` also rebuilds a ready one)."""
    with hub.db() as session:
        row = session.get(RuntimeFramework, framework_id)
        if row is None:
            raise NotFound(f"Runtime framework #{framework_id} does not exist", code="FrameworkNotFound")
        if row.needs_gpu and not gpus_available(hub):
            raise InvalidArgument(f"'{row.name}' needs a GPU and this hub has no GPU tier; it is not built here")
        if row.state in ("absent", "failed") or (again and row.state == "ready"):
            row.state, row.reason, row.build_handle, row.updated_at = "building", "", "", utcnow()
        return framework_view(row)


def admin_build(hub: Hub, actor: Actor, framework_id: int) -> FrameworkView:
    authorize(actor, Action.MANAGE, SITE)
    return request_build(hub, framework_id, again=True)


def build_spec(hub: Hub, framework: FrameworkView) -> ProcessSpec:
    environment = Environment(framework.name, framework.version, framework.packages)
    # The hub's own interpreter runs the build: it needs csghub, not the environment being built.
    builder = Environment("csghub-builder", "1", (), sys.executable)
    argv = [sys.executable, "-m", "csghub.runtime.environments", "build", framework.name]
    argv += ["--version", framework.version, *[a for p in framework.packages for a in ("--package", p)]]
    return ProcessSpec(
        key=f"build-{environment.key}",
        kind=WorkKind.BATCH,
        argv=tuple(argv),
        environment=builder,
        env={"CSGHUB_RUNTIMES_DIR": str(hub.settings.runtimes_path)},
    )


def handle_of(text: str) -> Handle | None:
    return Handle(**json.loads(text)) if text else None


def handle_text(handle: Handle) -> str:
    return json.dumps(
        {"runner": handle.runner, "key": handle.key, "ref": handle.ref, "host": handle.host, "port": handle.port}
    )


def build_log(hub: Hub, actor: Actor, framework_id: int, offset: int = 0) -> bytes:
    authorize(actor, Action.MANAGE, SITE)
    from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, runner_for

    with hub.db() as session:
        row = session.get(RuntimeFramework, framework_id)
        if row is None:
            raise NotFound(f"Runtime framework #{framework_id} does not exist", code="FrameworkNotFound")
        handle = handle_of(row.build_handle)
    return runner_for(hub, LOCAL_CLUSTER_ID).read_log(handle, offset) if handle else b""


def tail_text(data: bytes, lines: int = 8) -> str:
    """The last lines of a log, for a reason or an event."""
    text = data.decode("utf-8", "replace").strip().splitlines()
    return "\n".join(text[-lines:])


def check_builds(hub: Hub) -> None:
    """One supervisor pass over the builds: start the requested ones, record how the running ones ended."""
    from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, runner_for

    with hub.db() as session:
        rows = session.scalars(select(RuntimeFramework).where(RuntimeFramework.state == "building")).all()
        pending = [(r.id, framework_view(r), r.build_handle) for r in rows]
    if not pending:
        return
    runner = runner_for(hub, LOCAL_CLUSTER_ID)
    for framework_id, framework, handle_json in pending:
        environment = Environment(framework.name, framework.version, framework.packages)
        handle = handle_of(handle_json)
        state, reason, new_handle = "building", "", handle_json
        if handle is None:
            if is_built(hub, environment):
                state = "ready"
            else:
                new_handle = handle_text(runner.start(build_spec(hub, framework)))
        else:
            status = runner.status(handle)
            if status.state is not ProcessState.RUNNING:
                ok = status.exit_code == 0 and is_built(hub, environment)
                state = "ready" if ok else "failed"
                if not ok:
                    tail = tail_text(log_tail(runner, handle))
                    reason = f"build failed ({status.detail or f'exit {status.exit_code}'}): {tail}"
        with hub.db() as session:
            row = session.get(RuntimeFramework, framework_id)
            if row is not None and row.state == "building":
                row.state, row.reason, row.build_handle, row.updated_at = state, reason, new_handle, utcnow()


def log_tail(runner: Runner, handle: Handle, size: int = 8192) -> bytes:
    """The end of a process's log (runners have no size call: read on in steps, keep the last bytes)."""
    offset, tail, step = 0, b"", 1 << 20
    while chunk := runner.read_log(handle, offset, step):
        offset += len(chunk)
        tail = (tail + chunk)[-size:]
        if len(chunk) < step:
            break
    return tail


def sync_built(hub: Hub) -> None:
    """At start: what the runtimes directory holds says which frameworks are ready (another hub sharing
    it may have built them, or someone removed them)."""
    with hub.db() as session:
        for row in session.scalars(select(RuntimeFramework)).all():
            built = is_built(hub, environment_of(hub, framework_view(row)))
            if row.state in ("absent", "ready") and (row.state == "ready") != built:
                row.state, row.updated_at = ("ready" if built else "absent"), utcnow()
