"""Figures read from the database when Prometheus scrapes: how many compute records, fine-tune jobs,
mirror syncs and dataset conversions are in each state, how many wait (queue depth), what the blob store
holds (from the LFS and Xet tables: no walk of the disk or the bucket), and the connection pool's use.

A few COUNT ... GROUP BY queries per scrape (every 15 s or so); a failing database turns into
`csghub_database_up 0`, never a failed scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from csghub.db.models import (
    ComputeInstance,
    ComputeReplica,
    DatasetConversion,
    FinetuneJob,
    LfsObject,
    MirrorTask,
    Repo,
    RuntimeFramework,
    XetXorb,
)

log = logging.getLogger(__name__)

# (metric, help, model): a gauge per record kind, labelled by state.
_STATES: tuple[tuple[str, str, Any], ...] = (
    ("csghub_compute_replicas", "Compute replicas (processes of instances) by state.", ComputeReplica),
    ("csghub_finetune_jobs", "Fine-tune jobs by state.", FinetuneJob),
    ("csghub_mirror_tasks", "Mirror sync tasks by state.", MirrorTask),
    ("csghub_dataset_conversions", "Dataset viewer conversions (to Parquet) by state.", DatasetConversion),
    ("csghub_runtime_environments", "Runtime environments (package sets) by build state.", RuntimeFramework),
)
# Work that waits for a slot: the queue each kind of job sits in before it runs.
_QUEUES: tuple[tuple[str, Any], ...] = (
    ("finetune", FinetuneJob),
    ("mirror", MirrorTask),
    ("dataset_conversion", DatasetConversion),
)


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> Iterator[Metric]:
        return iter(())  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("csghub_database_up", "1 when the last scrape could read the database.")
        try:
            found = list(self._from_database())
        except SQLAlchemyError as exc:
            log.warning("metrics: reading the database failed: %s", exc)
            found = []
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
        yield up
        yield from found
        yield from self._pool()

    def _from_database(self) -> Iterator[Metric]:
        with self.sessions() as session:
            instances = GaugeMetricFamily(
                "csghub_compute_instances",
                "Compute instances (endpoints, fine-tunes, notebooks, spaces) by kind and state.",
                labels=["kind", "state"],
            )
            query = select(ComputeInstance.kind, ComputeInstance.state, func.count()).group_by(
                ComputeInstance.kind, ComputeInstance.state
            )
            for kind, state, count in session.execute(query):
                instances.add_metric([kind, state], count)
            yield instances
            for name, text, model in _STATES:
                family = GaugeMetricFamily(name, text, labels=["state"])
                for state, count in session.execute(select(model.state, func.count()).group_by(model.state)):
                    family.add_metric([state], count)
                yield family
            queues = GaugeMetricFamily("csghub_queue_depth", "Jobs waiting to start, by queue.", labels=["queue"])
            for queue, model in _QUEUES:
                waiting = session.scalar(select(func.count()).select_from(model).where(model.state == "queued"))
                queues.add_metric([queue], waiting or 0)
            yield queues
            repos = GaugeMetricFamily("csghub_repositories", "Repositories by type.", labels=["type"])
            for repo_type, count in session.execute(select(Repo.type, func.count()).group_by(Repo.type)):
                repos.add_metric([repo_type], count)
            yield repos
            yield from self._storage(session)

    @staticmethod
    def _storage(session: Session) -> Iterator[Metric]:
        objects = GaugeMetricFamily("csghub_storage_objects", "Objects in the blob store, by kind.", labels=["kind"])
        size = GaugeMetricFamily("csghub_storage_bytes", "Bytes in the blob store, by kind.", labels=["kind"])
        for kind, count_of, bytes_of in (
            ("lfs", func.count(LfsObject.oid), func.coalesce(func.sum(LfsObject.size), 0)),
            ("xet_xorb", func.count(XetXorb.hash), func.coalesce(func.sum(XetXorb.serialized_size), 0)),
        ):
            count, total = session.execute(select(count_of, bytes_of)).one()
            objects.add_metric([kind], count)
            size.add_metric([kind], total)
        yield objects
        yield size

    def _pool(self) -> Iterator[Metric]:
        """The SQLAlchemy pool of this process: its size and the connections lent out now."""
        pool = self.sessions.kw["bind"].pool
        for name, text, read in (
            ("csghub_db_pool_size", "Connections the pool keeps.", "size"),
            ("csghub_db_pool_checked_out", "Connections in use now.", "checkedout"),
            ("csghub_db_pool_overflow", "Connections opened beyond the pool's size.", "overflow"),
        ):
            method = getattr(pool, read, None)
            if method is not None:
                family = GaugeMetricFamily(name, text)
                family.add_metric([], max(0, int(method())))
                yield family
