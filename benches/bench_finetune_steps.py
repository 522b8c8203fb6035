"""Training speed of a fine-tune run by the hub's worker (runtime/workers/finetune_llamafactory.py, a batch
job of the local runner) against the same training run directly: LLaMA-Factory's run_exp in a plain
python of the same `llamafactory` environment, with the very arguments the worker passed (its
train_args.json), same model, data and steps. Rounds alternate the two; the figure is the median over
rounds of the ratio of training steps per second (transformers' train_steps_per_second), target >= 0.95,
plus each side's wall time from start to exit and CPU seconds (user + system, from the kernel's accounting
of reaped children: what other work on a shared machine cannot inflate). Other work swings a single run's
speed by 10x: each round's ratio compares two runs made back to back, and the median drops the disturbed
rounds.

The job is LoRA+ on the tiny qa model and the 20 capitals (tests/support), 90 steps, no evaluation.

    python -m benches.bench_finetune_steps [--rounds 2] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.finetune_data import alpaca_rows
from tests.support.tiny_models import llamafactory_environment, tiny_qa_model

from csghub.runtime.base import PYTHON, Environment, ProcessSpec, ProcessState, Resources, WorkKind
from csghub.runtime.local import LocalProcessRunner
from csghub.runtime.offline import minimal_env
from csghub.runtime.workers import script

PARAMETERS: dict[str, Any] = {
    "stage": "sft",
    "finetuning_type": "lora",
    "lora_target": "all",
    "lora_rank": 8,
    "loraplus_lr_ratio": 16.0,
    "learning_rate": 2.0e-3,
    "num_train_epochs": 30.0,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 2,
    "lr_scheduler_type": "cosine",
    "cutoff_len": 64,
}
DIRECT = """
import json, sys
from llamafactory.train.tuner import run_exp
run_exp(json.loads(open(sys.argv[1]).read()))
"""


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def through_worker(root: Path, environment: Environment, cpus: int) -> tuple[float, float, Path]:
    """(train steps/s, wall seconds, work dir) of one job through the local runner (its child: the
    runner reaps it in status())."""
    work = root / f"job-{secrets.token_hex(3)}"
    work.mkdir()
    (work / "train.json").write_text(json.dumps(alpaca_rows()))
    job = {
        "base": {"repo": "bench/tiny-qa", "revision": "0" * 40, "local_dir": str(tiny_qa_model())},
        "data": {"format": "alpaca", "train": "train.json", "eval": None},
        "parameters": PARAMETERS,
        "evaluate": {"before": False, "after": False},
        "merge": False,
    }
    (work / "job.json").write_text(json.dumps(job))
    runner = LocalProcessRunner(root / "compute")
    argv = (PYTHON, str(script("finetune_llamafactory")), str(work))
    spec = ProcessSpec(f"bench-{work.name}", WorkKind.BATCH, argv, environment, Resources(cpus=cpus, memory_mb=4096))
    began = time.perf_counter()
    handle = runner.start(spec)
    while runner.status(handle).state is not ProcessState.EXITED:
        time.sleep(0.05)
    wall = time.perf_counter() - began
    result = json.loads((work / "result.json").read_text())
    if result["error"]:
        raise RuntimeError(result["error"])
    return result["train"]["train_steps_per_second"], wall, work


def directly(root: Path, environment: Environment, worker_dir: Path, cpus: int) -> tuple[float, float]:
    """(train steps/s, wall seconds) of run_exp in one plain process, with the worker's arguments."""
    args = json.loads((worker_dir / "train_args.json").read_text())
    output = root / f"direct-{secrets.token_hex(3)}"
    args |= {"output_dir": str(output), "resume_from_checkpoint": None}
    (root / "direct_args.json").write_text(json.dumps(args))
    assert environment.python_path is not None
    # The thread counts the local runner gives a job of `cpus` CPUs, so only the worker's own cost differs.
    threads = {name: str(cpus) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    began = time.perf_counter()
    done = subprocess.run(
        [environment.python_path, "-c", DIRECT, str(root / "direct_args.json")],
        env=minimal_env(threads),
        cwd=root,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    results = json.loads((output / "train_results.json").read_text())
    return results["train_steps_per_second"], wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    environment = llamafactory_environment()
    tiny_qa_model()  # built (once) before anything is timed
    worker_rates, worker_walls, direct_rates, direct_walls = [], [], [], []
    worker_cpu: list[float] = []
    direct_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="csghub-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        for round_ in range(args.rounds):
            cpu = children_cpu()
            rate, wall, work = through_worker(root, environment, args.cpus)
            worker_rates.append(rate)
            worker_walls.append(wall)
            worker_cpu.append(children_cpu() - cpu)
            cpu = children_cpu()
            rate, wall = directly(root, environment, work, args.cpus)
            direct_rates.append(rate)
            direct_walls.append(wall)
            direct_cpu.append(children_cpu() - cpu)
            print(
                f"round {round_ + 1}: worker {worker_rates[-1]:.2f} steps/s ({worker_walls[-1]:.1f} s wall, "
                f"{worker_cpu[-1]:.1f} s CPU), direct {direct_rates[-1]:.2f} steps/s ({direct_walls[-1]:.1f} s wall, "
                f"{direct_cpu[-1]:.1f} s CPU), ratio {worker_rates[-1] / direct_rates[-1]:.3f}",
                flush=True,
            )
    worker, direct = statistics.median(worker_rates), statistics.median(direct_rates)
    print(f"median train steps/s: worker {worker:.2f}, direct run_exp {direct:.2f}")
    print(
        f"median wall: worker {statistics.median(worker_walls):.1f} s, direct {statistics.median(direct_walls):.1f} s"
    )
    print(f"median CPU seconds: worker {statistics.median(worker_cpu):.1f}, direct {statistics.median(direct_cpu):.1f}")
    ratios = [w / d for w, d in zip(worker_rates, direct_rates, strict=True)]
    print(f"ratio worker/direct per round: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"median ratio worker/direct: {statistics.median(ratios):.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
