"""The hub's end of the Ray driver process (runtime/ray_driver.py): started on first use, asked one
thing at a time over a socket pair with a bound on every answer, and started again after it died or
hung. Nothing here imports ray."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from csghub.runtime.base import RunnerError

CONNECT_TIMEOUT = 60.0
CONNECT_ATTEMPTS = 3
# Ray's Client server forks a server per client; now and then that child dies before it runs (a gRPC
# fork race in Ray's proxier, about one start in seven on a 2-core machine) and the client is told this.
# A new connection gets a new child, so it is worth asking again.
_TRANSIENT_CONNECT = "Starting Ray client server failed"


class Lost(Exception):
    """The driver says the process asked about does not exist (any more)."""


class DriverChannel:
    def __init__(self, address: str, namespace: str, env: Mapping[str, str], log_path: Path | None) -> None:
        self.address = address
        self.namespace = namespace
        self._env = dict(env)
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.cluster: dict[str, Any] = {}  # what connect() learnt: Ray version, dashboard, node hosts

    def call(self, method: str, timeout: float, **kwargs: Any) -> Any:
        with self._lock:
            if self._conn is None:
                self._connect()
            return self._ask(method, timeout, kwargs)

    def close(self) -> None:
        with self._lock:
            self._shut()

    def _connect(self) -> None:
        """A driver connected to the cluster; a driver whose connect failed is ended, so that the next
        call starts afresh rather than asking one that never joined."""
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                self._open()
                return
            except RunnerError as exc:
                self._shut()
                if attempt == CONNECT_ATTEMPTS or _TRANSIENT_CONNECT not in str(exc):
                    raise

    def _open(self) -> None:
        ours, theirs = socket.socketpair()
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115 - the child's
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "csghub.runtime.ray_driver", str(theirs.fileno()), self.address, self.namespace],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                pass_fds=(theirs.fileno(),),
            )
        except OSError as exc:
            ours.close()
            raise RunnerError(f"Could not start the Ray driver: {exc}") from None
        finally:
            theirs.close()
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        self._conn = Connection(ours.detach())
        self.cluster = self._ask("connect", CONNECT_TIMEOUT, {})

    def _ask(self, method: str, timeout: float, kwargs: Mapping[str, Any]) -> Any:
        conn = self._conn
        assert conn is not None
        try:
            conn.send((method, dict(kwargs)))
            if not conn.poll(timeout):
                self._shut()
                raise RunnerError(f"The Ray cluster at {self.address} did not answer within {timeout:.0f} s")
            reply = conn.recv()
        except (EOFError, OSError):
            code = self._shut()
            raise RunnerError(f"The Ray driver for {self.address} ended (exit status {code})") from None
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        if kind == "lost":
            raise Lost(message)
        if kind == "unreachable":
            self._shut()
        raise RunnerError(f"Ray cluster {self.address}: {message}")

    def _shut(self) -> int | None:
        """End the driver (it may be stuck in Ray); its exit status."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        process, self._process = self._process, None
        if process is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return process.wait(timeout=5)  # it exits by itself once its end of the socket closes
        process.kill()
        return process.wait()
