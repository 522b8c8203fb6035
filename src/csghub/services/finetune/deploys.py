"""From a fine-tune to a model that answers: deploy a finished job's model repository as an inference
endpoint in one action, deploy a task's base model beside it (the compare chat's "before"), load or unload
the base model or the latest result of a fine-tune instance for its chat tab, and start the instance's
notebook (services/compute/notebooks.py). These are ordinary endpoints and notebooks (services/compute),
owned by the job's namespace; the portal's compare view chats with several of them side by side through
the gateway."""

from __future__ import annotations

import re
from typing import Literal

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId
from csghub.services.compute import endpoints, notebooks
from csghub.services.compute.endpoints import EndpointSpec, EndpointView
from csghub.services.compute.notebooks import NotebookSpec, NotebookView
from csghub.services.context import Hub
from csghub.services.finetune import instances, jobs
from csghub.services.finetune.records import SUCCEEDED
from csghub.services.permissions import Actor

Which = Literal["base", "finetuned"]


def deploy_job(hub: Hub, actor: Actor, job_id: int, *, name: str | None = None) -> EndpointView:
    """An endpoint serving the job's model (an adapter is served on its base model); the existing one,
    started again when stopped, if it was deployed before."""
    job = jobs.get_job(hub, actor, job_id)
    if job.state != SUCCEEDED or not job.output_ready:
        raise InvalidArgument(f"Task '{job.name}' has no model to deploy yet (it is {job.state})")
    return _ensure(hub, actor, job.owner, name or job.name, RepoId.parse(job.output))


def deploy_base(hub: Hub, actor: Actor, job_id: int) -> EndpointView:
    """An endpoint of the task's base model in the task's namespace (the compare chat's "before"), the
    existing one, started again when stopped, if it was deployed before."""
    job = jobs.get_job(hub, actor, job_id)
    return _ensure(hub, actor, job.owner, base_endpoint_name(job.model), RepoId.parse(job.model))


def deployed(hub: Hub, actor: Actor, job_id: int, *, base: bool = False) -> EndpointView | None:
    """The endpoint deploy_job (or, with `base`, deploy_base) made for the task, if there is one."""
    job = jobs.get_job(hub, actor, job_id)
    name, model = (base_endpoint_name(job.model), job.model) if base else (job.name, job.output)
    try:
        found = endpoints.find_endpoint(hub, actor, job.owner, name)
    except NotFound:
        return None
    return found if found.model.lower() == model.lower() else None


def base_endpoint_name(model: str) -> str:
    """`tiny-qa-base` for `ns/tiny-qa`: an endpoint name (letters, digits, - and _) from the model's name."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", RepoId.parse(model).name).strip("-_")[:58]
    return f"{stem or 'model'}-base"


def load_model(hub: Hub, actor: Actor, instance_id: int, which: Which, model: RepoId | None = None) -> EndpointView:
    """The instance's chat tab: an endpoint of its base model, or of its latest successful run's model."""
    view = instances.get_instance(hub, actor, instance_id, model)
    return _ensure(hub, actor, view.owner, _endpoint_name(view.name, which), _model_of(hub, actor, view, which))


def unload_model(hub: Hub, actor: Actor, instance_id: int, which: Which, model: RepoId | None = None) -> None:
    view = instances.get_instance(hub, actor, instance_id, model)
    try:
        found = endpoints.find_endpoint(hub, actor, view.owner, _endpoint_name(view.name, which))
    except NotFound:
        return
    endpoints.stop_endpoint(hub, actor, found.id)


def loaded(hub: Hub, actor: Actor, instance_id: int, which: Which) -> EndpointView | None:
    view = instances.get_instance(hub, actor, instance_id)
    try:
        return endpoints.find_endpoint(hub, actor, view.owner, _endpoint_name(view.name, which))
    except NotFound:
        return None


def _endpoint_name(instance: str, which: Which) -> str:
    return f"{instance[:50]}-{'base' if which == 'base' else 'tuned'}"


def _model_of(hub: Hub, actor: Actor, view: instances.InstanceView, which: Which) -> RepoId:
    if which == "base":
        return RepoId.parse(view.model)
    done = [j for j in jobs.list_jobs(hub, actor, instance_id=view.id) if j.state == SUCCEEDED and j.output_ready]
    if not done:
        raise InvalidArgument("This instance has no fine-tuned model yet: start a training run first")
    return RepoId.parse(done[0].output)


def _ensure(hub: Hub, actor: Actor, owner: str, name: str, model: RepoId) -> EndpointView:
    try:
        found = endpoints.find_endpoint(hub, actor, owner, name)
    except NotFound:
        spec = EndpointSpec(name=name, visibility="private", owner=owner)
        return endpoints.create_endpoint(hub, actor, model, spec)
    if found.model.lower() != str(model).lower():
        raise Conflict(f"An endpoint named '{name}' already serves {found.model}", code="EndpointExists")
    return endpoints.start_endpoint(hub, actor, found.id)


def open_notebook(hub: Hub, actor: Actor, instance_id: int, model: RepoId | None = None) -> NotebookView:
    """The instance's "Start Notebook": a JupyterLab with its model and dataset checked out (made the first
    time, started again after a stop), on the instance's cluster and tier."""
    view = instances.get_instance(hub, actor, instance_id, model)
    name = f"{view.name[:50]}-notebook"
    found = next((n for n in notebooks.list_notebooks(hub, actor, owner=view.owner) if n.name == name), None)
    if found is not None:
        return notebooks.start_notebook(hub, actor, found.id)
    dataset = view.settings.get("dataset")
    spec = NotebookSpec(
        name=name,
        dataset=RepoId.parse(str(dataset)) if dataset else None,
        cluster_id=view.cluster_id,
        tier_id=None,  # a notebook runs on a CPU tier of the cluster, whatever the training's tier
        owner=view.owner,
    )
    return notebooks.create_notebook(hub, actor, RepoId.parse(view.model), spec)


def notebook_of(hub: Hub, actor: Actor, instance_id: int) -> NotebookView | None:
    """The notebook open_notebook made for the instance, if there is one (the instance's page shows it)."""
    view = instances.get_instance(hub, actor, instance_id)
    name = f"{view.name[:50]}-notebook"
    return next((n for n in notebooks.list_notebooks(hub, actor, owner=view.owner) if n.name == name), None)
