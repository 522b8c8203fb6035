"""Fixtures: live servers on loopback (one per test module unless a test asks for its own).

Set CSGHUB_TEST_POSTGRES=postgresql://user@127.0.0.1:5432/postgres to run every server on a fresh
PostgreSQL database instead of SQLite.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium
from tests.support.live import LiveHub, kill_replicas_left_in, server_env
from tests.support.ray_cluster import RayCluster, ray_cluster_in_namespace
from tests.support.tiny_models import shared_runtimes_dir

PG_ADMIN_URL = os.environ.get("CSGHUB_TEST_POSTGRES", "")


@functools.cache
def _migrated_template() -> str:
    """A database this test process migrated to the newest revision once (tests/integration/test_migrations.py
    checks the migrations themselves): each test hub starts on a copy, which its own start then finds
    current, rather than running every migration again (about a second of CPU per hub, and some 130 hubs
    per leg on two cores). Its PostgreSQL database's name, or its SQLite file."""
    from csghub.db.engine import make_engine, migrate

    if PG_ADMIN_URL:
        import psycopg

        name = f"csghub_template_{secrets.token_hex(6)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url, template = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", name
    else:
        folder = Path(tempfile.mkdtemp(prefix="csghub-template-"))
        atexit.register(shutil.rmtree, folder, True)
        url, template = f"sqlite:///{folder / 'csghub.db'}", str(folder / "csghub.db")
    engine = make_engine(url)
    migrate(engine)
    if not PG_ADMIN_URL:
        with engine.connect() as conn:  # the whole database in its one file, nothing left in the WAL
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
    return template


def fresh_database_url(*, migrated: bool = True) -> str:
    """A new database on the test PostgreSQL server, migrated to the newest revision (or empty), or '' to
    use SQLite."""
    if not PG_ADMIN_URL:
        return ""
    import psycopg

    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    name = f"csghub_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def start_hub(data_dir: Path, extra_env: dict[str, str] | None = None, **options: Any) -> LiveHub:
    """A live hub on its own new database (PostgreSQL when the suite runs on it, else SQLite), migrated."""
    env = server_env(extra_env)
    # Every test hub builds runtime environments into one shared folder: built once per run, reused.
    env.setdefault("CSGHUB_RUNTIMES_DIR", str(shared_runtimes_dir()))
    if "CSGHUB_DATABASE_URL" not in env:
        database_url = fresh_database_url()
        if database_url:
            env["CSGHUB_DATABASE_URL"] = database_url
        elif not (data_dir / "csghub.db").exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_migrated_template(), data_dir / "csghub.db")
    return LiveHub(data_dir, env, **options).start()


LiveHubFactory = Callable[..., LiveHub]


@pytest.fixture
def live_hub_factory(tmp_path: Path) -> Iterator[LiveHubFactory]:
    started: list[LiveHub] = []

    def make(extra_env: dict[str, str] | None = None, *, port: int = 0) -> LiveHub:
        hub = start_hub(tmp_path / f"hub{len(started)}", extra_env, port=port)
        started.append(hub)
        return hub

    yield make
    for hub in started:
        hub.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """One hub for a test module; tests keep apart by creating their own users and repos."""
    data_dir = tmp_path_factory.mktemp("live") / "data"
    hub = start_hub(data_dir)
    yield hub
    hub.stop()
    kill_replicas_left_in(data_dir)  # a space's app or a replica that a test started and left running


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A Ray head of the module's own, in a loopback-only network namespace that the module's thread
    (and so every process it starts from then on: hubs, drivers) enters until the module ends."""
    with ray_cluster_in_namespace() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module."""
    with chromium() as started:
        yield started


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that wait on an engine first, then those that move bytes or drive a browser, then the rest:
    xdist hands whole modules to its workers (--dist loadfile) in collection order, and a long module begun
    near the end would keep one worker busy while the others have nothing left to do."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("engine_bound"):
            return 0
        return 1 if item.get_closest_marker("transport_bound") else 2

    items.sort(key=rank)  # stable: a module's tests keep their order, and modules stay whole


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test's report ends with the tail of each live hub's log: a 500 seen by a client is
    explained by the traceback there, and CI keeps nothing else of a run."""
    report: pytest.TestReport = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, LiveHub) and value.log_path is not None and value.log_path.exists():
                tail = value.log_path.read_text(errors="replace").splitlines()[-80:]
                report.sections.append((f"live hub log {value.log_path.name} (last 80 lines)", "\n".join(tail)))
    return report
