"""A real Ray head for the tests, alone in a network namespace that has only loopback.

Ray's dashboard probes cloud metadata addresses and reports usage even when told not to (see
/work/shared/research/serving-and-ray.md); in a namespace without a route those attempts fail at once
and nothing the cluster opens is reachable from the machine's other interfaces. The namespace is held by
a `sleep` started under `unshare --net`. The test process enters it with setns(2) for the module's
duration, so everything it starts from then on (the Ray head, a hub, a driver) lives there too and its
clients reach them on 127.0.0.1; leaving restores the namespace the process had.

The cluster is stopped by the PIDs of the processes in that namespace, never by `ray stop`, which stops
every Ray process on the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.live import LiveHub, server_env
from tests.support.waiting import wait_until

CLONE_NEWNET = 0x40000000
START_TIMEOUT = 180.0  # a bound: `ray start` with the dashboard takes 7-11 s on a quiet 2-core machine
STOP_GRACE = 10.0
START_ATTEMPTS = 2

# What every Ray process (head, CLI, driver) needs here: loopback kept as the node address (Ray would
# otherwise swap 127.0.0.1 for the machine's routable address), no usage reports, nothing checked online.
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _namespace_inode(pid: int | str) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


@dataclass
class LoopbackNamespace:
    """A network namespace with only `lo`, up, held by tests/support/netns_holder.py, which ends every
    process in it (and removes `folders`) when closed, or when this test process dies however it dies.
    `entered()` moves the calling thread into it."""

    holder: subprocess.Popen[bytes]
    _left: int = -1  # while entered: the namespace the thread came from

    @classmethod
    def create(cls, folders: tuple[Path, ...] = ()) -> LoopbackNamespace:
        argv = ["unshare", "--net", "--", sys.executable, str(Path(__file__).with_name("netns_holder.py"))]
        holder = subprocess.Popen([*argv, *map(str, folders)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert holder.stdout is not None
        line = holder.stdout.readline()  # until it says so, /proc/PID/ns/net may still be the old one
        if line.strip() != b"up":
            holder.kill()
            holder.wait()
            raise RuntimeError(f"could not make a network namespace (unshare, ip): {line!r}")
        return cls(holder)

    @property
    def path(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    @property
    def inode(self) -> int:
        return _namespace_inode(self.holder.pid)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        inside = os.open(self.path, os.O_RDONLY)
        try:
            _setns(inside)
            self._left = original
            try:
                yield
            finally:
                self._left = -1
                _setns(original)
        finally:
            os.close(inside)
            os.close(original)

    @contextlib.contextmanager
    def outside(self) -> Iterator[None]:
        """Back in the host namespace for a moment (to reach a service there, such as the test database)."""
        assert self._left >= 0, "not inside the namespace"
        inside = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(self._left)
            try:
                yield
            finally:
                _setns(inside)
        finally:
            os.close(inside)

    def pids(self) -> list[int]:
        """Every process in the namespace but its holder and this test process."""
        inode, own = self.inode, {self.holder.pid, os.getpid()}
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in own:
                with contextlib.suppress(OSError):
                    if _namespace_inode(entry) == inode:
                        found.append(int(entry))
        return found

    def close(self) -> None:
        """End everything in the namespace (the holder's job), then the namespace itself."""
        try:  # closing its stdin is the signal
            said = self.holder.communicate(timeout=STOP_GRACE * 3)[0].decode().strip()
        except subprocess.TimeoutExpired:
            self.holder.kill()
            self.holder.wait()
            said = "the holder did not finish"
        if said != "clean":
            raise RuntimeError(f"processes left in the test's network namespace: {said}")


def free_port() -> int:
    """A port free in the calling thread's network namespace."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayStartTimedOut(RuntimeError):
    """`ray start` gave up waiting for its own raylet."""


@dataclass
class RayCluster:
    """A Ray head on 127.0.0.1 inside `namespace` (entered by the calling thread while it starts)."""

    namespace: LoopbackNamespace
    temp_dir: Path
    gcs_port: int = 0
    dashboard_port: int = 0
    log_path: Path | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def env(self) -> dict[str, str]:
        """The settings a process talking to this cluster needs (the hub, a driver, the `ray` CLI)."""
        return {**RAY_ENV, "RAY_USAGE_STATS_REPORT_URL": f"http://127.0.0.1:{self.ports['closed']}/"}

    def start(self, num_cpus: int = 2) -> RayCluster:
        """`ray start` of a head; once more after Ray's own 30 s wait for its raylet ran out (a hard-coded
        bound in ray/_private/node.py that a 2-core machine under a whole test suite can pass), with what
        the failed start left ended by its PIDs."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return self._start_once(num_cpus)
            except RayStartTimedOut:
                if attempt == START_ATTEMPTS:
                    raise
                self._end_leftovers()
        raise AssertionError("unreachable")

    def _end_leftovers(self) -> None:
        for pid in self.namespace.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not self.namespace.pids(), "the failed Ray start's processes to end", timeout=STOP_GRACE)
        for entry in self.temp_dir.iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    def _start_once(self, num_cpus: int) -> RayCluster:
        names = ("gcs", "dashboard", "client", "agent_http", "agent_grpc", "metrics", "node_manager")
        names += ("object_manager", "runtime_env_agent", "autoscaler_metrics", "dashboard_metrics", "closed")
        self.ports = {name: free_port() for name in names}
        self.gcs_port, self.dashboard_port = self.ports["gcs"], self.ports["dashboard"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "CSGHUB_", "HF_"))}
        env.update(self.env)
        # What Ray's workers and the services they start write to a temp dir lands in the cluster's own.
        env["TMPDIR"] = str(self.temp_dir / "tmp")
        (self.temp_dir / "tmp").mkdir(exist_ok=True)
        # As docs/compute.md advises: the Ray Client server's per-client child otherwise dies now and then.
        env["GRPC_ENABLE_FORK_SUPPORT"] = "false"
        env["AUTOSCALER_METRIC_PORT"] = str(self.ports["autoscaler_metrics"])
        env["DASHBOARD_METRIC_PORT"] = str(self.ports["dashboard_metrics"])
        ray = str(Path(sys.executable).with_name("ray"))
        argv = [ray, "start", "--head", "--disable-usage-stats", f"--num-cpus={num_cpus}", "--num-gpus=0"]
        argv += ["--node-ip-address=127.0.0.1", f"--temp-dir={self.temp_dir}", f"--port={self.gcs_port}"]
        argv += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}"]
        argv += [f"--ray-client-server-port={self.ports['client']}"]
        argv += [f"--dashboard-agent-listen-port={self.ports['agent_http']}"]
        argv += [f"--dashboard-agent-grpc-port={self.ports['agent_grpc']}"]
        argv += [f"--metrics-export-port={self.ports['metrics']}"]
        argv += [f"--node-manager-port={self.ports['node_manager']}"]
        argv += [f"--object-manager-port={self.ports['object_manager']}"]
        argv += [f"--runtime-env-agent-port={self.ports['runtime_env_agent']}"]
        assert self.log_path is not None
        with open(self.log_path, "wb") as log:
            done = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=START_TIMEOUT)
        if done.returncode != 0:
            said = self.log_path.read_text()
            error = RayStartTimedOut if "timed out during startup" in said else RuntimeError
            raise error(f"ray start failed ({done.returncode}):\n{said}")
        wait_until(self._jobs_api_ready, "the Ray dashboard's Jobs API", timeout=START_TIMEOUT, poll=0.2)
        return self

    def _jobs_api_ready(self) -> bool:
        # The dashboard answers before its agent on the head node registers; jobs need both.
        try:
            with httpx.Client(base_url=self.dashboard_url, timeout=5) as client:
                nodes = client.get("/api/v0/nodes")
                alive = nodes.status_code == 200 and any(
                    n.get("state") == "ALIVE" for n in nodes.json()["data"]["result"]["result"]
                )
                return alive and client.get("/api/jobs/").status_code == 200
        except (httpx.HTTPError, KeyError, ValueError):
            return False

    def memory_pss_mb(self) -> float:
        """Proportional set size of every process of the cluster (what it really costs the machine)."""
        total_kb = 0
        for pid in self.namespace.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
        return total_kb / 1024


