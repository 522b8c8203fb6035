"""Runtime frameworks: named, versioned package sets compute work runs in, which ones fit a model, and
their builds on this hub (a batch job of the local runner running `python -m csghub.runtime.environments`
with the hub's own interpreter; state absent -> building -> ready | failed, its log readable)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import Conflict, EntryNotFound, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType, validate_name
from csghub.db.models import ComputeTier, RuntimeFramework, utcnow
from csghub.runtime import environments
from csghub.runtime import frameworks as builtin_frameworks
from csghub.runtime.base import Environment, Handle, ProcessSpec, ProcessState, Runner, RunnerError, WorkKind
from csghub.services.context import Hub
from csghub.services.permissions import SITE, Action, Actor, authorize
from csghub.services.repositories import files
from csghub.services.repositories.repos import get_repo

MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class FrameworkView:
    id: int
    name: str
    version: str
    engine: str  # "transformers" | "embeddings" | "vllm" | "jupyterlab" (serves no model)
    needs_gpu: bool
    tasks: tuple[str, ...]
    state: str  # "absent" | "building" | "ready" | "failed" | "disabled"
    reason: str
    enabled: bool
    packages: tuple[str, ...] = ()

    @property
    def purpose(self) -> str:
        """ "serve" (endpoints run on it) or "finetune" (it trains; never a deploy choice)."""
        return builtin_frameworks.purpose_of(self.engine)


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


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What decides which frameworks fit a model: its config.json (None without one) and card metadata."""

    config: Mapping[str, Any] | None
    card: Mapping[str, Any]
    # For an adapter (adapter_config.json, no config.json): the base model its card names; the facts
    # above are then the base's, which decide what can serve it.
    base: RepoId | None = None

    @property
    def tasks(self) -> frozenset[str]:
        return builtin_frameworks.model_tasks(self.config, self.card)


def fits(framework: FrameworkView, model: ModelFacts, *, gpus_available: bool) -> bool:
    """Whether a framework can serve the model here: enabled, GPU frameworks only with GPU tiers, and the
    built-in ones by their own rules (runtime/frameworks.py); others by the tasks they list. A framework
    that trains (llamafactory) serves nothing."""
    if framework.purpose != builtin_frameworks.SERVE:
        return False
    if not framework.enabled or (framework.needs_gpu and not gpus_available):
        return False
    if framework.engine in builtin_frameworks.NOT_SERVING:  # a notebook's framework is never a deploy's
        return False
    known = builtin_frameworks.builtin(framework.name)
    if known is not None and known.version == framework.version:
        return builtin_frameworks.fits(known, model.config, model.card)
    return bool(set(framework.tasks) & model.tasks)


def trains(framework: FrameworkView, model: ModelFacts) -> bool:
    """Whether a framework can fine-tune the model: enabled, a training framework, and the model one it
    loads (runtime/frameworks.py)."""
    if not framework.enabled or framework.purpose != builtin_frameworks.FINETUNE:
        return False
    known = builtin_frameworks.builtin(framework.name)
    if known is not None and known.version == framework.version:
        return builtin_frameworks.trains(known, model.config, model.card)
    return False


def read_json_file(snapshot: files.Snapshot, path: str) -> dict[str, Any] | None:
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


def facts_of_model(hub: Hub, actor: Actor, repo_id: RepoId, revision: str | None) -> ModelFacts:
    repo = get_repo(hub, actor, RepoType.MODEL, repo_id)
    snapshot = files.at_revision(hub, actor, repo, revision)
    config = read_json_file(snapshot, "config.json")
    if config is None and read_json_file(snapshot, "adapter_config.json") is not None:
        base = base_model_of(repo.card_data)
        if base is None:
            raise InvalidArgument(f"{repo_id} is an adapter whose card names no base_model (ns/name on this hub)")
        found = facts_of_model(hub, actor, base, None)
        return ModelFacts(found.config, found.card, base)
    return ModelFacts(config, repo.card_data)


def base_model_of(card: Mapping[str, Any]) -> RepoId | None:
    value = card.get("base_model")
    value = value[0] if isinstance(value, list) and value else value
    if not isinstance(value, str) or value.count("/") != 1:
        return None
    return RepoId.parse(value)


def gpus_available(hub: Hub) -> bool:
    with hub.db() as session:
        return (
            session.scalar(select(ComputeTier.id).where(ComputeTier.gpus > 0, ComputeTier.enabled.is_(True)))
            is not None
        )


def frameworks_for_model(
    hub: Hub, actor: Actor, repo_id: RepoId, revision: str | None, *, purpose: str = builtin_frameworks.SERVE
) -> list[FrameworkView]:
    """The frameworks that can serve the model (purpose "serve") or fine-tune it ("finetune")."""
    model = facts_of_model(hub, actor, repo_id, revision)
    if purpose == builtin_frameworks.FINETUNE:
        return [f for f in list_frameworks(hub, actor) if trains(f, model)]
    gpus = gpus_available(hub)
    return [f for f in list_frameworks(hub, actor) if fits(f, model, gpus_available=gpus)]


def environment_of(hub: Hub, framework: FrameworkView) -> Environment:
    """The framework's package set, with its interpreter once built on this machine."""
    return environments.built(
        hub.settings.runtimes_path,
        builtin_frameworks.environment_of(framework.name, framework.version, framework.packages),
    )


