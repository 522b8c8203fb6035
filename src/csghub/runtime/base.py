"""The Runner port: what services/compute needs from a place that runs processes, and the values it
passes and gets back. One implementation per backend, chosen per cluster: LocalProcessRunner
(runtime/local.py: child processes of the hub) and RayRunner (runtime/ray.py: actors for services,
Ray Jobs for batch work). Runners start, watch and stop processes; deciding what should run, health
checks, restarts and state machines belong to services/compute, which calls these methods from
worker threads (they block)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from csghub.core.errors import ServiceUnavailable

# In a ProcessSpec's argv and env, replaced by the runner: the port a service must listen on (chosen
# free on the node that runs it) and the address it must bind.
PORT = "{port}"
HOST = "{host}"
# argv[0] naming the environment's own interpreter, wherever the runner made it.
PYTHON = "python"


class WorkKind(StrEnum):
    SERVICE = "service"  # runs until stopped, answers HTTP on its port (an endpoint replica, a space)
    BATCH = "batch"  # runs to an exit status (an environment build, a fine-tune, a conversion)


class ProcessState(StrEnum):
    RUNNING = "running"  # alive (whether it answers yet is for the caller's health check to say)
    EXITED = "exited"  # ended by itself or by stop(); exit_code says how
    LOST = "lost"  # the runner no longer knows it (its node or cluster went away, the pid was reused)


@dataclass(frozen=True, slots=True)
class Environment:
    """A runtime framework's package set, the place its work runs in. The local runner runs argv[0]
    `python` as the interpreter that runtime/environments.py built for it (`python_path`); Ray gets the
    same packages as the runtime environment's pip list, or `python_path` as its py_executable when
    the cluster shares this machine's disk."""

    name: str  # "transformers"
    version: str  # "1"
    packages: tuple[str, ...]  # pip requirement strings
    python_path: str | None = None  # set once built on this machine
    # Run in order with the environment's python after the one `pip install`, each an argument list
    # (("-m", "pip", "uninstall", "-y", "torchvision"),): repairs no requirement string can express.
    after_install: tuple[tuple[str, ...], ...] = ()
    # A layer (a space's requirements.txt): `packages` are installed on top of this built environment,
    # whose packages the layer's interpreter also sees (runtime/environments.py builds it).
    base: Environment | None = None

    @property
    def key(self) -> str:
        """Names the built environment by what it is made of, not what it is called: frameworks with the
        same packages and steps on the same Python (transformers and embeddings) share one build. A
        layer's name is its base's plus its own packages."""
        made: list[object] = [sorted(self.packages), sys.version_info[:2]]
        if self.after_install:  # absent from the key when empty, so existing builds keep their names
            made.append([list(step) for step in self.after_install])
        if self.base is not None:
            made.append({"base": self.base.key})
        made_of = json.dumps(made)
        python = "".join(str(part) for part in sys.version_info[:2])
        return f"py{python}-{hashlib.sha256(made_of.encode()).hexdigest()[:12]}"

    @property
    def all_packages(self) -> tuple[str, ...]:
        """Every requirement of this environment, its bases' first: what a runner that installs the
        packages itself (Ray's pip runtime_env on another machine) must install."""
        below = self.base.all_packages if self.base is not None else ()
        return (*below, *self.packages)


@dataclass(frozen=True, slots=True)
class Resources:
    cpus: float = 1.0
    memory_mb: int = 2048
    gpus: int = 0
    gpu_type: str = ""


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    key: str  # unique among everything the hub runs: "endpoint-12-r0-3" (record, replica, attempt)
    kind: WorkKind
    argv: tuple[str, ...]  # PYTHON as argv[0] for the environment's interpreter; PORT/HOST replaced
    environment: Environment
    resources: Resources = field(default_factory=Resources)
    env: Mapping[str, str] = field(default_factory=dict)  # added to a minimal base (no hub secrets)


@dataclass(frozen=True, slots=True)
class Handle:
    """What a runner needs to find a process again, also after the hub restarts (stored as JSON)."""

    runner: str  # "local" | "ray"
    key: str  # the ProcessSpec's key
    ref: str  # the backend's own id: "pid:start-time" locally, an actor or job name on Ray
    host: str = ""  # where a service listens
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_text(self) -> str:
        return json.dumps(
            {"runner": self.runner, "key": self.key, "ref": self.ref, "host": self.host, "port": self.port}
        )

    @classmethod
    def from_text(cls, text: str) -> Handle | None:
        return cls(**json.loads(text)) if text else None


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    state: ProcessState
    exit_code: int | None = None
    detail: str = ""  # why, in words, for events: "killed by signal 9", "node died"


class RunnerError(ServiceUnavailable):
    """A runner could not do what was asked (the cluster is unreachable, the process did not start)."""

    code = "RunnerUnavailable"


class Runner(Protocol):
    name: str

    def start(self, spec: ProcessSpec) -> Handle:
        """Launch; returns once the process exists (not once it answers)."""
        ...

    def status(self, handle: Handle) -> ProcessStatus: ...

    def stop(self, handle: Handle, *, grace: float = 10.0) -> None:
        """SIGTERM (or the backend's equivalent), then kill after `grace` seconds; a no-op for a process
        that has already ended or is unknown."""
        ...

    def read_log(self, handle: Handle, offset: int = 0, limit: int = 1 << 20) -> bytes:
        """Up to `limit` bytes of the process's combined stdout and stderr from `offset`; b"" past the end."""
        ...

    def running(self) -> list[Handle]:
        """Every process this runner started (in this or an earlier life of the hub) that still runs."""
        ...

    def close(self) -> None:
        """Release connections; processes keep running (stop them first to end them)."""
        ...
