"""`csghub mirror ...`: mirroring from a terminal, against a running hub's API (CSGHUB_ENDPOINT and
CSGHUB_TOKEN, or --endpoint and --token): sources (administrators), mirrors, their syncs and tasks, and
batches. A source's own token is read from an environment variable or stdin, never from the command line,
where other users of the machine could read it in the process list."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import typer

mirror = typer.Typer(no_args_is_help=True, help="Mirror repositories from other hubs (CSGHUB_ENDPOINT, CSGHUB_TOKEN).")
source = typer.Typer(no_args_is_help=True, help="Mirror sources: the hubs mirrored from (administrators).")
mirror.add_typer(source, name="source")

Endpoint = typer.Option(None, "--endpoint", help="The hub's address (default: $CSGHUB_ENDPOINT).")
Token = typer.Option(None, "--token", help="An access token for the hub (default: $CSGHUB_TOKEN).")
RepoType = typer.Option("model", "--type", "-t", help="model, dataset, code or space.")
ENDED = ("finished", "failed", "cancelled")
TYPES = ("model", "dataset", "code", "space")


def _client(endpoint: str | None, token: str | None) -> httpx.Client:
    base = (endpoint or os.environ.get("CSGHUB_ENDPOINT") or "http://127.0.0.1:8080").rstrip("/")
    secret = token or os.environ.get("CSGHUB_TOKEN") or ""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=base, headers=headers, timeout=60.0, trust_env=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {client.base_url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        message = body.get("error") if isinstance(body, dict) else None
        raise _fail(str(message or f"{response.status_code} {response.text[:200]}"))
    return body.get("data") if isinstance(body, dict) else body


def _repo_path(repo_type: str, repo: str) -> str:
    if repo_type not in TYPES:
        raise _fail(f"--type must be one of {', '.join(TYPES)}, not {repo_type!r}", 2)
    if repo.count("/") != 1:
        raise _fail(f"give the local repository as namespace/name, not {repo!r}", 2)
    return f"/api/v1/{repo_type}s/{repo}/mirror"


def _upstream_token(env_name: str | None, from_stdin: bool) -> str | None:
    if env_name and from_stdin:
        raise _fail("give the source's token by --upstream-token-env or --upstream-token-stdin, not both", 2)
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise _fail(f"the environment variable {env_name} is empty or unset", 2)
        return value.strip()
    if from_stdin:
        return sys.stdin.readline().strip()
    return None


def _rules(items: list[str]) -> list[dict[str, str]]:
    rules = []
    for item in items:
        pattern, sep, action = item.rpartition("=")
        if not sep or not pattern:
            raise _fail(f"--rule takes pattern=allow|deny|cache, not {item!r}", 2)
        rules.append({"pattern": pattern, "action": action})
    return rules


def _when(value: str | None) -> str:
    return (value or "-").replace("T", " ").removesuffix("Z")[:19]


def _source_line(s: dict[str, Any]) -> str:
    limit = s["bandwidth_bytes_per_s"] or "-"
    return (
        f"{s['id']}\t{s['source_name']}\t{s['base_url']}\t{'token' if s['has_token'] else '-'}\t"
        f"{'git' if s['use_git'] else 'api'}\t{s['max_concurrency']}\t{limit}\t"
        f"{'proxy' if s['upstream_proxy'] else '-'}\t{s['mirrors']}"
    )


def _mirror_line(m: dict[str, Any]) -> str:
    state = "paused" if m["paused"] else (m.get("status") or "-")
    return (
        f"{m['repo_type']}\t{m['local_repo_path']}\t{m['mirror_source']['source_name']}:{m['source_repo_path']}\t"
        f"{state}\t{m.get('progress', 0)}%\t{_when(m.get('last_updated_at'))}\t{_when(m.get('next_sync_at'))}"
    )


def _task_line(t: dict[str, Any]) -> str:
    files = f"{t['files_done']}/{t['files_total']}"
    return (
        f"{t['id']}\t{t['repo_type']}\t{t['repo_path']}\t{t['state']}\t{t['progress']}%\t{files}\t"
        f"{t['trigger']}\t{t['attempts']}\t{(t.get('reason') or '-')[:120]}"
    )


@source.command("add")
def source_add(
    name: str = typer.Argument(..., help="The source's name, e.g. hf."),
    base_url: str = typer.Argument(..., help="Its API's base URL, e.g. https://huggingface.co."),
    upstream_token_env: str = typer.Option(
        None, "--upstream-token-env", help="Read the source's token from this variable."
    ),
    upstream_token_stdin: bool = typer.Option(
        False, "--upstream-token-stdin", help="Read the source's token from stdin."
    ),
    no_git: bool = typer.Option(False, "--no-git", help="Rebuild commits from tree listings instead of git."),
    max_concurrency: int = typer.Option(2, "--max-concurrency", help="Syncs from it running at once."),
    bandwidth: int = typer.Option(0, "--bandwidth", help="Bytes per second for all its syncs (0: unlimited)."),
    proxy: bool = typer.Option(False, "--proxy", help="Also serve it as this hub's pull-through cache."),
    rules: list[str] = typer.Option([], "--rule", help="A proxy rule, pattern=allow|deny|cache (repeat)."),
    cache_max_bytes: int = typer.Option(0, "--cache-max-bytes", help="The proxy cache's size (0: unbounded)."),
    object_max_bytes: int = typer.Option(0, "--object-max-bytes", help="The largest object it fetches (0: any)."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Add a mirror source."""
    body: dict[str, Any] = {
        "source_name": name,
        "base_url": base_url,
        "use_git": not no_git,
        "max_concurrency": max_concurrency,
        "bandwidth_bytes_per_s": bandwidth,
        "upstream_proxy": proxy,
        "proxy_rules": _rules(rules),
        "cache_max_bytes": cache_max_bytes,
        "object_max_bytes": object_max_bytes,
    }
    secret = _upstream_token(upstream_token_env, upstream_token_stdin)
    if secret:
        body["token"] = secret
    with _client(endpoint, token) as client:
        typer.echo(_source_line(_call(client, "POST", "/api/v1/mirror/sources", json=body)))


