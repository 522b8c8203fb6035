"""A space's logs for its owners: the build log (pip installing its requirements.txt over its SDK's
environment) and the run log (its app's output: the newest replica's, or after a failure the last one
this machine kept)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from csghub.core.errors import InvalidArgument
from csghub.db.models import ComputeReplica
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, runner_for
from csghub.services.compute.frameworks import handle_of
from csghub.services.compute.layers import build_log
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.spaces.records import find_instance, space_repo

KINDS = ("build", "run")
READ_BYTES = 1 << 20


def read_log(hub: Hub, actor: Actor, owner: str, name: str, kind: str, offset: int = 0) -> bytes:
    """The log from `offset` (b"" past its end, or for a space that never built or ran)."""
    if kind not in KINDS:
        raise InvalidArgument(f"Unknown log '{kind}': expected one of {', '.join(KINDS)}")
    repo = space_repo(hub, actor, owner, name, Action.MANAGE)
    offset = max(0, offset)
    with hub.db() as session:
        row = find_instance(session, repo.id)
        if row is None:
            return b""
        instance_id, cluster_id = row.id, row.cluster_id
        replica = session.scalar(
            select(ComputeReplica)
            .where(ComputeReplica.instance_id == instance_id, ComputeReplica.handle != "")
            .order_by(ComputeReplica.generation.desc(), ComputeReplica.index)
        )
        handle = handle_of(replica.handle) if replica is not None else None
    if kind == "build":
        return _read_file(build_log(hub, instance_id), offset)
    if handle is not None:
        return runner_for(hub, cluster_id).read_log(handle, offset, READ_BYTES)
    if cluster_id != LOCAL_CLUSTER_ID:
        return b""
    # Its replicas' records go when it stops or fails; the local runner's log files stay until a delete.
    logs = hub.settings.compute_dir / "logs"
    found = sorted(logs.glob(f"space-{instance_id}-*.log"), key=lambda p: p.stat().st_mtime) if logs.is_dir() else []
    return _read_file(found[-1], offset) if found else b""


def _read_file(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read(READ_BYTES)
    except FileNotFoundError:
        return b""
