"""What a replica runs: the launcher of runtime/workers with its model (fetched from this hub with a
short-lived token), engine, arguments and resources, as a ProcessSpec for the cluster's runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from csghub.runtime import frameworks as builtin_frameworks
from csghub.runtime import workers
from csghub.runtime.base import HOST, PORT, PYTHON, Environment, ProcessSpec, Resources, RunnerError, WorkKind
from csghub.services.compute.tokens import mint_model_token
from csghub.services.context import Hub

NOTEBOOK_TOKEN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Launch:
    """An instance as the supervisor starts its replicas (read once per pass from its record)."""

    instance_id: int
    generation: int
    model: str  # "ns/name"
    repo_id: int
    commit: str
    created_by: int
    engine: str
    engine_args: tuple[tuple[str, str], ...]
    env: tuple[tuple[str, str], ...]
    # An adapter's base model: ("ns/name", repository id, commit); the launcher merges the two.
    base: tuple[str, int, str] | None = None
    kind: str = "endpoint"  # the instance's kind: "endpoint" | "notebook"
    # A notebook's dataset, checked out beside its model: ("ns/name", repository id, commit).
    dataset: tuple[str, int, str] | None = None
    base_url: str = ""  # a notebook's or space's path on the hub, "/notebooks/{owner}/{name}/"
    # A space's SDK ("gradio" | "streamlit") and the file its app starts from.
    sdk: str = ""
    app_file: str = ""
    requirements: tuple[str, ...] = ()  # a space's requirements.txt lines, installed over its SDK's environment

    @property
    def health_path(self) -> str:
        """What answers 200 once a replica is ready: Jupyter's status under its base URL, the SDK's own
        for a space, else /health."""
        if self.kind == "notebook":
            return f"{self.base_url}api/status"
        if self.kind == "space":
            return builtin_frameworks.health_path(self.sdk, self.base_url)
        return "/health"


def model_dir(hub: Hub, repo_id: int, commit: str) -> Path:
    """Where replicas on this machine keep the weights they downloaded (shared by same-model replicas)."""
    return hub.settings.compute_dir / "models" / f"{repo_id}-{commit}"


def served_model(hub: Hub, launch: Launch) -> str:
    """What the engine calls its model: the local directory it was started with."""
    return str(model_dir(hub, launch.repo_id, launch.commit))


def notebook_dir(hub: Hub, instance_id: int) -> Path:
    """A notebook's own folder: `work` (Jupyter's root, kept across restarts) and `jupyter` (its state)."""
    return hub.settings.compute_dir / "notebooks" / str(instance_id)


def space_dir(hub: Hub, instance_id: int) -> Path:
    """A space's own folder: a checkout per commit it ran (its app's working directory) and build.log."""
    return hub.settings.compute_dir / "spaces" / str(instance_id)


def _launcher(name: str, what: str) -> Path:
    try:
        return workers.script(name)
    except FileNotFoundError:
        raise RunnerError(f"This hub has no launcher for {what} ({name})") from None


def replica_spec(
    hub: Hub, launch: Launch, environment: Environment, resources: Resources, index: int, attempt: int
) -> ProcessSpec:
    if launch.kind == "notebook":
        return _notebook_spec(hub, launch, environment, resources, attempt)
    if launch.kind == "space":
        return _space_spec(hub, launch, environment, resources, attempt)
    script = _launcher(f"serve_{launch.engine}", f"the '{launch.engine}' engine")
    repos = (launch.repo_id,) if launch.base is None else (launch.repo_id, launch.base[1])
    token = mint_model_token(hub, launch.created_by, repos)
    argv = [
        PYTHON,
        str(script),
        "--repo",
        launch.model,
        "--revision",
        launch.commit,
        "--local-dir",
        served_model(hub, launch),
        "--host",
        HOST,
        "--port",
        PORT,
    ]
    if launch.base is not None:
        argv += ["--base-repo", launch.base[0], "--base-revision", launch.base[2]]
    # After `--`, the engine's own flags: {"dtype": "float32"} -> --dtype float32.
    argv.append("--")
    for key, value in launch.engine_args:
        argv += [f"--{key}", value] if value else [f"--{key}"]
    env = {**dict(launch.env), "HF_ENDPOINT": hub.compute.hub_url, "HF_TOKEN": token}
    return ProcessSpec(
        key=f"endpoint-{launch.instance_id}-g{launch.generation}-r{index}-a{attempt}",
        kind=WorkKind.SERVICE,
        argv=tuple(argv),
        environment=environment,
        resources=resources,
        env=env,
    )


def _notebook_spec(
    hub: Hub, launch: Launch, environment: Environment, resources: Resources, attempt: int
) -> ProcessSpec:
    script = _launcher(f"serve_{launch.engine}", f"the '{launch.engine}' engine")
    repos = (launch.repo_id,) if launch.dataset is None else (launch.repo_id, launch.dataset[1])
    # It lives in the kernels' environment as long as the notebook runs; each start mints a fresh one.
    token = mint_model_token(hub, launch.created_by, repos, ttl=NOTEBOOK_TOKEN_SECONDS)
    work = notebook_dir(hub, launch.instance_id) / "work"
    argv = [PYTHON, str(script), "--repo", launch.model, "--revision", launch.commit, "--work-dir", str(work)]
    argv += ["--host", HOST, "--port", PORT, "--base-url", launch.base_url]
    if launch.dataset is not None:
        argv += ["--dataset", launch.dataset[0], "--dataset-revision", launch.dataset[2]]
    return ProcessSpec(
        key=f"notebook-{launch.instance_id}-g{launch.generation}-a{attempt}",
        kind=WorkKind.SERVICE,
        argv=tuple(argv),
        environment=environment,
        resources=resources,
        env={"HF_ENDPOINT": hub.compute.hub_url, "HF_TOKEN": token},
    )


def _space_spec(hub: Hub, launch: Launch, environment: Environment, resources: Resources, attempt: int) -> ProcessSpec:
    """runtime/workers/serve_space.py checks the space out at its commit and starts its app under the base
    path. Its environment comes from services/spaces (hub.compute.launch_env): secrets, variables, and an
    HF_TOKEN that the launcher keeps for the app only with CSGHUB_SPACE_TOKEN_ALLOWED=1."""
    script = _launcher("serve_space", "spaces")
    work = space_dir(hub, launch.instance_id) / launch.commit[:12]
    argv = [PYTHON, str(script), "--repo", launch.model, "--revision", launch.commit, "--work-dir", str(work)]
    argv += ["--sdk", launch.sdk, "--app-file", launch.app_file, "--host", HOST, "--port", PORT]
    argv += ["--base-path", launch.base_url]
    provider = hub.compute.launch_env.get(launch.kind)
    env = dict(provider(hub, launch.instance_id)) if provider is not None else {}
    if "HF_TOKEN" not in env:  # the checkout needs one, whoever set up the rest
        env["HF_TOKEN"] = mint_model_token(hub, launch.created_by, (launch.repo_id,))
    env["HF_ENDPOINT"] = hub.compute.hub_url
    return ProcessSpec(
        key=f"space-{launch.instance_id}-g{launch.generation}-a{attempt}",
        kind=WorkKind.SERVICE,
        argv=tuple(argv),
        environment=environment,
        resources=resources,
        env=env,
    )