@contextlib.contextmanager
def ray_cluster_in_namespace(num_cpus: int = 2) -> Iterator[RayCluster]:
    """A fresh namespace, entered by the calling thread, with a Ray head in it; all gone afterwards.

    Unix-socket paths are limited to 107 bytes, so Ray's temp dir sits right under /tmp."""
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    start_log = temp_dir.with_name(temp_dir.name + "-start.log")
    try:
        namespace = LoopbackNamespace.create(folders=(temp_dir,))
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    try:
        with namespace.entered():
            yield RayCluster(namespace, temp_dir, log_path=start_log).start(num_cpus)
    finally:
        namespace.close()
        start_log.unlink(missing_ok=True)


def hub_beside(cluster: RayCluster, data_dir: Path, extra_env: dict[str, str] | None = None) -> LiveHub:
    """A live hub in the cluster's namespace (started by the thread that entered it), on SQLite or on a
    fresh PostgreSQL database reached through its Unix socket (its TCP port is in the host namespace)."""
    from tests.conftest import PG_ADMIN_URL, fresh_database_url
    from tests.support.tiny_models import shared_runtimes_dir

    env = server_env({**cluster.env, **(extra_env or {})})
    env.setdefault("CSGHUB_RUNTIMES_DIR", str(shared_runtimes_dir()))
    if PG_ADMIN_URL:
        import psycopg

        with cluster.namespace.outside():
            url = fresh_database_url()
            with psycopg.connect(url) as conn:
                row = conn.execute("SHOW unix_socket_directories").fetchone()
        assert row is not None
        socket_dir = str(row[0]).split(",")[0].strip()
        user_and_host, _, database = url.removeprefix("postgresql://").rpartition("/")
        user, _, host_port = user_and_host.rpartition("@")
        port = host_port.rpartition(":")[2]
        env["CSGHUB_DATABASE_URL"] = f"postgresql://{user}@/{database}?host={socket_dir}&port={port}"
    return LiveHub(data_dir, env).start()
