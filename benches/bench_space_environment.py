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


def usable(environment: Environment, runtimes: Path, log: Path, imports: str) -> float:
    began = time.perf_counter()
    python = environments.ensure(environment, log, runtimes_dir=runtimes)
    subprocess.run([python, "-c", f"import {imports}"], check=True, timeout=600)
    return time.perf_counter() - began


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
        flat = Environment(f"{args.sdk}-flat", "1", (*framework.packages, args.requirement))
        baseline = usable(flat, logs / "flat", logs / "flat.log", imports)
        size = _size(logs / "flat")
    print(f"requirements.txt: {args.requirement}")
    print(f"layer, cold (built):   {cold:7.1f} s  ({layer_size / 1e6:.1f} MB)")
    print(f"layer, cached:         {cached:7.1f} s")
    print(f"flat venv (baseline):  {baseline:7.1f} s  ({size / 1e9:.2f} GB)")
    print(f"baseline / cold layer: {baseline / cold:7.1f}x   baseline / cached: {baseline / cached:7.1f}x")


if __name__ == "__main__":
    main()
