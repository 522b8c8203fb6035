"""An instance's own environment layered on its framework's: a space's requirements.txt installed over
its SDK's environment (runtime/frameworks.space_environment). Built in a thread of the hub while the
supervisor goes on supervising, pip's output in the instance's build log; the built layer is reused by
every instance with the same SDK and requirements (the key says what it is made of)."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from pathlib import Path

from sqlalchemy import select

from csghub.db.models import ComputeInstance
from csghub.runtime import environments
from csghub.runtime import frameworks as builtin_frameworks
from csghub.runtime.base import Environment, RunnerError
from csghub.services.compute.launch import Launch, space_dir
from csghub.services.context import Hub

log = logging.getLogger(__name__)
RUNNING = ""  # hub.compute.layer_builds' value while a build runs; else the failure's message


def build_log(hub: Hub, instance_id: int) -> Path:
    return space_dir(hub, instance_id) / "build.log"


def layer_of(launch: Launch) -> Environment:
    return builtin_frameworks.space_environment(launch.sdk, launch.requirements)


def ready(hub: Hub, launch: Launch) -> tuple[Environment | None, str]:
    """(the layer, with its interpreter) once built; (None, "") while its build runs, started here when
    none does; (None, pip's error) when the build failed (said once: the next call builds again)."""
    runtimes = hub.settings.runtimes_path
    environment = layer_of(launch)
    if environments.is_built(runtimes, environment):
        environments.mark_used(runtimes, environment)
        return environments.built(runtimes, environment), ""
    key = environment.key
    with hub.compute.guard:
        outcome = hub.compute.layer_builds.get(key)
        if outcome is None:
            hub.compute.layer_builds[key] = RUNNING
        elif outcome != RUNNING:
            del hub.compute.layer_builds[key]
            return None, outcome
    if outcome is None:
        path = build_log(hub, launch.instance_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"installing requirements.txt over the {launch.sdk} environment\n".encode())
        args = (hub, environment, path)
        threading.Thread(target=_build, args=args, name=f"layer-{key}", daemon=True).start()
    return None, ""


def _build(hub: Hub, environment: Environment, log_path: Path) -> None:
    try:
        environments.ensure(environment, log_path, runtimes_dir=hub.settings.runtimes_path)
        outcome = None
    except environments.BuildError as exc:
        outcome = exc.message or "pip failed"
    except Exception as exc:  # a thread's boundary: the instance must learn it failed
        log.exception("building environment %s failed", environment.key)
        outcome = f"{type(exc).__name__}: {exc}"
    with hub.compute.guard:
        if outcome is None:
            hub.compute.layer_builds.pop(environment.key, None)
        else:
            hub.compute.layer_builds[environment.key] = outcome


def remove(hub: Hub, environment: Environment) -> None:
    """A factory rebuild: the layer goes (never the SDK's shared environment), built again on next use;
    left alone while its build runs (that build is the fresh one)."""
    with hub.compute.guard:
        if hub.compute.layer_builds.get(environment.key) == RUNNING:
            return
        hub.compute.layer_builds.pop(environment.key, None)
    runtimes = hub.settings.runtimes_path
    (environments.env_dir(runtimes, environment) / environments.READY).unlink(missing_ok=True)
    shutil.rmtree(environments.env_dir(runtimes, environment), ignore_errors=True)


def collect_unused(hub: Hub, *, every: float = 3600.0) -> list[str]:
    """Remove the layers no space's record names any more once unused for space_layer_keep_seconds
    (called by the supervisor's sweep; does its work at most once per `every` seconds)."""
    keep_for = hub.settings.space_layer_keep_seconds
    now = time.monotonic()
    if not keep_for or (hub.compute.layers_swept_at and now - hub.compute.layers_swept_at < every):
        return []
    hub.compute.layers_swept_at = now
    # The built-in frameworks that are layers themselves (notebooks and the SDKs, over transformers) stay.
    keep = {f.environment.key for f in builtin_frameworks.BUILTIN if f.base is not None}
    with hub.db() as session:
        for text in session.scalars(select(ComputeInstance.spec).where(ComputeInstance.kind == "space")):
            spec = json.loads(text or "{}")
            requirements = tuple(str(r) for r in spec.get("requirements") or ())
            if not requirements or spec.get("static"):
                continue
            try:
                keep.add(builtin_frameworks.space_environment(str(spec.get("sdk")), requirements).key)
            except RunnerError:  # a line its push was refused for: it names no layer
                continue
    removed = environments.remove_unused_layers(hub.settings.runtimes_path, keep, float(keep_for))
    if removed:
        log.info("removed %d unused requirements layers: %s", len(removed), ", ".join(removed))
    return removed
