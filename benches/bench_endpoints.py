"""Inference endpoints, each figure a ratio or a difference against a baseline measured in the same run:

    python -m benches.bench_endpoints [--rounds 5] [--tokens 128] [--requests 40]

1. Time from Deploy (the POST /api/v1/models/{ns}/{name}/run call) to the first answer through the
   gateway, for the tiny chat model (one replica, the runtime environment already built: it is built
   first, outside the timing). Target < 15 s.
2. Gateway overhead per request: p50 of `max_tokens=1` chat requests through the gateway minus p50 of the
   same requests sent straight to the replica, interleaved in `--rounds` rounds of `--requests` each, one
   keep-alive connection per side. Target < 2 ms.
3. Tokens per second through the gateway (non-streaming and streaming, greedy, `--tokens` new tokens)
   against the same model's `generate()` called in one process by the runtime environment's python with
   the replica's thread count, interleaved round by round. Target >= 0.9.

The tiny test model (tests/support/tiny_models.py) is pushed to a fresh hub; everything runs on loopback.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx
import psutil
from huggingface_hub import HfApi
from sqlalchemy import select
from tests.support.tiny_models import shared_runtimes_dir, tiny_chat_model, transformers_environment

from benches.common import live_hub
from csghub.db.models import ComputeReplica

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
# The in-process baseline: loads the model once, then answers "N" lines with one generate() of N new tokens.
GENERATE = textwrap.dedent(
    """
    import json, sys, time
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(int(sys.argv[2]))
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
    messages = json.loads(sys.argv[3])
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    print("ready", flush=True)
    for line in sys.stdin:
        wanted = int(line)
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=wanted, do_sample=False)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "tokens": int(out.shape[1] - inputs["input_ids"].shape[1])}), flush=True)
    """
)


def _p50(values: list[float]) -> float:
    return statistics.median(values)


def _chat(client: httpx.Client, url: str, model: str, tokens: int, *, stream: bool = False) -> tuple[float, int]:
    """Seconds for one chat request and the completion tokens it reported."""
    body = {"model": model, "messages": MESSAGES, "max_tokens": tokens, "temperature": 0, "stream": stream}
    started = time.perf_counter()
    if not stream:
        answer = client.post(f"{url}/chat/completions", json=body)
        answer.raise_for_status()
        return time.perf_counter() - started, int(answer.json()["usage"]["completion_tokens"])
    used = 0
    with client.stream("POST", f"{url}/chat/completions", json=body) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if line.startswith("data:") and '"usage"' in line:
                used = int(json.loads(line[5:])["usage"]["completion_tokens"])
    return time.perf_counter() - started, used


def _first_answer(client: httpx.Client, gateway: str, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            answer = client.post(f"{gateway}/chat/completions", json={"messages": MESSAGES, "max_tokens": 1})
            if answer.status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # a benchmark's poll: the figure is good to a twentieth of a second
    raise RuntimeError("the endpoint did not answer in time")


def _replica(live: Any, deploy_id: int) -> str:
    with live.hub.db() as session:
        urls = session.scalars(
            select(ComputeReplica.url).where(ComputeReplica.instance_id == deploy_id, ComputeReplica.state == "healthy")
        ).all()
    return f"{urls[0]}/v1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    model_dir = tiny_chat_model()  # builds the transformers environment too, before any timing
    python = transformers_environment().python_path
    assert python is not None
    env = {
        "CSGHUB_RUNTIMES_DIR": str(shared_runtimes_dir()),
        "CSGHUB_COMPUTE_STOP_ON_SHUTDOWN": "true",
        "CSGHUB_RATE_LIMIT_PER_TOKEN": "0",
        "CSGHUB_RATE_LIMIT_PER_ADDRESS": "0",
    }
    results: dict[str, Any] = {}
    with live_hub(env) as live:
        owner, token = live.user("bench")
        hf = HfApi(endpoint=live.url, token=token)
        hf.create_repo(f"{owner}/tiny-chat")
        hf.upload_folder(repo_id=f"{owner}/tiny-chat", folder_path=model_dir, commit_message="the tiny model")
        headers = {"Authorization": f"Bearer {token}"}
        gateway = f"{live.url}/endpoints/{owner}/bot/v1"
        with httpx.Client(headers=headers, timeout=300) as client:
            started = time.monotonic()
            deployed = client.post(f"{live.url}/api/v1/models/{owner}/tiny-chat/run", json={"deploy_name": "bot"})
            deployed.raise_for_status()
            results["deploy_to_first_answer_s"] = round(_first_answer(client, gateway, started + 300) - started, 2)
            deploy_id = deployed.json()["data"]["deploy_id"]
            replica = _replica(live, deploy_id)
            served = httpx.get(f"{replica}/models", timeout=30).json()["data"][0]["id"]
            assert live.process is not None
            results.update(_overhead(client, gateway, replica, served, live.process.pid, args))
            results.update(_throughput(client, gateway, replica, served, python, args))
    print(json.dumps(results, indent=2))


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _overhead(
    client: httpx.Client, gateway: str, replica: str, served: str, hub_pid: int, args: argparse.Namespace
) -> dict[str, float]:
    """Also the hub's own CPU time per gateway request (less what it spends meanwhile on its own when
    requests go straight to the replica): on a machine shared with other work, that moves far less
    than latencies do."""
    direct_client = httpx.Client(timeout=60)
    gateway_times: list[float] = []
    direct_times: list[float] = []
    cpu = {"gateway": 0.0, "direct": 0.0}
    for _ in range(3):  # warm both paths (connections, the engine's first requests)
        _chat(client, gateway, "bot", 1)
        _chat(direct_client, replica, served, 1)
    for _ in range(args.rounds):
        before = _cpu(hub_pid)
        direct_times += [_chat(direct_client, replica, served, 1)[0] for _ in range(args.requests)]
        middle = _cpu(hub_pid)
        gateway_times += [_chat(client, gateway, "bot", 1)[0] for _ in range(args.requests)]
        cpu["direct"] += middle - before
        cpu["gateway"] += _cpu(hub_pid) - middle
    direct_client.close()
    gateway_ms, direct_ms = _p50(gateway_times) * 1000, _p50(direct_times) * 1000
    # The hub's idle CPU (its supervisor) per second, measured while the replica was called directly.
    idle_rate = cpu["direct"] / sum(direct_times)
    hub_cpu_ms = (cpu["gateway"] - idle_rate * sum(gateway_times)) / len(gateway_times) * 1000
    return {
        "direct_p50_ms": round(direct_ms, 2),
        "gateway_p50_ms": round(gateway_ms, 2),
        "gateway_overhead_p50_ms": round(gateway_ms - direct_ms, 2),
        "hub_cpu_ms_per_gateway_request": round(hub_cpu_ms, 2),
    }


def _throughput(
    client: httpx.Client, gateway: str, replica: str, served: str, python: str, args: argparse.Namespace
) -> dict[str, float]:
    threads = 1  # the default tier's one CPU: the replica runs with one torch thread (runtime/local.py)
    baseline = subprocess.Popen(
        [python, "-c", GENERATE, served, str(threads), json.dumps(MESSAGES)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert baseline.stdin is not None and baseline.stdout is not None
    psutil.Process(baseline.pid).cpu_affinity(psutil.Process().cpu_affinity()[:threads] or None)
    assert baseline.stdout.readline().strip() == "ready"

    def generate() -> tuple[float, int]:
        assert baseline.stdin is not None and baseline.stdout is not None
        baseline.stdin.write(f"{args.tokens}\n")
        baseline.stdin.flush()
        done = json.loads(baseline.stdout.readline())
        return float(done["seconds"]), int(done["tokens"])

    rates: dict[str, list[float]] = {"generate": [], "direct": [], "gateway": [], "gateway_stream": []}
    direct = httpx.Client(timeout=300)
    counts: set[int] = set()
    try:
        generate(), _chat(client, gateway, "bot", args.tokens)  # warm-up
        for _ in range(args.rounds):
            for name, call in (
                ("generate", generate),
                ("direct", lambda: _chat(direct, replica, served, args.tokens)),
                ("gateway", lambda: _chat(client, gateway, "bot", args.tokens)),
                ("gateway_stream", lambda: _chat(client, gateway, "bot", args.tokens, stream=True)),
            ):
                for _ in range(3):
                    seconds, tokens = call()
                    counts.add(tokens)
                    rates[name].append(tokens / seconds)
    finally:
        direct.close()
        baseline.stdin.close()
        baseline.wait(timeout=30)
    medians = {name: _p50(values) for name, values in rates.items()}
    return {
        "new_tokens_per_request": max(counts),
        "generate_tokens_per_s": round(medians["generate"], 1),
        "direct_tokens_per_s": round(medians["direct"], 1),
        "gateway_tokens_per_s": round(medians["gateway"], 1),
        "gateway_stream_tokens_per_s": round(medians["gateway_stream"], 1),
        "gateway_vs_generate": round(medians["gateway"] / medians["generate"], 3),
        "gateway_stream_vs_generate": round(medians["gateway_stream"] / medians["generate"], 3),
        "gateway_vs_direct": round(medians["gateway"] / medians["direct"], 3),
    }


if __name__ == "__main__":
    sys.exit(main())
