"""The Ray driver: a child process of the hub that holds the one connection to a Ray cluster and does
what RayRunner asks, one request at a time, over a socket pair.

Why a process of its own: a Ray driver ends its whole process when it loses the cluster for 60 s
("Failed to connect to GCS within 60 seconds ... The program will terminate", measured), Ray allows one
cluster per process, and the connection wants settings in its environment (loopback, no usage stats) that
the hub's own process must not carry. The hub never imports ray; this module is run as
`python -m csghub.runtime.ray_driver FD ADDRESS NAMESPACE` and answers each (method, kwargs) with
("ok", value) or ("error", kind, message), kind one of "lost" (no such process), "unreachable", "failed".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import socket
import sys
import urllib.request
from multiprocessing.connection import Connection
from typing import Any

ACTOR_PREFIX = "svc-"
CALL_WAIT = 5.0  # seconds an actor has to answer a question about its child


class DriverError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Driver:
    """What RayRunner's requests call, in the driver process."""

    def __init__(self, address: str, namespace: str) -> None:
        self.address = address
        self.namespace = namespace
        self.dashboard_url = ""
        self.pending: dict[str, Any] = {}  # actor name -> ObjectRef of its where(), until it answered

    def connect(self) -> dict[str, Any]:
        """Connect (checked first with a plain TCP connect: ray.init waits for ever on a dead address)."""
        import ray

        address = self.address
        if address.startswith(("http://", "https://")):
            self.dashboard_url = address
            address = _gcs_of_dashboard(address)
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise DriverError("unreachable", f"no Ray cluster answers at {address} ({exc})") from None
        context = ray.init(
            address=address,
            namespace=self.namespace,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        if not self.dashboard_url and context.dashboard_url:
            self.dashboard_url = f"http://{context.dashboard_url}"
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        return {
            "ray_version": ray.__version__,
            "dashboard_url": self.dashboard_url,
            "hostnames": sorted({str(n.get("NodeManagerHostname", "")) for n in nodes}),
            "addresses": sorted({str(n.get("NodeManagerAddress", "")) for n in nodes}),
        }

    def ping(self) -> bool:
        return True

    # Services: detached named actors hosting one child each.

    def start_service(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        python: str,
        placeholders: dict[str, str],
        resources: dict[str, Any],
        pip: list[str] | None,
    ) -> None:
        import ray

        from csghub.runtime import ray_actor

        # The node has no csghub: ship the actor's class by value rather than by module name.
        ray.cloudpickle.register_pickle_by_value(ray_actor)
        options: dict[str, Any] = {
            "name": name,
            "lifetime": "detached",
            "max_restarts": 0,
            "num_cpus": resources["cpus"],
            "memory": resources["memory_mb"] * 1024 * 1024,
        }
        if resources["gpus"]:
            options["num_gpus"] = resources["gpus"]
            if resources["gpu_type"]:
                options["accelerator_type"] = resources["gpu_type"]
        if pip:
            options["runtime_env"] = {"pip": {"packages": pip, "pip_check": False}}
        host: Any = ray.remote(ray_actor.ServiceHost)
        host = host.options(**options)
        try:
            actor = host.remote(name.removeprefix(ACTOR_PREFIX), argv, env, python, placeholders)
        except ValueError as exc:  # the name is taken
            raise DriverError("failed", str(exc)) from None
        self.pending[name] = actor.where.remote()

    def describe_service(self, name: str) -> dict[str, Any]:
        """{"state": "starting"} while Ray sets the actor up, else where it listens and how its child is."""
        import ray

        if name in self.pending:
            ready, _ = ray.wait([self.pending[name]], timeout=0)
            if not ready:
                return {"state": "starting"}
            ref = self.pending.pop(name)
            try:
                ray.get(ref)
            except Exception as exc:  # its runtime environment or __init__ failed: the actor is gone
                raise DriverError("failed", _first_lines(exc)) from None
        actor = self._actor(name)
        try:
            host, port, pid = ray.get(actor.where.remote(), timeout=CALL_WAIT)
            exit_code = ray.get(actor.poll.remote(), timeout=CALL_WAIT)
        except ray.exceptions.RayActorError as exc:
            raise DriverError("lost", _first_lines(exc)) from None
        except ray.exceptions.GetTimeoutError:  # created by an earlier driver and still being set up
            return {"state": "starting"}
        return {
            "state": "running" if exit_code is None else "exited",
            "host": host,
            "port": port,
            "pid": pid,
            "exit_code": exit_code,
        }

    def stop_service(self, name: str, grace: float) -> None:
        import ray

        self.pending.pop(name, None)
        try:
            actor = self._actor(name)
        except DriverError:
            return
        # The actor gone or stuck: killing it below ends its child too.
        with contextlib.suppress(ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            ray.get(actor.terminate.remote(grace), timeout=grace + CALL_WAIT)
        ray.kill(actor)

    def release_service(self, name: str, keep: int) -> dict[str, Any]:
        """A service whose process ended: its exit status and the end of its log, then its actor killed,
        which frees what it reserved on the cluster."""
        import ray

        actor = self._actor(name)
        try:
            exit_code = ray.get(actor.poll.remote(), timeout=CALL_WAIT)
            start, log = ray.get(actor.tail.remote(keep), timeout=CALL_WAIT)
        except ray.exceptions.RayActorError as exc:
            raise DriverError("lost", _first_lines(exc)) from None
        self.stop_service(name, grace=0)
        return {"exit_code": exit_code, "start": start, "log": bytes(log)}

    def read_service_log(self, name: str, offset: int, limit: int) -> bytes:
        import ray

        try:
            return bytes(ray.get(self._actor(name).read_log.remote(offset, limit), timeout=CALL_WAIT))
        except ray.exceptions.RayActorError as exc:
            raise DriverError("lost", _first_lines(exc)) from None

    def list_services(self) -> list[dict[str, Any]]:
        import ray

        found = []
        for name in ray.util.list_named_actors():
            if name.startswith(ACTOR_PREFIX) and name not in self.pending:
                try:
                    found.append({"name": name, **self.describe_service(name)})
                except (DriverError, ray.exceptions.GetTimeoutError):
                    continue  # went away meanwhile, or not set up yet
        return found

    def actor_death(self, name: str) -> dict[str, Any]:
        """How the actor named `name` ended: {"stopped": killed by a runner's stop, "reason": Ray's words}."""
        from ray.util.state import list_actors

        filters: list[tuple[str, str, str | bool | int | float]] = [
            ("name", "=", name),
            ("ray_namespace", "=", self.namespace),
            ("state", "=", "DEAD"),
        ]
        # Named explicitly: without an address Ray looks for "the" cluster on this machine and refuses
        # when it finds several (hubs, or test modules, each with their own).
        dead = list_actors(
            address=self.dashboard_url or None, filters=filters, detail=True, raise_on_missing_output=False
        )
        contexts = [(actor.death_cause or {}).get("actor_died_error_context", {}) for actor in dead]
        stopped = any(context.get("reason") == "RAY_KILL" for context in contexts)
        reasons = [str(context.get("error_message", "")).splitlines()[0] for context in contexts if context]
        return {"stopped": stopped, "reason": reasons[-1] if reasons else ""}

    def _actor(self, name: str) -> Any:
        import ray

        try:
            return ray.get_actor(name)
        except ValueError:
            raise DriverError("lost", f"no actor named {name} in this hub's Ray namespace") from None

    # Batch work: Ray Jobs.

    def _jobs(self) -> Any:
        from ray.job_submission import JobSubmissionClient

        if not self.dashboard_url:
            raise DriverError("failed", "the Ray cluster runs no dashboard, which its Jobs API needs")
        return JobSubmissionClient(self.dashboard_url)

    def submit_job(
        self, submission_id: str, argv: list[str], env: dict[str, str], resources: dict[str, Any], pip: list[str] | None
    ) -> None:
        runtime_env: dict[str, Any] = {"env_vars": env}
        if pip:
            runtime_env["pip"] = {"packages": pip, "pip_check": False}
        try:
            self._jobs().submit_job(
                entrypoint=shlex.join(argv),
                submission_id=submission_id,
                runtime_env=runtime_env,
                entrypoint_num_cpus=resources["cpus"],
                entrypoint_num_gpus=resources["gpus"] or None,
                entrypoint_memory=resources["memory_mb"] * 1024 * 1024,
                metadata={"csghub_namespace": self.namespace},
            )
        except RuntimeError as exc:
            raise DriverError("failed", _first_lines(exc)) from None

    def describe_job(self, submission_id: str) -> dict[str, Any]:
        try:
            info = self._jobs().get_job_info(submission_id)
        except RuntimeError as exc:
            raise DriverError("lost", _first_lines(exc)) from None
        return {"status": str(info.status.value), "exit_code": info.driver_exit_code, "message": info.message or ""}

    def stop_job(self, submission_id: str) -> None:
        with contextlib.suppress(RuntimeError):  # unknown or already ended: nothing to stop
            self._jobs().stop_job(submission_id)

    def read_job_log(self, submission_id: str, offset: int, limit: int) -> bytes:
        jobs = self._jobs()
        try:
            entrypoint = jobs.get_job_info(submission_id).entrypoint
            text = jobs.get_job_logs(submission_id)
        except RuntimeError as exc:
            raise DriverError("lost", _first_lines(exc)) from None
        # Ray writes its own lines first (setting up the runtime env, the entrypoint it runs): the log is
        # the process's output, after them.
        _, marker, output = text.partition(f"Running entrypoint for job {submission_id}: {entrypoint}\n")
        return (output if marker else text).encode()[offset : offset + limit]

    def list_jobs(self, prefix: str) -> list[str]:
        return [
            job.submission_id
            for job in self._jobs().list_jobs()
            if job.submission_id and job.submission_id.startswith(prefix) and job.status.value in {"PENDING", "RUNNING"}
        ]


def _gcs_of_dashboard(url: str) -> str:
    """The GCS address of the cluster whose dashboard is at `url`, for a head on this machine: the
    dashboard names the head's temp dir, where Ray keeps the address (`ray_current_cluster`)."""
    try:
        with urllib.request.urlopen(f"{url}/nodes?view=summary", timeout=10) as answer:
            summary = json.load(answer)["data"]["summary"]
        temp_dir = next(n["raylet"]["tempDir"] for n in summary if n.get("raylet", {}).get("isHeadNode"))
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise DriverError("unreachable", f"no Ray dashboard answers at {url} ({exc})") from None
    try:
        with open(os.path.join(temp_dir, "ray_current_cluster")) as found:
            return found.read().strip()
    except OSError:
        raise DriverError(
            "failed",
            f"the Ray cluster of {url} runs on another machine: register its Ray Client address"
            " (ray://host:10001) instead of its dashboard",
        ) from None


def _first_lines(exc: BaseException, count: int = 6) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return "\n".join(lines[:count]) or type(exc).__name__


def serve(conn: Connection, driver: Driver) -> None:
    """Answer requests until the hub closes its end."""
    while True:
        try:
            method, kwargs = conn.recv()
        except EOFError:
            return
        try:
            if method.startswith("_") or not hasattr(driver, method):
                raise DriverError("failed", f"unknown request {method}")
            conn.send(("ok", getattr(driver, method)(**kwargs)))
        except DriverError as exc:
            conn.send(("error", exc.kind, str(exc)))
        except Exception as exc:  # a process boundary: every Ray error goes back to the hub in words
            conn.send(("error", "failed", f"{type(exc).__name__}: {_first_lines(exc)}"))


def main(argv: list[str]) -> None:
    fd, address, namespace = int(argv[0]), argv[1], argv[2]
    with Connection(fd) as conn:
        serve(conn, Driver(address, namespace))


if __name__ == "__main__":
    main(sys.argv[1:])
