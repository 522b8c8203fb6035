"""What the spaces' door adds to a request: p50 latency of a small JSON route of an app through the hub's
`/apps/{owner}/{name}/` against the same app reached directly.

    python -m benches.bench_space_proxy [--requests 400] [--rounds 3]

The app (a Starlette route answering {"pong": true} under the space's base path) and the hub run in
processes of their own on loopback: the hub as `csghub serve` runs it, without the compute supervisor
(the bench records the space's instance and its replica's address as the spaces service would, and
nothing must start or stop it). One keep-alive client sends `--requests` requests each way,
alternating direct and through the door, so that both meet the same machine load; `--rounds` times.
Printed: p50 and p90 of each, and the p50 added by the door, for a public space (anonymous) and a
private one (through a visitor's capability).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from huggingface_hub import HfApi


def _replica_server(base: str) -> None:
    from tests.support.space_apps import Replica, serve

    served = serve(Replica(base).app())
    print(f"serving {served.url}", flush=True)
    sys.stdin.read()  # until the bench closes it


def _hub_server(data_dir: str) -> None:
    from tests.support.space_apps import in_process_hub

    with in_process_hub(Path(data_dir)) as live:
        print(f"serving {live.url}", flush=True)
        sys.stdin.read()


@contextmanager
def _process(*args: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSGHUB_", "HF_"))}
    env["CSGHUB_LOG_LEVEL"] = "warning"
    child = subprocess.Popen(
        [sys.executable, "-m", "benches.bench_space_proxy", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("serving "):
            raise RuntimeError(f"the server did not start: {line!r}")
        yield line.split()[1]
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _timed(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    answer = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 200 or answer.json() != {"pong": True}:
        raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
    return elapsed


def _measure(direct: str, door: str, requests: int) -> dict[str, float]:
    with httpx.Client(timeout=30) as client:
        for _ in range(20):  # warm both paths (connections, caches)
            _timed(client, direct)
            _timed(client, door)
        times: dict[str, list[float]] = {"direct": [], "door": []}
        for _ in range(requests):
            times["direct"].append(_timed(client, direct))
            times["door"].append(_timed(client, door))
    result: dict[str, float] = {}
    for key, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        result[f"{key}_p50_ms"] = round(statistics.median(values), 3)
        result[f"{key}_p90_ms"] = round(deciles[8], 3)
    result["added_p50_ms"] = round(result["door_p50_ms"] - result["direct_p50_ms"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replica-server")
    parser.add_argument("--hub-server")
    args = parser.parse_args()
    if args.replica_server:
        _replica_server(args.replica_server)
        return
    if args.hub_server:
        _hub_server(args.hub_server)
        return
    from tests.support.space_apps import put_space

    from csghub.config import load_settings
    from csghub.services.identity import accounts, tokens
    from csghub.services.spaces import routing
    from csghub.wiring import build_hub

    owner = f"bench{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="csghub-bench-", dir="/tmp") as tmp:
        data_dir = Path(tmp) / "data"
        with _process("--hub-server", str(data_dir)) as hub_url:
            hub = build_hub(load_settings({}, None, {"data_dir": data_dir}), run_migrations=False)
            accounts.create_user(hub, owner, email=f"{owner}@example.com", password=secrets.token_hex(8))
            token = tokens.create_token(hub, owner, scope="write")[0]
            spaces = {"public": f"{owner}/pub", "private": f"{owner}/priv"}
            report: dict[str, object] = {"requests": args.requests, "rounds": args.rounds}
            for kind, repo in spaces.items():
                HfApi(endpoint=hub_url, token=token).create_repo(
                    repo, repo_type="space", space_sdk="gradio", private=kind == "private"
                )
                with _process("--replica-server", f"/apps/{repo}/") as replica_url:
                    put_space(hub, repo, sdk="gradio", url=replica_url)
                    prefix = f"/apps/{repo}/"
                    if kind == "private":
                        found = accounts.find_user_view(hub, owner)
                        assert found is not None
                        visitor = accounts.actor_from_user_id(hub, found.id)
                        route = routing.space_route(hub, visitor, *repo.split("/"))
                        prefix += f"~{routing.issue_capability(hub, visitor, route)}/"
                    rounds = [
                        _measure(f"{replica_url}/apps/{repo}/ping", f"{hub_url}{prefix}ping", args.requests)
                        for _ in range(args.rounds)
                    ]
                    report[kind] = {
                        "rounds": rounds,
                        "added_p50_ms_median": statistics.median(r["added_p50_ms"] for r in rounds),
                    }
            print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
