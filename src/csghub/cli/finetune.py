"""`csghub finetune ...`: fine-tuning from a terminal, against a running hub's API (like csghub-cli, it reads
CSGHUB_ENDPOINT and CSGHUB_TOKEN, or --endpoint and --token): run a task and follow it to its metrics, list,
show, stop, delete and read logs; parameter groups; experiments ranked by their metric."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import typer

finetune = typer.Typer(no_args_is_help=True, help="Fine-tune models on a hub (CSGHUB_ENDPOINT, CSGHUB_TOKEN).")
group = typer.Typer(no_args_is_help=True, help="Parameter groups: named, reusable training parameters.")
experiment = typer.Typer(no_args_is_help=True, help="Experiments: tasks trained side by side, ranked by a metric.")
finetune.add_typer(group, name="group")
finetune.add_typer(experiment, name="experiment")

Endpoint = typer.Option(None, "--endpoint", help="The hub's address (default: $CSGHUB_ENDPOINT).")
Token = typer.Option(None, "--token", help="An access token (default: $CSGHUB_TOKEN).")
Params = typer.Option([], "--param", "-p", help="A training parameter, name=value (repeat): learning_rate=1e-4.")
ENDED = ("succeeded", "failed", "cancelled")
METRICS = ("exact_match", "bleu4", "rouge1", "rouge2", "rougeL")


def _client(endpoint: str | None, token: str | None) -> httpx.Client:
    base = (endpoint or os.environ.get("CSGHUB_ENDPOINT") or "http://127.0.0.1:8080").rstrip("/")
    secret = token or os.environ.get("CSGHUB_TOKEN") or ""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=base, headers=headers, timeout=60.0, trust_env=False)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach {client.base_url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1)
    if "json" not in response.headers.get("content-type", ""):
        return response.content
    return response.json().get("data")


def _params(items: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            typer.echo(f"error: --param takes name=value, not {item!r}", err=True)
            raise typer.Exit(2)
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return values


def _task(text: str) -> dict[str, Any]:
    """`name=a,model=ns/m,dataset=ns/d[,group=ID][,train_file=...][,eval_file=...]` as a task object."""
    fields = dict(part.partition("=")[::2] for part in text.split(",") if part)
    task: dict[str, Any] = {
        "name": fields.pop("name", ""),
        "model": fields.pop("model", ""),
        "dataset": fields.pop("dataset", ""),
    }
    if "group" in fields:
        task["parameter_group_id"] = fields.pop("group")
    for key in ("train_file", "eval_file", "output", "cluster_id", "resource_id"):
        if key in fields:
            task[key] = fields.pop(key)
    if fields:
        task["parameters"] = {k: _params([f"{k}={v}"])[k] for k, v in fields.items()}
    return task


def _line(job: dict[str, Any]) -> str:
    progress = job.get("progress") or {}
    step = f"{progress.get('step', 0)}/{progress.get('total', 0)}" if progress.get("total") else "-"
    loss = progress.get("loss")
    return (
        f"{job['id']}\t{job['name']}\t{job['state']}\t{job.get('phase') or '-'}\t{step}\t"
        f"{loss if loss is not None else '-'}\t{job['model_id']}\t{job['dataset_id']}\t{job['output_model']}"
    )


def _metrics(job: dict[str, Any]) -> str:
    metrics = job.get("metrics") or {}
    rows = ["metric\tbefore\tafter"]
    for name in METRICS:
        before, after = (metrics.get("before") or {}).get(name), (metrics.get("after") or {}).get(name)
        rows.append(f"{name}\t{before if before is not None else '-'}\t{after if after is not None else '-'}")
    return "\n".join(rows)


@finetune.command("run")
def run(
    model: str = typer.Option(..., "--model", help="The base model, namespace/name."),
    dataset: str = typer.Option(..., "--dataset", help="The dataset with the training file, namespace/name."),
    name: str = typer.Option(..., "--name", help="The task's name (lowercase letters, digits and '-')."),
    train_file: str = typer.Option(None, "--train-file", help="Its path in the dataset (default: the only one)."),
    eval_file: str = typer.Option(None, "--eval-file", help="Held-out examples (default: val_size of the training)."),
    parameter_group: int = typer.Option(None, "--group", help="A parameter group's id."),
    params: list[str] = Params,
    output: str = typer.Option(None, "--output", help="The model repository to push (default: yours/NAME)."),
    merge: bool = typer.Option(False, "--merge", help="Also push the adapter merged into the base weights."),
    wait: bool = typer.Option(False, "--wait", help="Follow the task until it ends and print its metrics."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Start a fine-tune task; with --wait, follow it to its end."""
    body: dict[str, Any] = {"name": name, "model": model, "dataset": dataset, "parameters": _params(params)}
    extra = {"train_file": train_file, "eval_file": eval_file, "output": output, "parameter_group_id": parameter_group}
    body |= {k: v for k, v in extra.items() if v is not None}
    body["merge"] = merge
    with _client(endpoint, token) as client:
        job = _call(client, "POST", "/api/v1/finetunes", json=body)
        for note in job.get("notes") or []:
            typer.echo(f"note: {note}", err=True)
        typer.echo(f"task {job['id']} ({job['name']}) is {job['state']}", err=True)
        if wait:
            job = _follow(client, int(job["id"]))
            typer.echo(_metrics(job))
            if job["state"] != "succeeded":
                typer.echo(f"error: task {job['id']} {job['state']}: {job.get('error', '')}", err=True)
                raise typer.Exit(1)
            typer.echo(f"pushed {job['output_model']}", err=True)
        else:
            typer.echo(job["id"])


