"""How long a service takes on Ray from the runner's start() to answering HTTP, with PYTHON as an
interpreter built on this machine (the cluster is this machine) versus a runtime_env pip list that Ray
installs on the node (first time, then cached), and what the test cluster costs in memory (PSS).

A real Ray head in a loopback-only network namespace, as the tests start it; the service is
`python -m http.server`; the pip list is one small package (`--package`), so the figure is Ray's own
cost of a pip runtime_env (virtualenv clone + pip), not the package's download.

    python -m benches.bench_ray_start [--rounds 3] [--package six]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time

import httpx
from tests.support.ray_cluster import ray_cluster_in_namespace

from csghub.runtime.base import HOST, PORT, PYTHON, Environment, ProcessSpec, Resources, WorkKind
from csghub.runtime.ray import RayRunner


def answering(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def time_to_answer(runner: RayRunner, environment: Environment) -> float:
    spec = ProcessSpec(
        key=f"bench-{secrets.token_hex(4)}",
        kind=WorkKind.SERVICE,
        argv=(PYTHON, "-m", "http.server", PORT, "--bind", HOST),
        environment=environment,
        resources=Resources(cpus=0.5, memory_mb=256),
    )
    began = time.perf_counter()
    handle = runner.start(spec)
    while not answering(handle.url):
        if time.perf_counter() - began > 900:
            raise TimeoutError(spec.key)
        time.sleep(0.02)
    took = time.perf_counter() - began
    runner.stop(handle, grace=2)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--package", default="six")
    args = parser.parse_args()
    began = time.perf_counter()
    with ray_cluster_in_namespace() as cluster:
        print(f"cluster up in {time.perf_counter() - began:.1f} s; {cluster.memory_pss_mb():.0f} MB PSS")
        runner = RayRunner(cluster.gcs_address, namespace=f"bench-{secrets.token_hex(3)}")
        try:
            runner.running()  # the driver's start (~2 s) is paid once per hub, not per service
            here = Environment("here", "1", (), python_path=sys.executable)
            local = [time_to_answer(runner, here) for _ in range(args.rounds)]
            print(f"built on this machine: {', '.join(f'{t:.2f}' for t in local)} s")
            pip = Environment("pip", "1", (args.package,))
            pip_times = [time_to_answer(runner, pip) for _ in range(args.rounds)]
            print(f"runtime_env pip [{args.package}]: first {pip_times[0]:.2f} s, then {pip_times[1:]} s")
            print(f"median: here {statistics.median(local):.2f} s, pip cached {statistics.median(pip_times[1:]):.2f} s")
            print(f"cluster memory now: {cluster.memory_pss_mb():.0f} MB PSS")
        finally:
            runner.close()


if __name__ == "__main__":
    main()
