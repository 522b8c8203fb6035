"""RayRunner: compute work on a Ray cluster an administrator registered by address.

The address is one of what `ray start --head` prints: the GCS address `host:port` or the dashboard
`http://host:port` when the hub runs on a node of that cluster (the head on the hub's machine: the
dashboard leads to the GCS address Ray keeps in the head's temp dir), or `ray://host:port`, the Ray
Client server, for a cluster elsewhere. Ray Jobs use the dashboard, found from the cluster if not given.
Each hub works in a Ray namespace of its own, so hubs sharing a cluster never see each other's work.

- A service (an endpoint replica) is a detached named actor, `svc-<key>`, reserving the spec's CPUs,
  memory and GPUs; it starts the argv as its child on its node, with HOST and PORT filled in with the
  node's address and a free port there, and keeps the child's log on the node (runtime/ray_actor.py).
- Batch work is a Ray Job, `<namespace>-<key>`, whose entrypoint is the argv.
- Packages: when the environment was built on this machine and every node of the cluster is this
  machine, PYTHON is that environment's interpreter (nothing to install; measured: 1-2 s from actor
  creation to the child running); otherwise the environment's packages become the work's runtime_env
  pip list, which Ray installs on the node on first use and caches.

All Ray calls happen in a driver process of its own (runtime/ray_channel.py, runtime/ray_driver.py);
the hub process never imports ray. Every failure reaches callers as RunnerError (503) in words."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import re
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.runtime.base import (
    HOST,
    PORT,
    PYTHON,
    Handle,
    ProcessSpec,
    ProcessState,
    ProcessStatus,
    RunnerError,
    WorkKind,
)
from csghub.runtime.offline import minimal_env
from csghub.runtime.ray_channel import DriverChannel, Lost

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_ADDRESS = re.compile(r"(ray://|https?://)?(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})/?")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")
ACTOR_PREFIX = "svc-"
CALL_TIMEOUT = 60.0
# How long a service may take to be placed and start: an actor waits while the cluster has no room for
# it, and a pip runtime_env with torch takes minutes to install on a node the first time.
PLACE_TIMEOUT = 60.0
INSTALL_TIMEOUT = 900.0
KEPT_LOG = 1 << 20  # of a service that ended: the end of its log, for its events and readers
KEPT_ENDED = 64


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of a registered Ray address; InvalidArgument naming the forms it may take."""
    match = _ADDRESS.fullmatch(address.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise InvalidArgument(
            f"Invalid Ray address '{address}': give the cluster's GCS address host:port (as `ray start --head`"
            " prints it), its dashboard http://host:port, or its Ray Client address ray://host:port"
        )
    return match["host"].strip("[]"), int(match["port"])


def hub_namespace(secret_key: str) -> str:
    """The Ray namespace of one hub: the same across its restarts, another hub's never."""
    return f"csghub-{hashlib.sha256(b'ray-namespace:' + secret_key.encode()).hexdigest()[:16]}"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class RayRunner:
    name = "ray"

    def __init__(
        self,
        address: str,
        *,
        namespace: str,
        driver_log: Path | None = None,
        place_timeout: float = PLACE_TIMEOUT,
        install_timeout: float = INSTALL_TIMEOUT,
    ) -> None:
        host, _ = parse_address(address)
        env = minimal_env({"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"})
        if not is_loopback(host):
            # Only a cluster on loopback needs Ray kept there; elsewhere the driver's address must be routable.
            env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        self.address = address.strip().rstrip("/")
        self.namespace = namespace
        self._place_timeout = place_timeout
        self._install_timeout = install_timeout
        self._channel = DriverChannel(self.address, namespace, env, driver_log)
        self._exited: OrderedDict[str, Ended] = OrderedDict()  # key -> how it ended, newest last
        self._guard = threading.Lock()

    # -- the Runner port ---------------------------------------------------------------------------

    def start(self, spec: ProcessSpec) -> Handle:
        key = _checked_key(spec.key)
        if not spec.argv:
            raise InvalidArgument(f"'{key}' has nothing to run")
        python, pip = self._interpreter(spec)
        resources = {
            "cpus": spec.resources.cpus,
            "memory_mb": spec.resources.memory_mb,
            "gpus": spec.resources.gpus,
            "gpu_type": spec.resources.gpu_type,
        }
        if spec.kind is WorkKind.BATCH:
            return self._submit(spec, key, python, pip, resources)
        name = ACTOR_PREFIX + key
        placeholders = {"host": HOST, "port": PORT, "python": PYTHON}
        env = self._env(spec)
        self._call(
            "start_service",
            name=name,
            argv=list(spec.argv),
            env=env,
            python=python,
            placeholders=placeholders,
            resources=resources,
            pip=pip,
        )
        waited = self._install_timeout if pip else self._place_timeout
        deadline = time.monotonic() + waited
        while True:
            try:
                found = self._call("describe_service", name=name)
            except Lost as exc:
                raise RunnerError(f"Could not start '{key}' on Ray: {exc}") from None
            except RunnerError as exc:
                self._forget(name)
                raise RunnerError(f"Could not start '{key}' on Ray: {exc}") from None
            if found["state"] != "starting":
                return Handle(self.name, key, f"actor:{name}", found["host"], int(found["port"]))
            if time.monotonic() > deadline:
                self._forget(name)
                raise RunnerError(
                    f"'{key}' did not start on Ray within {waited:.0f} s: the cluster has no room for"
                    f" {spec.resources.cpus:g} CPUs and {spec.resources.memory_mb} MB"
                    + (f" and {spec.resources.gpus} GPUs" if spec.resources.gpus else "")
                    + (", or its runtime environment is still installing" if pip else "")
                )
            time.sleep(0.1)

    def status(self, handle: Handle) -> ProcessStatus:
        kind, name = _ref(handle)
        with self._guard:
            ended = self._exited.get(handle.key)
        if ended is not None:
            return ProcessStatus(ProcessState.EXITED, ended.exit_code, exit_words(ended.exit_code))
        try:
            if kind == "job":
                return _job_status(self._call("describe_job", submission_id=name))
            found = self._call("describe_service", name=name)
        except Lost as exc:
            return self._ended(name, str(exc)) if kind == "actor" else ProcessStatus(ProcessState.LOST, None, str(exc))
        if found["state"] == "starting":
            return ProcessStatus(ProcessState.RUNNING, None, "starting")
        if found["state"] == "running":
            return ProcessStatus(ProcessState.RUNNING)
        return self._release(handle.key, name)

    def stop(self, handle: Handle, *, grace: float = 10.0) -> None:
        kind, name = _ref(handle)
        if kind == "job":
            self._call("stop_job", submission_id=name)
            deadline = time.monotonic() + grace + 5.0  # Ray escalates to SIGKILL itself after 3 s
            while time.monotonic() < deadline and self.status(handle).state is ProcessState.RUNNING:
                time.sleep(0.1)
            return
        self._call("stop_service", timeout=CALL_TIMEOUT + grace, name=name, grace=grace)

    def read_log(self, handle: Handle, offset: int = 0, limit: int = 1 << 20) -> bytes:
        kind, name = _ref(handle)
        offset, limit = max(0, offset), max(0, limit)
        with self._guard:
            ended = self._exited.get(handle.key)
        if ended is not None:
            begin = max(0, offset - ended.start)
            return ended.log[begin : begin + limit]
        try:
            if kind == "job":
                return bytes(self._call("read_job_log", submission_id=name, offset=offset, limit=limit))
            return bytes(self._call("read_service_log", name=name, offset=offset, limit=limit))
        except Lost:
            return b""

    def running(self) -> list[Handle]:
        """Services whose actor is there, also one whose process ended while no runner watched: its
        actor holds the cluster's resources until status() sees it ended and releases it."""
        found = [
            Handle(
                self.name, item["name"].removeprefix(ACTOR_PREFIX), f"actor:{item['name']}", item["host"], item["port"]
            )
            for item in self._call("list_services")
        ]
        prefix = f"{self.namespace}-"
        for submission_id in self._call("list_jobs", prefix=prefix):
            found.append(Handle(self.name, submission_id.removeprefix(prefix), f"job:{submission_id}"))
        return found

    def close(self) -> None:
        self._channel.close()

    # -- inside ------------------------------------------------------------------------------------

    def _call(self, method: str, *, timeout: float = CALL_TIMEOUT, **kwargs: Any) -> Any:
        return self._channel.call(method, timeout, **kwargs)

    def _interpreter(self, spec: ProcessSpec) -> tuple[str, list[str] | None]:
        """(PYTHON's replacement, the runtime_env pip list): this machine's built environment when the
        whole cluster is this machine, else the packages for Ray to install ("" = the runtime env's own)."""
        environment = spec.environment
        if environment.python_path and Path(environment.python_path).exists() and self._cluster_is_here():
            return environment.python_path, None
        if spec.argv[0] == PYTHON and not environment.all_packages and not environment.python_path:
            raise RunnerError(f"The '{environment.name}' environment has neither packages nor an interpreter")
        return "", list(environment.all_packages) or None

    def _cluster_is_here(self) -> bool:
        self._call("ping")  # connects once, which fills in what the cluster is made of
        cluster = self._channel.cluster
        here = socket.gethostname()
        return all(is_loopback(a) for a in cluster["addresses"]) or set(cluster["hostnames"]) == {here}

    def _env(self, spec: ProcessSpec) -> dict[str, str]:
        """What the hub adds to the node's essentials: thread counts, no GPUs unless asked, the offline
        switches and the spec's own variables (placeholders are filled in on the node)."""
        extra = dict.fromkeys(THREAD_VARS, str(max(1, math.ceil(spec.resources.cpus))))
        if spec.resources.gpus == 0:
            extra["CUDA_VISIBLE_DEVICES"] = ""
        extra |= spec.env
        env = minimal_env(extra, base={})
        for inherited in ("PATH", "LANG"):  # the node's own, set there
            env.pop(inherited, None)
        return env

    def _submit(
        self, spec: ProcessSpec, key: str, python: str, pip: list[str] | None, resources: dict[str, Any]
    ) -> Handle:
        if any(PORT in arg or HOST in arg for arg in spec.argv):
            raise InvalidArgument(f"'{key}' is batch work: it gets no port to listen on")
        argv = list(spec.argv)
        if argv[0] == PYTHON:
            argv[0] = python or "python"  # in a pip runtime_env, `python` is that environment's
        submission_id = f"{self.namespace}-{key}"
        self._call(
            "submit_job", submission_id=submission_id, argv=argv, env=self._env(spec), resources=resources, pip=pip
        )
        return Handle(self.name, key, f"job:{submission_id}")

    def _ended(self, name: str, why: str) -> ProcessStatus:
        """A service whose actor is gone: stopped by a runner, or lost with its node."""
        death = self._call("actor_death", name=name)
        if death["stopped"]:
            return ProcessStatus(ProcessState.EXITED, None, "stopped")
        return ProcessStatus(ProcessState.LOST, None, death["reason"] or why)

    def _release(self, key: str, name: str) -> ProcessStatus:
        """An ended service gives its resources back to the cluster at once (a restart needs them): its
        exit status and the end of its log stay with this runner."""
        try:
            found = self._call("release_service", name=name, keep=KEPT_LOG)
        except Lost as exc:
            return self._ended(name, str(exc))
        ended = Ended(found["exit_code"], int(found["start"]), bytes(found["log"]))
        with self._guard:
            self._exited[key] = ended
            while len(self._exited) > KEPT_ENDED:
                self._exited.popitem(last=False)
        return ProcessStatus(ProcessState.EXITED, ended.exit_code, exit_words(ended.exit_code))

    def _forget(self, name: str) -> None:
        # The cluster is unreachable or the actor never came to be: nothing left to stop.
        with contextlib.suppress(RunnerError, Lost):
            self._call("stop_service", name=name, grace=1.0)


@dataclass(frozen=True, slots=True)
class Ended:
    exit_code: int | None
    start: int  # where `log` starts in the whole log
    log: bytes


def _ref(handle: Handle) -> tuple[str, str]:
    kind, _, name = handle.ref.partition(":")
    if handle.runner != RayRunner.name or kind not in ("actor", "job") or not name:
        raise InvalidArgument(f"Not a Ray process handle: {handle.ref!r}")
    return kind, name


def _job_status(found: dict[str, Any]) -> ProcessStatus:
    status = found["status"]
    if status in ("PENDING", "RUNNING"):
        return ProcessStatus(ProcessState.RUNNING, None, status.lower())
    code = found["exit_code"]
    if status == "STOPPED":
        return ProcessStatus(ProcessState.EXITED, code, "stopped")
    if status == "SUCCEEDED":
        return ProcessStatus(ProcessState.EXITED, 0 if code is None else code, "exited normally")
    detail = found["message"].splitlines()[0] if found["message"] else "failed"
    return ProcessStatus(ProcessState.EXITED, 1 if code is None else code, detail)


def exit_words(code: int | None) -> str:
    if code is None:
        return "exited (status unknown)"
    if code < 0:
        return f"killed by signal {-code}"
    return "exited normally" if code == 0 else f"exited with status {code}"


def _checked_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidArgument(f"Invalid process key {key!r}")
    return key
