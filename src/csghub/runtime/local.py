"""LocalProcessRunner: compute work as child processes of the hub, on this machine.

Each process runs in its own session (so a stop reaches everything it started, and it outlives a restart
of the hub), writes stdout and stderr to `<compute_dir>/logs/<key>.log`, and has a JSON record in
`<compute_dir>/processes/<key>.json` (pid, start time, port, limits, and once known its exit status).
After a restart, `running()` re-adopts a record's process when a process with that pid and that same
start time is still alive; a process that ended while no hub was watching is "exited (status unknown)",
the OS having given its status to someone else.

Limits: CPUs by affinity (plus the thread-count variables math libraries read), memory by watching the
resident size of the process and its children on each `status()` (the supervisor polls about once a
second) and killing it, with the reason, when it goes over: RLIMIT_AS is unusable with torch, and this
machine's cgroups are v1, not writable per process."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from csghub.core import request_ids
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
from csghub.runtime.processes import (
    LOOPBACK,
    count_gpus,
    exit_words,
    free_port,
    has_ended,
    is_alive,
    memory_over,
    pin_cpus,
    process_tree,
    signal_all,
    wait_leader,
)

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")
RECORD_KEEP = 7 * 86400.0  # records of ended processes are kept this long (status() reads exit codes from them)


class LocalProcessRunner:
    name = "local"

    def __init__(self, compute_dir: Path, *, gpu_count: int | None = None) -> None:
        """`gpu_count`: the GPUs work may be given, numbered from 0; by default those the NVIDIA driver lists."""
        self._gpu_count = count_gpus() if gpu_count is None else gpu_count
        self._logs = compute_dir / "logs"
        self._records = compute_dir / "processes"
        self._work = compute_dir / "work"
        self._home = compute_dir / "home"
        for folder in (self._logs, self._records, self._work, self._home):
            folder.mkdir(parents=True, exist_ok=True)
        # Processes started by this object: only their parent can learn how they ended.
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # -- the Runner port ---------------------------------------------------------------------------

    def start(self, spec: ProcessSpec) -> Handle:
        key = _checked_key(spec.key)
        with self._lock:
            existing = self._read(key)
            if existing is not None and existing.get("exit_code") is None and is_alive(existing):
                raise RunnerError(f"'{key}' is already running (pid {existing['pid']})")
            port = free_port() if spec.kind is WorkKind.SERVICE else 0
            argv, env = self._command(spec, port)
            cpus = self._choose_cpus(spec.resources.cpus)
            gpus = self._choose_gpus(spec.resources.gpus)
            if gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
            log_path = self._logs / f"{key}.log"
            # Its own working directory: relative paths of two jobs never meet.
            workdir = self._work / key
            workdir.mkdir(exist_ok=True)
            try:
                with open(log_path, "wb") as log:
                    child = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=workdir,
                        start_new_session=True,
                    )
            except OSError as exc:
                raise RunnerError(f"Could not start '{key}': {exc.strerror or exc}") from None
            self._children[key] = child
            if cpus:
                pin_cpus(child.pid, cpus)
            try:
                started = psutil.Process(child.pid).create_time()
            except psutil.NoSuchProcess:
                started = 0.0  # ended already; status() learns how from the child itself
            record = {"key": key, "kind": spec.kind.value, "pid": child.pid, "create_time": started, "port": port}
            record |= {"host": LOOPBACK if port else "", "cpus": cpus, "gpus": gpus}
            record |= {"memory_mb": spec.resources.memory_mb}
            record |= {"started_at": time.time(), "exit_code": None, "detail": ""}
            self._write(record)
        return Handle(self.name, key, f"{child.pid}:{started!r}", record["host"], port)

    def status(self, handle: Handle) -> ProcessStatus:
        with self._lock:
            record = self._read(_checked_key(handle.key))
            if record is None or record["pid"] != _pid_of(handle):
                return ProcessStatus(ProcessState.LOST, None, "this runner has no record of it")
            return self._status(record)

    def stop(self, handle: Handle, *, grace: float = 10.0) -> None:
        with self._lock:
            record = self._read(_checked_key(handle.key))
            if record is None or record["pid"] != _pid_of(handle) or record.get("exit_code") is not None:
                return
            if self._status(record).state is not ProcessState.RUNNING:
                return
            members = process_tree(record)
            child = self._child_of(record)
            signal_all(record["pid"], members, signal.SIGTERM)
        # Waited for without the lock: other processes' status() must not stall behind a slow stop.
        code = wait_leader(record, child, grace)
        leftovers = [p for p in members if not has_ended(p)]
        if code is None or leftovers:
            signal_all(record["pid"], members, signal.SIGKILL)
            code = wait_leader(record, child, 5.0) if code is None else code
        with self._lock:
            if (self._read(record["key"]) or {}).get("pid") == record["pid"]:
                self._finish(record, code, "stopped" if code is not None else "stopped (status unknown)")

    def read_log(self, handle: Handle, offset: int = 0, limit: int = 1 << 20) -> bytes:
        try:
            with open(self._logs / f"{_checked_key(handle.key)}.log", "rb") as log:
                log.seek(max(0, offset))
                return log.read(max(0, limit))
        except FileNotFoundError:
            return b""

    def running(self) -> list[Handle]:
        found = []
        with self._lock:
            for record in self._all_records():
                if record.get("exit_code") is None and self._status(record).state is ProcessState.RUNNING:
                    ref = f"{record['pid']}:{record['create_time']!r}"
                    found.append(Handle(self.name, record["key"], ref, record["host"], record["port"]))
        return found

    def close(self) -> None:
        with self._lock:
            self._children.clear()

    # -- inside ------------------------------------------------------------------------------------

    def _status(self, record: dict[str, Any]) -> ProcessStatus:
        if record.get("exit_code") is not None or record.get("detail"):
            return ProcessStatus(ProcessState.EXITED, record.get("exit_code"), record["detail"])
        child = self._child_of(record)
        if child is not None:
            code = child.poll()
            if code is not None:
                return self._finish(record, code, exit_words(code))
        elif not is_alive(record):
            return self._finish(record, None, "exited (status unknown)")
        over = memory_over(record)
        if over:
            signal_all(record["pid"], process_tree(record), signal.SIGKILL)
            return self._finish(record, wait_leader(record, self._child_of(record), 5.0), over)
        return ProcessStatus(ProcessState.RUNNING)

    def _finish(self, record: dict[str, Any], code: int | None, detail: str) -> ProcessStatus:
        # What the process left behind in its session (servers it forked) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record["pid"], signal.SIGKILL)
        record |= {"exit_code": code, "detail": detail, "ended_at": time.time()}
        self._write(record)
        self._children.pop(record["key"], None)
        return ProcessStatus(ProcessState.EXITED, code, detail)

    def _child_of(self, record: dict[str, Any]) -> subprocess.Popen[bytes] | None:
        """The Popen of a process this object started (only its parent learns how it ended)."""
        child = self._children.get(record["key"])
        return child if child is not None and child.pid == record["pid"] else None

    def _command(self, spec: ProcessSpec, port: int) -> tuple[list[str], dict[str, str]]:
        def fill(text: str) -> str:
            return text.replace(PORT, str(port)).replace(HOST, LOOPBACK)

        argv = [fill(a) for a in spec.argv]
        if not argv:
            raise InvalidArgument(f"'{spec.key}' has nothing to run")
        extra: dict[str, str] = {"HF_HOME": str(self._home / "huggingface")}
        if argv[0] == PYTHON:
            if not spec.environment.python_path:
                raise RunnerError(f"The '{spec.environment.name}' environment is not built on this machine")
            argv[0] = spec.environment.python_path
            # The environment's own programs (`transformers`, `vllm`) come first on PATH.
            bin_dir = str(Path(spec.environment.python_path).parent)
            extra["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
        threads = str(max(1, math.ceil(spec.resources.cpus)))
        extra |= dict.fromkeys(THREAD_VARS, threads)
        extra["CUDA_VISIBLE_DEVICES"] = ""  # none unless it asked for some (then start() names them)
        extra |= {k: fill(v) for k, v in spec.env.items()}
        if request_id := request_ids.current_id():  # started on behalf of a request: its log can name it
            extra[request_ids.ENV_VAR] = request_id
        return argv, minimal_env(extra)

    def _choose_cpus(self, cpus: float) -> list[int]:
        """The least used CPUs for a process wanting `cpus`; [] (no pinning) when it may use them all."""
        available = sorted(os.sched_getaffinity(0))
        wanted = max(1, math.ceil(cpus))
        if wanted >= len(available):
            return []
        load = dict.fromkeys(available, 0)
        for record in self._all_records():
            if record.get("exit_code") is None:
                for cpu in record.get("cpus") or ():
                    load[cpu] = load.get(cpu, 0) + 1
        return sorted(sorted(available, key=lambda c: (load[c], c))[:wanted])

    def _choose_gpus(self, gpus: int) -> list[int]:
        """Free GPUs, each given to one process at a time (two engines on one GPU run out of its memory)."""
        if gpus <= 0:
            return []
        holders = [r for r in self._all_records() if r.get("exit_code") is None and is_alive(r)]
        taken = {gpu for record in holders for gpu in record.get("gpus") or ()}
        free = [g for g in range(self._gpu_count) if g not in taken]
        if len(free) < gpus:
            raise RunnerError(f"It needs {gpus} GPU(s); {len(free)} of this machine's {self._gpu_count} are free")
        return free[:gpus]

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            value = json.loads((self._records / f"{key}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _write(self, record: dict[str, Any]) -> None:
        path = self._records / f"{record['key']}.json"
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_text(json.dumps(record))
        os.replace(partial, path)

    def _all_records(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self._records.glob("*.json")):
            record = self._read(path.stem)
            if record is None:
                continue
            ended = record.get("ended_at")
            if ended is not None and time.time() - ended > RECORD_KEEP:
                path.unlink(missing_ok=True)
                shutil.rmtree(self._work / path.stem, ignore_errors=True)
                continue
            yield record


def _checked_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidArgument(f"Invalid process key {key!r}")
    return key


def _pid_of(handle: Handle) -> int:
    try:
        return int(handle.ref.split(":", 1)[0])
    except ValueError:
        return -1
