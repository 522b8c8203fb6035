"""What metrics and the access log cost: wrk's requests per second against two hubs alike but for
`metrics_enabled` and `access_log`, on the same machine in the same run.

    python -m benches.bench_metrics_overhead [--duration 2] [--connections 16] [--rounds 5]

Both hubs hold the same public model; one runs with metrics on and the text access log (the defaults),
the other with both off (it still gives each request its id). wrk (Debian's package, plain command line)
drives HF model info (/api/models/{ns}/{name}) on each hub in turn, anonymous and with a token, `--rounds`
times; the medians are printed. The access log goes where `csghub serve`'s stderr goes: a file, here.

Besides requests per second, each run records the server process's CPU time per request, which other
work on a shared machine disturbs far less; its ratio is what the throughput ratio would be on an idle one.
Overhead = 1 - on/off; the target is under 5%.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from contextlib import ExitStack

import httpx
import psutil

from benches.bench_request_overhead import run_wrk
from benches.common import live_hub

_LIMITS = {"CSGHUB_RATE_LIMIT_PER_TOKEN": "0", "CSGHUB_RATE_LIMIT_PER_ADDRESS": "0"}
ON = {**_LIMITS, "CSGHUB_METRICS_ENABLED": "true", "CSGHUB_ACCESS_LOG": "text"}
OFF = {**_LIMITS, "CSGHUB_METRICS_ENABLED": "false", "CSGHUB_ACCESS_LOG": "off"}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian's package; the bench uses its plain CLI)")

    from csghub.core.names import RepoId, RepoType
    from csghub.services.identity import tokens
    from csghub.services.repositories import repos as repo_service

    with ExitStack() as stack:
        hubs = {"on": stack.enter_context(live_hub(ON)), "off": stack.enter_context(live_hub(OFF))}
        targets: dict[str, dict[str, tuple[str, str | None]]] = {}
        for label, hub in hubs.items():
            user, token = hub.user("bench")
            owner = tokens.actor_from_token(hub.hub, token)[0]
            repo_service.create_repo(hub.hub, owner, RepoType.MODEL, RepoId.of(user, "model"))
            url = f"{hub.url}/api/models/{user}/model"
            targets[label] = {"model_info": (url, None), "model_info_token": (url, token)}
            for target, credential in targets[label].values():
                headers = {"Authorization": f"Bearer {credential}"} if credential else {}
                httpx.get(target, headers=headers, timeout=30).raise_for_status()  # warm, and prove it answers
        servers = {label: psutil.Process(hub.process.pid) for label, hub in hubs.items() if hub.process}
        runs: dict[str, list[dict[str, float]]] = {}
        for round_number in range(args.rounds):
            for name in ("model_info", "model_info_token"):
                found = {}
                # Each hub goes first in every other round: whichever runs second met a warmer machine.
                for label in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
                    url, credential = targets[label][name]
                    found[label] = run_wrk(
                        url,
                        connections=args.connections,
                        duration=args.duration,
                        token=credential,
                        server=servers[label],
                    )
                    runs.setdefault(f"{name}_{label}", []).append(found[label])
                runs.setdefault(f"{name}_ratio", []).append(
                    {
                        "ratio": found["on"]["rps"] / found["off"]["rps"],
                        "cpu_ratio": found["off"]["cpu_us"] / found["on"]["cpu_us"],
                    }
                )
    figures = {name: {key: _median([run[key] for run in found]) for key in found[0]} for name, found in runs.items()}
    print(json.dumps({"bench": "metrics_overhead", "rounds": args.rounds, **figures}))
    header = f"{'target':<18}{'off req/s':>11}{'on req/s':>10}{'ratio':>8}"
    table = [f"{header}{'cpu us off':>12}{'cpu us on':>11}{'cpu ratio':>11}"]
    for name in ("model_info", "model_info_token"):
        off, on, ratio = figures[f"{name}_off"], figures[f"{name}_on"], figures[f"{name}_ratio"]
        table.append(
            f"{name:<18}{off['rps']:>11.0f}{on['rps']:>10.0f}{ratio['ratio']:>8.3f}"
            f"{off['cpu_us']:>12.0f}{on['cpu_us']:>11.0f}{ratio['cpu_ratio']:>11.3f}"
        )
    print("\n".join(table))


if __name__ == "__main__":
    main()
