"""Time to a usable environment for a space with a requirements.txt: its layer built on the SDK's
environment (cold), the layer found built (cached), and the baseline, a flat venv holding the SDK's
packages and the requirements, built from scratch as a hub without layers would for each space. Usable =
built, and its python imports the SDK and the extra package. The SDK's environment itself is built once
beforehand (shared by every space of that SDK), and pip's download cache is warm for all three.

    python -m benches.bench_space_environment [--sdk gradio] [--requirement python-slugify==9.2.0]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.tiny_models import builtin_environment, shared_runtimes_dir

from csghub.runtime import environments
from csghub.runtime.base import Environment
from csghub.runtime.frameworks import builtin, space_environment


def usable(environment: Environment, runtimes: Path, log: Path, imports: str) -> tuple[float, float]:
    """(seconds to the environment's interpreter, seconds more until it has imported `imports`)."""
    began = time.perf_counter()
    python = environments.ensure(environment, log, runtimes_dir=runtimes)
    ready = time.perf_counter()
    subprocess.run([python, "-c", f"import {imports}"], check=True, timeout=600)
    return ready - began, time.perf_counter() - ready


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sdk", default="gradio")
    parser.add_argument("--requirement", default="python-slugify==9.2.0")
    parser.add_argument("--module", default="slugify", help="what the requirement is imported as")
    args = parser.parse_args()
    framework = builtin(args.sdk)
    assert framework is not None
    began = time.perf_counter()
    builtin_environment(args.sdk)
    print(f"{args.sdk} environment ready (built or found) in {time.perf_counter() - began:.1f} s")
    runtimes = shared_runtimes_dir()
    layer = space_environment(args.sdk, (args.requirement,))
    imports = f"{args.sdk}, {args.module}"
    with tempfile.TemporaryDirectory(prefix="csghub-bench-env-", dir="/tmp") as tmp:
        logs = Path(tmp)
        shutil.rmtree(environments.env_dir(runtimes, layer), ignore_errors=True)
        cold = usable(layer, runtimes, logs / "cold.log", imports)
        cached = usable(layer, runtimes, logs / "cached.log", imports)
        layer_size = _size(environments.env_dir(runtimes, layer))
        shutil.rmtree(environments.env_dir(runtimes, layer), ignore_errors=True)
        flat = Environment(f"{args.sdk}-flat", "1", (*framework.environment.all_packages, args.requirement))
        baseline = usable(flat, logs / "flat", logs / "flat.log", imports)
        flat_size = _size(logs / "flat")
    print(f"requirements.txt: {args.requirement}   (seconds: environment ready + first import of {imports})")
    for what, (built, imported), size in (
        ("layer, cold (built)", cold, layer_size),
        ("layer, cached", cached, layer_size),
        ("flat venv (baseline)", baseline, flat_size),
    ):
        print(f"{what:21} {built:7.1f} + {imported:5.1f} = {built + imported:7.1f} s   ({size / 1e6:,.1f} MB)")
    print(f"environment ready, baseline / cold layer: {baseline[0] / cold[0]:.1f}x")
    print(f"usable (with the import), baseline / cold layer: {sum(baseline) / sum(cold):.1f}x,", end=" ")
    print(f"baseline / cached: {sum(baseline) / sum(cached):.1f}x")


if __name__ == "__main__":
    main()