def is_built(hub: Hub, environment: Environment) -> bool:
    return environments.is_built(hub.settings.runtimes_path, environment)


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
    environment = builtin_frameworks.environment_of(framework.name, framework.version, framework.packages)
    # The hub's own interpreter runs the build: it needs csghub, not the environment being built.
    builder = Environment("csghub-builder", "1", (), sys.executable)
    argv = [sys.executable, "-m", "csghub.runtime.environments", "build", framework.name]
    argv += ["--version", framework.version, *[a for p in framework.packages for a in ("--package", p)]]
    return ProcessSpec(
        key=f"build-{framework.name}-{environment.key}",
        kind=WorkKind.BATCH,
        argv=tuple(argv),
        environment=builder,
        env={"CSGHUB_RUNTIMES_DIR": str(hub.settings.runtimes_path)},
    )


def handle_of(text: str) -> Handle | None:
    return Handle.from_text(text)


def handle_text(handle: Handle) -> str:
    return handle.to_text()


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
        environment = builtin_frameworks.environment_of(framework.name, framework.version, framework.packages)
        handle = handle_of(handle_json)
        state, reason, new_handle = "building", "", handle_json
        if handle is None:
            if is_built(hub, environment):
                state = "ready"
            else:
                try:
                    new_handle = handle_text(runner.start(build_spec(hub, framework)))
                except RunnerError as exc:
                    state, reason = "failed", f"the build could not start: {exc.message}"
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
    """At start: the built-in records follow runtime/frameworks.py (its package sets may have changed
    with this release), and what the runtimes directory holds says which frameworks are ready (another
    hub sharing it may have built them, or someone removed them)."""
    with hub.db() as session:
        rows = {(r.name, r.version): r for r in session.scalars(select(RuntimeFramework)).all()}
        for known in builtin_frameworks.BUILTIN:
            row = rows.get((known.name, known.version))
            if row is None:
                row = RuntimeFramework(name=known.name, version=known.version, state="absent", reason="")
                row.enabled, row.build_handle = True, ""
                session.add(row)
                rows[(known.name, known.version)] = row
            row.engine, row.needs_gpu = known.engine, known.needs_gpu
            row.tasks, row.packages = json.dumps(list(known.tasks)), json.dumps(list(known.packages))
        session.flush()
        for row in rows.values():
            built = is_built(hub, environment_of(hub, framework_view(row)))
            if row.state in ("absent", "ready") and (row.state == "ready") != built:
                row.state, row.updated_at = ("ready" if built else "absent"), utcnow()


def build_now(hub: Hub, actor: Actor, framework_id: int) -> FrameworkView:
    """Build in this process, pip's output on stdout (`csghub admin framework build`): the record says
    building meanwhile, then ready or failed with the reason."""
    authorize(actor, Action.MANAGE, SITE)
    framework = get_framework(hub, framework_id)
    if framework.needs_gpu and not gpus_available(hub):
        raise InvalidArgument(f"'{framework.name}' needs a GPU and this hub has no GPU tier; it is not built here")
    _record(hub, framework_id, "building", "")
    environment = builtin_frameworks.environment_of(framework.name, framework.version, framework.packages)
    try:
        environments.ensure(environment, None, runtimes_dir=hub.settings.runtimes_path)
    except environments.BuildError as exc:
        _record(hub, framework_id, "failed", exc.message)
        raise
    _record(hub, framework_id, "ready", "")
    return get_framework(hub, framework_id)


def _record(hub: Hub, framework_id: int, state: str, reason: str) -> None:
    with hub.db() as session:
        row = session.get(RuntimeFramework, framework_id)
        if row is not None:
            row.state, row.reason, row.build_handle, row.updated_at = state, reason, "", utcnow()


ENGINES = ("transformers", "embeddings", "vllm")


def add_framework(
    hub: Hub,
    actor: Actor,
    name: str,
    *,
    version: str,
    engine: str,
    tasks: tuple[str, ...],
    packages: tuple[str, ...],
    needs_gpu: bool = False,
) -> FrameworkView:
    """A package set of the administrator's own, served by one of the engines' launchers; built the
    first time an endpoint needs it (or by `csghub admin framework build`)."""
    authorize(actor, Action.MANAGE, SITE)
    validate_name(name, what="framework name")
    if not version or len(version) > 50 or not version.replace(".", "").replace("-", "").isalnum():
        raise InvalidArgument(f"Invalid version '{version}': letters, digits, '.' and '-'")
    if engine not in ENGINES:
        raise InvalidArgument(f"Invalid engine '{engine}': expected one of {', '.join(ENGINES)}")
    if not tasks or not packages:
        raise InvalidArgument("A framework lists the tasks it serves and at least one package")
    for package in packages:
        if not package.strip() or package.startswith("-") or any(c in package for c in "\n\r\x00"):
            raise InvalidArgument(f"Invalid package '{package}': give a pip requirement such as 'name==1.0'")
    try:
        with hub.db() as session:
            row = RuntimeFramework(
                name=name,
                version=version,
                engine=engine,
                needs_gpu=needs_gpu,
                tasks=json.dumps(list(tasks)),
                packages=json.dumps(list(packages)),
                state="absent",
                reason="",
                enabled=True,
                build_handle="",
            )
            session.add(row)
            session.flush()
            return framework_view(row)
    except IntegrityError:
        raise Conflict(f"Runtime framework '{name}' version {version} already exists") from None
