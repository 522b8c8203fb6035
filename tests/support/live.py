"""A live `csghub serve` on an ephemeral loopback port, with helpers to create accounts."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from csghub.config import load_settings
from csghub.services.context import Hub
from csghub.services.identity import accounts, tokens
from csghub.wiring import build_hub

_LISTEN_RE = re.compile(r"listening on http://([\d.]+):(\d+)")
_SSH_RE = re.compile(r"SSH listening on port (\d+)")
STARTUP_TIMEOUT = 120.0  # a bound, not a wait: a loaded 2-core CI machine can take a minute to start a hub


@dataclass
class LiveHub:
    data_dir: Path
    env: dict[str, str]
    url: str = ""
    ssh_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _hub: Hub | None = field(default=None, repr=False)
    log_path: Path | None = None
    # 0 picks a free port; a fixed one is for peers that must know the URL first (an OIDC provider).
    port: int = 0
    # Its own process group, so `crash()` takes down the git programs and hooks it started too.
    own_group: bool = False

    def start(self) -> LiveHub:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "csghub",
                "serve",
                "--port",
                str(self.port),
                "--ssh-port",
                "0",
                "--data-dir",
                str(self.data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=self.own_group,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            log_text = self.log_path.read_text(errors="replace")
            match = _LISTEN_RE.search(log_text)
            ssh = _SSH_RE.search(log_text)
            if match and ssh:
                self.url = f"http://{match[1]}:{match[2]}"
                self.ssh_port = int(ssh[1])
                if self._healthy():
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"csghub serve exited:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        # Not left running: a hub that missed its start bound on a loaded machine otherwise holds its
        # database connections and CPU for the rest of the run.
        self.process.kill()
        self.process.wait()
        raise RuntimeError(f"csghub serve did not become healthy:\n{self.log_path.read_text()}")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def crash(self) -> None:
        """kill -9 the hub and every process it started, as a power cut or an OOM kill would."""
        assert self.process is not None and self.own_group
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @property
    def hub(self) -> Hub:
        """The same hub in this process (same database and storage), for arranging accounts."""
        if self._hub is None:
            settings = load_settings(self.env, None, {"data_dir": self.data_dir})
            self._hub = build_hub(settings, run_migrations=False)
        return self._hub

    def user(self, prefix: str = "u", *, scope: str = "write", password: str = "") -> tuple[str, str]:
        """A fresh user and a token for it."""
        name = f"{prefix}{secrets.token_hex(4)}"
        accounts.create_user(self.hub, name, email=f"{name}@example.com", password=password)
        return name, tokens.create_token(self.hub, name, scope=scope)[0]

    def host(self) -> str:
        return self.url.removeprefix("http://")

    def repo_dir(self, repo: str, repo_type: str = "model") -> Path:
        """The bare git directory of a repository on the server's disk."""
        from csghub.core.names import RepoId, RepoType
        from csghub.services.permissions import Actor
        from csghub.services.repositories import repos

        admin = Actor(user_id=0, is_admin=True)
        view = repos.get_repo(self.hub, admin, RepoType(repo_type), RepoId.parse(repo))
        return self.hub.repo_path(view.id)


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSGHUB_", "HF_"))}
    env["CSGHUB_LOG_LEVEL"] = "warning"
    # Every test client comes from 127.0.0.1: tests that refuse credentials on purpose must not lock
    # each other out. The throttling tests set their own limits.
    env["CSGHUB_LOGIN_MAX_FAILURES_PER_ADDRESS"] = "1000000"
    env.update(extra or {})
    return env


def kill_replicas_left_in(data_dir: Path) -> None:
    """Replicas a failed test left running under a hub's data folder: they outlive their hub on purpose
    (a restarted hub re-adopts them), so a module's teardown ends them after stopping the hub."""
    marker = str(data_dir / "compute")
    for process in psutil.process_iter(["cmdline", "cwd"]):
        named = any(marker in part for part in process.info["cmdline"] or [])
        # A space's app names no folder of the hub's: it runs in its checkout (`cwd` is None when unreadable).
        inside = (process.info["cwd"] or "").startswith(marker)
        if named or inside:
            process.kill()