def _follow(client: httpx.Client, job_id: int) -> dict[str, Any]:
    shown = ""
    while True:
        job = _call(client, "GET", f"/api/v1/finetunes/{job_id}")
        line = _line(job)
        if line != shown:
            typer.echo(line, err=True)
            shown = line
        if job["state"] in ENDED:
            return job
        time.sleep(1.0)  # a person watching: once a second is plenty


@finetune.command("list")
def list_tasks(
    owner: str = typer.Option(None, "--owner", help="A namespace (default: all you can see)."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Tasks, one a line: id, name, state, phase, step, loss, model, dataset, output."""
    with _client(endpoint, token) as client:
        for job in _call(client, "GET", "/api/v1/finetunes", params={"owner": owner} if owner else {}):
            typer.echo(_line(job))


@finetune.command("show")
def show(job_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    """A task's record as JSON."""
    with _client(endpoint, token) as client:
        typer.echo(json.dumps(_call(client, "GET", f"/api/v1/finetunes/{job_id}"), indent=2))


@finetune.command("stop")
def stop(job_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    with _client(endpoint, token) as client:
        typer.echo(_line(_call(client, "PUT", f"/api/v1/finetunes/{job_id}/stop")))


@finetune.command("delete")
def delete(job_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    with _client(endpoint, token) as client:
        _call(client, "DELETE", f"/api/v1/finetunes/{job_id}")


@finetune.command("logs")
def logs(job_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    with _client(endpoint, token) as client:
        typer.echo(_call(client, "GET", f"/api/v1/finetunes/{job_id}/logs").decode("utf-8", "replace"), nl=False)


@group.command("create")
def group_create(
    name: str,
    params: list[str] = Params,
    description: str = typer.Option("", "--description"),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Create a parameter group; prints its id."""
    body = {"name": name, "description": description, "parameters": _params(params)}
    with _client(endpoint, token) as client:
        typer.echo(_call(client, "POST", "/api/v1/finetune/parameter_groups", json=body)["id"])


@group.command("list")
def group_list(endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    with _client(endpoint, token) as client:
        for found in _call(client, "GET", "/api/v1/finetune/parameter_groups"):
            typer.echo(f"{found['id']}\t{found['namespace']}\t{found['name']}\t{json.dumps(found['parameters'])}")


@experiment.command("create")
def experiment_create(
    name: str,
    tasks: list[str] = typer.Option(..., "--task", help="name=..,model=ns/m,dataset=ns/d[,group=ID] (repeat)."),
    metric: str = typer.Option("rougeL", "--metric", help="What ranks the tasks: " + ", ".join(METRICS) + "."),
    wait: bool = typer.Option(False, "--wait", help="Follow it until every task ends, then print the ranking."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Create an experiment of one or more tasks."""
    body = {"name": name, "metric": metric, "tasks": [_task(t) for t in tasks]}
    with _client(endpoint, token) as client:
        found = _call(client, "POST", "/api/v1/finetune/experiments", json=body)
        typer.echo(f"experiment {found['id']} ({found['name']}): {len(found['tasks'])} task(s)", err=True)
        while wait and found["state"] not in ENDED:
            time.sleep(2.0)  # a person watching
            found = _call(client, "GET", f"/api/v1/finetune/experiments/{found['id']}")
        _ranking(found)


@experiment.command("show")
def experiment_show(experiment_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    """Its tasks ranked by its metric (best first)."""
    with _client(endpoint, token) as client:
        _ranking(_call(client, "GET", f"/api/v1/finetune/experiments/{experiment_id}"))


def _ranking(found: dict[str, Any]) -> None:
    typer.echo(f"rank\ttask\tstate\t{found['metric']} before\t{found['metric']} after")
    for place, task in enumerate(found["tasks"], 1):
        metrics = task.get("metrics") or {}
        before = (metrics.get("before") or {}).get(found["metric"], "-")
        after = (metrics.get("after") or {}).get(found["metric"], "-")
        typer.echo(f"{place}\t{task['name']}\t{task['state']}\t{before}\t{after}")
