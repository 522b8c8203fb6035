"""Request overhead against a bare Starlette app on the same uvicorn: wrk's requests per second and p99.

    python -m benches.bench_request_overhead [--repos 200] [--duration 2] [--connections 16] [--rounds 5]

One bare Starlette app (a single JSON route) and one `csghub serve` with `--repos` public repositories
and rate limits off run side by side on loopback, both under the uvicorn settings `csghub serve` uses.
wrk (Debian's `wrk`, its plain command line, no Lua) drives each target for `--duration` seconds with
`--connections` connections, right after a run of the baseline, `--rounds` times; the medians are
printed. Targets: /health, HF model info (/api/models/{ns}/{name}) and resolve of a small (non-LFS)
file (.gitattributes), anonymous and with a token.

Besides requests per second (the ratio the targets are set in), each run records the CPU time the
server process spent per request: on a machine shared with other work that figure moves far less than
throughput, and its ratio to the baseline's is what the throughput ratio would be on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil

from benches.common import live_hub

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_BASELINE_PORT_RE = re.compile(rb"listening on (\d+)")


def serve_baseline() -> None:
    """The baseline server: run in its own process by `--baseline-server`."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from csghub.config import Settings
    from csghub.http.connections import bounded_protocol

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    settings = Settings()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening on {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        Starlette(routes=[Route("/health", health)]),
        log_level="warning",
        timeout_keep_alive=30,
        http=bounded_protocol(max_header_bytes=settings.max_header_bytes, header_timeout=settings.client_timeout),
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def baseline_server() -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benches.bench_request_overhead", "--baseline-server"], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        match = _BASELINE_PORT_RE.search(proc.stdout.readline())
        if match is None:
            raise RuntimeError("the baseline server did not start")
        url = f"http://127.0.0.1:{int(match[1])}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, requests per second and p99 (ms) from wrk's --latency report; any non-2xx answer or
    socket error fails the run, since the figures would then measure errors."""
    total = re.search(r"^\s+(\d+) requests in", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if total is None or rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's report:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad is not None:
        raise RuntimeError(f"{bad[1]} requests failed:\n{output}")
    errors = re.search(r"Socket errors: (.*)", output)
    if errors is not None and re.search(r"(?:read|write|timeout) [1-9]", errors[1]):
        raise RuntimeError(f"socket errors under load:\n{output}")
    return {"requests": int(total[1]), "rps": float(rps[1]), "p99_ms": _millis(p99[1])}


def run_wrk(
    url: str, *, connections: int, duration: float, token: str | None = None, server: psutil.Process | None = None
) -> dict[str, float]:
    """One wrk run; with `server`, also the CPU time that process spent per request (µs), a figure that
    other work on the machine disturbs much less than requests per second."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    before = sum(server.cpu_times()[:2]) if server else 0.0
    proc = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration + 60, check=True)
    figures = parse_wrk(proc.stdout)
    if server is not None:
        figures["cpu_us"] = (sum(server.cpu_times()[:2]) - before) / figures["requests"] * 1e6
    return figures


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def measure(
    bare: str,
    bare_pid: int,
    targets: dict[str, tuple[str, str | None]],
    hub_pid: int,
    *,
    rounds: int,
    connections: int,
    duration: float,
) -> dict[str, dict[str, float]]:
    """Each target right after a run of the baseline, `rounds` times; medians of the figures and ratios."""
    bare_server, hub_server = psutil.Process(bare_pid), psutil.Process(hub_pid)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in ["bare", *targets]}
    for _ in range(rounds):
        for name, (url, credential) in targets.items():
            base = run_wrk(f"{bare}/health", connections=connections, duration=duration, server=bare_server)
            found = run_wrk(url, connections=connections, duration=duration, token=credential, server=hub_server)
            found["ratio"] = found["rps"] / base["rps"]
            found["cpu_ratio"] = base["cpu_us"] / found["cpu_us"]
            runs["bare"].append(base)
            runs[name].append(found)
    return {name: {key: _median([run[key] for run in found]) for key in found[0]} for name, found in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        serve_baseline()
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian's package; the bench uses its plain CLI)")

    from csghub.core.names import RepoId, RepoType
    from csghub.services.identity import tokens
    from csghub.services.repositories import repos as repo_service

    env = {"CSGHUB_RATE_LIMIT_PER_TOKEN": "0", "CSGHUB_RATE_LIMIT_PER_ADDRESS": "0"}
    with live_hub(env) as hub, baseline_server() as (bare, bare_pid):
        user, token = hub.user()
        owner = tokens.actor_from_token(hub.hub, token)[0]
        started = time.monotonic()
        # Straight through the service, in this process: the same rows and directories the API makes.
        for i in range(args.repos):
            repo_service.create_repo(hub.hub, owner, RepoType.MODEL, RepoId.of(user, f"model-{i:04d}"))
        print(f"{args.repos} repositories in {time.monotonic() - started:.1f} s", file=sys.stderr)
        repo = f"{user}/model-{args.repos // 2:04d}"
        targets = {
            "health": (f"{hub.url}/health", None),
            "model_info": (f"{hub.url}/api/models/{repo}", None),
            "model_info_token": (f"{hub.url}/api/models/{repo}", token),
            "resolve": (f"{hub.url}/{repo}/resolve/main/.gitattributes", None),
            "resolve_token": (f"{hub.url}/{repo}/resolve/main/.gitattributes", token),
        }
        for url, credential in targets.values():
            headers = {"Authorization": f"Bearer {credential}"} if credential else {}
            httpx.get(url, headers=headers, timeout=30).raise_for_status()  # warm, and prove it answers
        assert hub.process is not None
        figures = measure(
            bare,
            bare_pid,
            targets,
            hub.process.pid,
            rounds=args.rounds,
            connections=args.connections,
            duration=args.duration,
        )
    print(json.dumps({"bench": "request_overhead", "repos": args.repos, "rounds": args.rounds, **figures}))
    table = [f"{'target':<18}{'req/s':>9}{'p99 ms':>9}{'ratio':>8}{'cpu us/req':>12}{'cpu ratio':>11}"]
    for name, row in figures.items():
        table.append(
            f"{name:<18}{row['rps']:>9.0f}{row['p99_ms']:>9.2f}{row.get('ratio', 1.0):>8.3f}"
            f"{row['cpu_us']:>12.0f}{row.get('cpu_ratio', 1.0):>11.3f}"
        )
    print("\n".join(table))


if __name__ == "__main__":
    main()
