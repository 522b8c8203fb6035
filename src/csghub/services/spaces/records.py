"""A space's record: the compute instance of kind "space" that runs its repository (one per space), what
its state is called (CSGHub's stages, and Hugging Face's SpaceStage in the HF API), and the SpaceView
that pages and the API show. The instance's spec (JSON) holds {"model": "ns/name" (the space itself),
"sdk", "app_file", "base_url": "/apps/{owner}/{name}/", "static", "requirements", "models", "datasets",
"notes", "config_error", "sleep_seconds", "allow_token", "stopped_as"}; routing.py reads it too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.names import RepoId, RepoType
from csghub.db.models import ComputeCluster, ComputeInstance, ComputeReplica, ComputeTier
from csghub.services.compute import instances
from csghub.services.compute.clusters import ClusterView, TierView, cluster_view, tier_view
from csghub.services.compute.idle import SLEEPING
from csghub.services.compute.reconcile import BUILD_FAILED
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories.repos import RepoView, get_repo

KIND = "space"
PREFIX = "/apps"
CONFIG_ERROR = "configuration error: "
# CSGHub's stages (the /api/v1 routes, pages) and Hugging Face's names for them (SpaceStage).
BUILDING, RUNNING, SLEEPING_STAGE, PAUSED, STOPPED = "building", "running", "sleeping", "paused", "stopped"
BUILD_FAILED_STAGE, RUNTIME_ERROR, NO_APP = "build-failed", "runtime-error", "no-app"
HF_STAGES = {
    BUILDING: "BUILDING",
    RUNNING: "RUNNING",
    SLEEPING_STAGE: "SLEEPING",
    PAUSED: "PAUSED",
    STOPPED: "STOPPED",
    BUILD_FAILED_STAGE: "BUILD_ERROR",
    RUNTIME_ERROR: "RUNTIME_ERROR",
    NO_APP: "NO_APP_FILE",
}


@dataclass(frozen=True, slots=True)
class SpaceView:
    repo_id: int
    owner: str
    name: str
    private: bool
    sdk: str  # "gradio" | "streamlit" | "static" | "" (a plain repository: no instance)
    stage: str  # building | running | sleeping | paused | stopped | build-failed | runtime-error | no-app
    hf_stage: str  # BUILDING, APP_STARTING, RUNNING, SLEEPING, PAUSED, STOPPED, BUILD_ERROR, RUNTIME_ERROR, ...
    reason: str  # why it is in that stage (pip's error, the app's last log lines, "no sdk" ...)
    notes: tuple[str, ...]  # settings this hub could not honour (sdk_version, python_version ...)
    app_file: str
    static: bool
    path: str  # the app's address on the hub, "/apps/{owner}/{name}/" ("" without an instance)
    commit: str  # what runs (or builds)
    models: tuple[str, ...]
    datasets: tuple[str, ...]
    requirements: tuple[str, ...]
    instance_id: int | None
    cluster: ClusterView | None
    tier: TierView | None  # its hardware: the tier's name is the HF hardware flavor
    sleep_seconds: int  # 0 = never
    allow_token: bool  # the app gets HF_TOKEN, scoped to read its declared models and datasets
    updated_at: datetime | None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def hardware(self) -> str:
        return self.tier.name if self.tier is not None else ""


def app_path(owner: str, name: str) -> str:
    return f"{PREFIX}/{owner}/{name}/"


def spec_of(row: ComputeInstance) -> dict[str, Any]:
    found = json.loads(row.spec or "{}")
    return found if isinstance(found, dict) else {}


def find_instance(session: Session, repo_id: int) -> ComputeInstance | None:
    return session.scalar(
        select(ComputeInstance).where(ComputeInstance.kind == KIND, ComputeInstance.repo_id == repo_id)
    )


def stage_of(row: ComputeInstance, spec: dict[str, Any], *, serving: bool = False) -> tuple[str, str]:
    """(CSGHub's stage, Hugging Face's) of an instance; `serving`: a replica of it answers (while a
    push's rebuild is under way, the previous app serves: running, RUNNING_BUILDING)."""
    if row.desired != "running" or row.state == instances.STOPPED:
        stopped_as = str(spec.get("stopped_as") or STOPPED)
        stage = {SLEEPING: SLEEPING_STAGE, PAUSED: PAUSED}.get(stopped_as, STOPPED)
        return stage, HF_STAGES[stage]
    if row.state == instances.FAILED:
        if row.reason.startswith(CONFIG_ERROR):
            missing = "does not exist" in row.reason and "app_file" in row.reason
            return BUILD_FAILED_STAGE, "NO_APP_FILE" if missing else "CONFIG_ERROR"
        built = row.reason.startswith(BUILD_FAILED) or row.reason.startswith("runtime framework")
        stage = BUILD_FAILED_STAGE if built else RUNTIME_ERROR
        return stage, HF_STAGES[stage]
    if row.state == instances.RUNNING:
        return RUNNING, "RUNNING"
    if serving:
        return RUNNING, "RUNNING_APP_STARTING" if row.state == instances.DEPLOYING else "RUNNING_BUILDING"
    return BUILDING, "APP_STARTING" if row.state == instances.DEPLOYING else "BUILDING"


def view_of(session: Session, repo: RepoView, row: ComputeInstance | None, notes: tuple[str, ...] = ()) -> SpaceView:
    if row is None:
        sdk = str(repo.card_data.get("sdk") or "")
        reason = f"sdk '{sdk}' is not one this hub runs" if sdk else "the README declares no sdk"
        return SpaceView(
            repo.id, repo.namespace, repo.name, repo.private, "", NO_APP, "NO_APP_FILE", reason, notes, "",
            False, "", repo.head_sha, (), (), (), None, None, None, 0, False, None,
        )  # fmt: skip
    spec = spec_of(row)
    serving = row.state in (instances.PENDING, instances.BUILDING, instances.DEPLOYING) and bool(
        session.scalar(
            select(ComputeReplica.id).where(ComputeReplica.instance_id == row.id, ComputeReplica.state == "healthy")
        )
    )
    stage, hf_stage = stage_of(row, spec, serving=serving)
    cluster, tier = session.get(ComputeCluster, row.cluster_id), session.get(ComputeTier, row.tier_id)
    return SpaceView(
        repo_id=repo.id,
        owner=repo.namespace,
        name=repo.name,
        private=repo.private,
        sdk=str(spec.get("sdk", "")),
        stage=stage,
        hf_stage=hf_stage,
        reason=row.reason,
        notes=tuple(str(n) for n in spec.get("notes", ())),
        app_file=str(spec.get("app_file", "")),
        static=bool(spec.get("static")),
        path=str(spec.get("base_url", "")),
        commit=row.commit,
        models=tuple(str(m) for m in spec.get("models", ())),
        datasets=tuple(str(d) for d in spec.get("datasets", ())),
        requirements=tuple(str(r) for r in spec.get("requirements", ())),
        instance_id=row.id,
        cluster=cluster_view(cluster) if cluster is not None else None,
        tier=tier_view(tier) if tier is not None else None,
        sleep_seconds=int(spec.get("sleep_seconds") or 0),
        allow_token=bool(spec.get("allow_token")),
        updated_at=row.updated_at,
    )


def space_repo(hub: Hub, actor: Actor, owner: str, name: str, action: Action = Action.READ) -> RepoView:
    """The space repository if `actor` may see it (NotFound otherwise) and may do `action` on it."""
    repo = get_repo(hub, actor, RepoType.SPACE, RepoId.of(owner, name), Action.READ)
    if action is not Action.READ:
        authorize(actor, action, repo.resource)
    return repo


def get_space(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceView:
    """Its status, for anyone who can read the repository."""
    repo = space_repo(hub, actor, owner, name)
    with hub.db() as session:
        return view_of(session, repo, find_instance(session, repo.id))


def views_of(hub: Hub, repos: list[RepoView]) -> dict[int, SpaceView]:
    """The status of many spaces at once (listings' badges), by repository id; callers filtered them."""
    if not repos:
        return {}
    with hub.db() as session:
        rows = session.scalars(
            select(ComputeInstance).where(
                ComputeInstance.kind == KIND, ComputeInstance.repo_id.in_([r.id for r in repos])
            )
        ).all()
        by_repo = {r.repo_id: r for r in rows}
        return {r.id: view_of(session, r, by_repo.get(r.id)) for r in repos}
