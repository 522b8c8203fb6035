"""Request overhead against a bare Starlette app on the same uvicorn: wrk's requests per second and p99.

    python -m benches.bench_request_overhead [--repos 200] [--duration 4] [--connections 16] [--rounds 2]

One bare Starlette app (a single JSON route) and one `csghub serve` with `--repos` public repositories
and rate limits off run side by side on loopback, both under the uvicorn settings `csghub serve` uses.
wrk (Debian's `wrk`, its plain command line, no Lua) drives each target in turn for `--duration`
seconds with `--connections` connections; each round measures the baseline again just before the hub's
targets, so the ratios compare figures taken under the same load from other work on the machine.
Targets: /health, HF model info (/api/models/{ns}/{name}) and resolve of a small (non-LFS) file,
anonymous and with a token.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

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
def baseline_server() -> Iterator[str]:
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
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests per second and p99 (ms) from wrk's --latency report; a non-2xx answer is a failed run."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's report:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad is not None:
        raise RuntimeError(f"{bad[1]} requests failed; the figures would measure errors:\n{output}")
    errors = re.search(r"Socket errors: (.*)", output)
    if errors is not None and re.search(r"(?:read|write|timeout) [1-9]", errors[1]):
        raise RuntimeError(f"socket errors under load:\n{output}")
    return {"rps": round(float(rps[1]), 1), "p99_ms": round(_millis(p99[1]), 2)}


def run_wrk(url: str, *, connections: int, duration: float, token: str | None = None) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    proc = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        serve_baseline()
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian's package; the bench uses its plain CLI)")

    from csghub.core.names import RepoId, RepoType
    from csghub.services import repos as repo_service
    from csghub.services import tokens

    env = {"CSGHUB_RATE_LIMIT_PER_TOKEN": "0", "CSGHUB_RATE_LIMIT_PER_ADDRESS": "0"}
    with live_hub(env) as hub, baseline_server() as bare:
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
            "resolve": (f"{hub.url}/{repo}/resolve/main/README.md", None),
            "resolve_token": (f"{hub.url}/{repo}/resolve/main/README.md", token),
        }
        for url, credential in targets.values():
            headers = {"Authorization": f"Bearer {credential}"} if credential else {}
            httpx.get(url, headers=headers, timeout=30).raise_for_status()  # warm, and prove it answers
        rounds: list[dict[str, dict[str, float]]] = []
        for _ in range(args.rounds):
            figures = {"bare": run_wrk(f"{bare}/health", connections=args.connections, duration=args.duration)}
            for name, (url, credential) in targets.items():
                figures[name] = run_wrk(url, connections=args.connections, duration=args.duration, token=credential)
            for name in targets:
                figures[name]["ratio"] = round(figures[name]["rps"] / figures["bare"]["rps"], 3)
            rounds.append(figures)
            print(json.dumps({"bench": "request_overhead", "repos": args.repos, **figures}), flush=True)
    table = [f"{'target':<18}{'req/s':>10}{'p99 ms':>10}{'ratio':>8}"]
    for name in ["bare", *targets]:
        for figures in rounds:
            row = figures[name]
            table.append(f"{name:<18}{row['rps']:>10.0f}{row['p99_ms']:>10.2f}{row.get('ratio', 1.0):>8.3f}")
    print("\n".join(table))


if __name__ == "__main__":
    main()
