"""The Ray actor that hosts one service on a node: it picks the node's address and a free port there,
starts the service's argv as its child, writes the child's output to a log on the node, and answers
questions about it. Ray ships this class to the node by value (the node has no csghub installed), so the
module imports only the standard library and nothing from the hub.

The actor outlives the driver that created it (detached), so a hub restart finds it again by name."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Passed on from the node's own environment to the service; everything else comes from the hub's spec.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
INHERITED_PREFIXES = ("PIP_",)


class ServiceHost:
    def __init__(self, key: str, argv: list[str], env: dict[str, str], python: str, placeholders: dict[str, str]):
        import ray  # on the node, inside the actor's worker

        self.host = ray.util.get_node_ip_address()
        with socket.socket() as probe:
            probe.bind((self.host, 0))
            self.port = int(probe.getsockname()[1])
        # The environment's interpreter: the one the hub built on this same machine, or else the one Ray
        # made for this actor's runtime environment (its pip list).
        python = python or sys.executable
        values = {placeholders["host"]: self.host, placeholders["port"]: str(self.port)}

        def fill(text: str) -> str:
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            return text

        argv = [fill(arg) for arg in argv]
        work = os.path.join(tempfile.gettempdir(), "csghub-ray")
        child_env = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}
        child_env.setdefault("LANG", "C.UTF-8")
        child_env["HF_HOME"] = os.path.join(work, "home", "huggingface")
        if argv and argv[0] == placeholders["python"]:
            argv[0] = python
            # The environment's own programs (`transformers`, `vllm`) come first on PATH.
            system_path = child_env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
            child_env["PATH"] = os.pathsep.join([os.path.dirname(python), system_path])
        child_env.update({k: fill(v) for k, v in env.items()})
        os.makedirs(os.path.join(work, "logs"), exist_ok=True)
        self.log_path = os.path.join(work, "logs", f"{key}-{os.getpid()}.log")
        with open(self.log_path, "wb") as log:
            # Its own session: a stop reaches whatever the service started too.
            self.child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                cwd=work,
                start_new_session=True,
            )

    def where(self) -> tuple[str, int, int]:
        return self.host, self.port, self.child.pid

    def poll(self) -> int | None:
        """The child's exit status once it ended (negative: killed by that signal), else None."""
        return self.child.poll()

    def read_log(self, offset: int, limit: int) -> bytes:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read(limit)

    def tail(self, keep: int) -> tuple[int, bytes]:
        """The last `keep` bytes of the log and the offset they start at."""
        with open(self.log_path, "rb") as log:
            start = max(0, log.seek(0, os.SEEK_END) - keep)
            log.seek(start)
            return start, log.read(keep)

    def terminate(self, grace: float) -> int | None:
        """SIGTERM the child's process group, SIGKILL it after `grace` seconds; the child's exit status."""
        if self.child.poll() is None:
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        # Also when the leader ended by itself: what it left running in its session goes with it.
        self._signal(signal.SIGKILL)
        self.child.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.log_path)
        return self.child.returncode

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, sig)
