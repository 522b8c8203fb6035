"""A PostgreSQL database for tests that need one whichever leg of the suite runs them.

On the PostgreSQL leg (CSGHUB_TEST_POSTGRES set) a fresh database on that server; otherwise a throwaway
cluster of its own (initdb in a temporary folder, on an ephemeral loopback port), stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import fresh_database_url


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    assert found, "PostgreSQL is not installed (.ci/run installs it)"
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A URL of an empty PostgreSQL database."""
    url = fresh_database_url(migrated=False)
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="csghub-pg-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if as_pg:
        shutil.chown(folder, "postgres")
    port = _free_port()
    pg = _pg_bin()
    run = {"check": True, "capture_output": True, "timeout": 60}
    subprocess.run([*as_pg, str(pg / "initdb"), "-D", f"{folder}/db", "-U", "postgres", "-A", "trust"], **run)  # type: ignore[call-overload]
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400"
    subprocess.run(
        [*as_pg, str(pg / "pg_ctl"), "-D", f"{folder}/db", "-l", f"{folder}/log", "-o", options, "-w", "start"], **run
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_pg, str(pg / "pg_ctl"), "-D", f"{folder}/db", "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)