@source.command("list")
def source_list(endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    """List mirror sources: id, name, URL, token, git/api, concurrency, bandwidth, proxy, mirrors."""
    with _client(endpoint, token) as client:
        for item in _call(client, "GET", "/api/v1/mirror/sources"):
            typer.echo(_source_line(item))


@source.command("rm")
def source_rm(
    name: str = typer.Argument(..., help="The source's name or id."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Remove a mirror source (refused while mirrors use it)."""
    with _client(endpoint, token) as client:
        _call(client, "DELETE", f"/api/v1/mirror/sources/{name}")
    typer.echo(f"removed {name}")


@mirror.command("create")
def create(
    repo: str = typer.Argument(..., help="The new local repository, namespace/name."),
    source_name: str = typer.Option(..., "--source", "-s", help="The mirror source's name."),
    upstream: str = typer.Option(None, "--upstream", "-u", help="namespace/name on the source (default: REPO)."),
    repo_type: str = RepoType,
    interval: int = typer.Option(86400, "--interval", help="Seconds between syncs (0: only by hand)."),
    private: bool = typer.Option(False, "--private", help="Make the local repository private."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Create a mirror: a new read-only repository kept in sync with the upstream one."""
    body = {"source": source_name, "upstream": upstream or repo, "interval": interval, "private": private}
    with _client(endpoint, token) as client:
        typer.echo(_mirror_line(_call(client, "POST", _repo_path(repo_type, repo), json=body)))


@mirror.command("list")
def list_mirrors(
    every: bool = typer.Option(False, "--all", help="Every mirror of the hub (administrators)."),
    source_name: str = typer.Option(None, "--source", help="Only this source's."),
    state: str = typer.Option(None, "--state", help="Only those whose task is in this state."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """List mirrors: type, repository, source:upstream, state, progress, last sync, next sync."""
    params = {k: v for k, v in {"source": source_name, "state": state, "per": "100"}.items() if v}
    path = "/api/v1/mirrors" if every else "/api/v1/mirror/repos"
    with _client(endpoint, token) as client:
        for item in _call(client, "GET", path, params=params):
            typer.echo(_mirror_line(item))


@mirror.command("status")
def status(
    repo: str = typer.Argument(..., help="The local repository, namespace/name."),
    repo_type: str = RepoType,
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """A mirror's source, last and next sync, last error and current task."""
    with _client(endpoint, token) as client:
        found = _call(client, "GET", _repo_path(repo_type, repo))
    task = found.get("task")
    typer.echo(_mirror_line(found))
    typer.echo(f"interval: {found['interval']} s\tlast commit: {found.get('last_commit') or '-'}")
    if found.get("last_message"):
        typer.echo(f"last error: {found['last_message']}")
    if task:
        typer.echo(_task_line(task))


@mirror.command("sync")
def sync(
    repo: str = typer.Argument(..., help="The local repository, namespace/name."),
    repo_type: str = RepoType,
    wait: bool = typer.Option(False, "--wait", help="Follow the sync until it ends."),
    timeout: int = typer.Option(3600, "--timeout", help="With --wait: give up after this many seconds."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Sync a mirror now; with --wait, follow the task to its end (exit 1 unless it finished)."""
    path = _repo_path(repo_type, repo)
    with _client(endpoint, token) as client:
        task = _call(client, "POST", path + "/sync")
        typer.echo(_task_line(task))
        deadline = time.monotonic() + timeout
        while wait and task["state"] not in ENDED:
            if time.monotonic() > deadline:
                raise _fail(f"task {task['id']} still {task['state']} after {timeout} s")
            time.sleep(1.0)  # a person watching: once a second is plenty
            found = _call(client, "GET", path).get("task") or task
            if found["id"] == task["id"] and found != task:
                task = found
                typer.echo(_task_line(task))
    if wait and task["state"] != "finished":
        raise typer.Exit(1)


def _set_paused(repo: str, repo_type: str, paused: bool, endpoint: str | None, token: str | None) -> None:
    with _client(endpoint, token) as client:
        typer.echo(_mirror_line(_call(client, "PUT", _repo_path(repo_type, repo), json={"paused": paused})))


@mirror.command("pause")
def pause(
    repo: str = typer.Argument(..., help="The local repository."),
    repo_type: str = RepoType,
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Stop scheduled syncs of a mirror until it is resumed."""
    _set_paused(repo, repo_type, True, endpoint, token)


@mirror.command("resume")
def resume(
    repo: str = typer.Argument(..., help="The local repository."),
    repo_type: str = RepoType,
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Resume scheduled syncs of a paused mirror."""
    _set_paused(repo, repo_type, False, endpoint, token)


@mirror.command("rm")
def remove(
    repo: str = typer.Argument(..., help="The local repository."),
    repo_type: str = RepoType,
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Stop mirroring: the repository stays, and becomes writable."""
    with _client(endpoint, token) as client:
        _call(client, "DELETE", _repo_path(repo_type, repo))
    typer.echo(f"{repo} is no longer a mirror")


@mirror.command("tasks")
def tasks(
    state: str = typer.Option(None, "--state", help="Only tasks in this state (queued, running, failed, ...)."),
    mirror_id: int = typer.Option(None, "--mirror-id", help="Only this mirror's."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """List sync tasks: id, type, repository, state, progress, files, trigger, attempts, reason."""
    params = {k: str(v) for k, v in {"state": state, "mirror_id": mirror_id, "per": 100}.items() if v is not None}
    with _client(endpoint, token) as client:
        for item in _call(client, "GET", "/api/v1/mirror/tasks", params=params):
            typer.echo(_task_line(item))


@mirror.command("cancel")
def cancel(task_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    """Cancel a queued or running sync task."""
    with _client(endpoint, token) as client:
        typer.echo(_task_line(_call(client, "POST", f"/api/v1/mirror/tasks/{task_id}/cancel")))


@mirror.command("logs")
def logs(task_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    """Print what a sync task's jobs printed (each attempt's phases, timings and errors)."""
    with _client(endpoint, token) as client:
        typer.echo(_call(client, "GET", f"/api/v1/mirror/tasks/{task_id}/logs")["log"], nl=False)


@mirror.command("retry")
def retry(task_id: int, endpoint: str | None = Endpoint, token: str | None = Token) -> None:
    """Retry a failed or cancelled sync task."""
    with _client(endpoint, token) as client:
        typer.echo(_task_line(_call(client, "POST", f"/api/v1/mirror/tasks/{task_id}/retry")))


@mirror.command("batch")
def batch(
    upstreams: list[str] = typer.Argument(None, help="Upstream repositories, namespace/name (or --file)."),
    source_name: str = typer.Option(..., "--source", "-s", help="The mirror source's name."),
    from_file: Path = typer.Option(None, "--file", "-f", help="A file of upstream ids, one a line ('#' comments)."),
    namespace: str = typer.Option(None, "--namespace", help="The local namespace (default: each upstream's)."),
    repo_type: str = RepoType,
    interval: int = typer.Option(86400, "--interval", help="Seconds between syncs (0: only by hand)."),
    endpoint: str | None = Endpoint,
    token: str | None = Token,
) -> None:
    """Create one mirror per upstream repository."""
    names = list(upstreams or [])
    if from_file is not None:
        lines = from_file.read_text().splitlines()
        names += [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    if not names:
        raise _fail("name upstream repositories as arguments or with --file", 2)
    body: dict[str, Any] = {"source": source_name, "upstreams": names, "type": repo_type, "interval": interval}
    if namespace:
        body["namespace"] = namespace
    with _client(endpoint, token) as client:
        for item in _call(client, "POST", "/api/v1/mirror/batch", json=body):
            typer.echo(_mirror_line(item))
