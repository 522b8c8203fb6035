"""A scrape of /metrics: only site administrators see it (any token of theirs, read-only included, since
Prometheus should hold the least it needs); to everyone else the path does not exist."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from csghub.core.errors import NotFound, PermissionDenied, Unauthenticated
from csghub.services.observability.metrics import Metrics, multiprocess_dir
from csghub.services.permissions import SITE, Action, Actor, authorize


def scrape(metrics: Metrics, actor: Actor) -> tuple[bytes, str]:
    """The text exposition and its content type."""
    try:
        authorize(actor, Action.READ, SITE)
    except (Unauthenticated, PermissionDenied):
        raise NotFound("Not found") from None
    return generate_latest(_registry(metrics)), CONTENT_TYPE_LATEST


def _registry(metrics: Metrics) -> CollectorRegistry:
    """This process's registry; in multi-process mode, the values of every process (from their files)
    and this process's scrape-time collectors (the database's figures, which every process would give alike)."""
    folder = multiprocess_dir()
    if not folder:
        return metrics.registry
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    for collector in metrics.collect_from():
        registry.register(collector)
    return registry
