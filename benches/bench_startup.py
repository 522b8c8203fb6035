"""A hub's start-up CPU: the application built with its routers' routes taken as they are (what
include_routes does) against the baseline of building every route again (what it did before).

    python -m benches.bench_startup [--rounds 5]

Each round builds the whole application (`create_app` on a fresh data dir: migrations, routes, pages)
in a fresh process, once each way, alternating; the medians of the CPU seconds the process spent
importing csghub.app and in create_app are printed. CPU time, not wall time: the test suite starts some
130 hubs per database leg on two cores, where every start's CPU is time another test waits for.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(mode: str, data_dir: Path) -> None:
    """One build of the application, in this process: prints its CPU seconds as JSON."""
    began = time.process_time()
    from csghub.app import create_app
    from csghub.config import Settings
    from csghub.http import routing

    imported = time.process_time()
    if mode == "baseline":
        routing.adopt = lambda app, route, prefix="": routing.build(app, route, prefix)
    create_app(Settings(data_dir=data_dir))
    built = time.process_time()
    print(json.dumps({"import_cpu_s": imported - began, "create_app_cpu_s": built - imported}))


def _round(mode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="csghub-bench-") as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "benches.bench_startup", "--child", mode, "--data-dir", str(Path(tmp) / "data")],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=("adopt", "baseline"))
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir)
        return
    runs: dict[str, list[dict[str, float]]] = {"adopt": [], "baseline": []}
    for _ in range(args.rounds):
        for mode in ("baseline", "adopt"):
            runs[mode].append(_round(mode))
    medians = {
        mode: {key: round(statistics.median(r[key] for r in found), 2) for key in found[0]}
        for mode, found in runs.items()
    }
    total = {mode: m["import_cpu_s"] + m["create_app_cpu_s"] for mode, m in medians.items()}
    print(
        json.dumps(
            {
                "bench": "startup",
                "rounds": args.rounds,
                **medians,
                "create_app_vs_baseline": round(
                    medians["adopt"]["create_app_cpu_s"] / medians["baseline"]["create_app_cpu_s"], 2
                ),
                "start_cpu_vs_baseline": round(total["adopt"] / total["baseline"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
