"""Inference endpoints, each figure a ratio or a difference against a baseline measured in the same run:

    python -m benches.bench_endpoints [--rounds 5] [--requests 40] [--tokens 128] [--models tiny,realistic]
                                      [--tiny-rounds 15] [--realistic-rounds 7] [--py-spy OUT.txt]

1. Time from Deploy (the POST /api/v1/models/{ns}/{name}/run call) to the first answer through the
   gateway, for the tiny chat model (one replica, the runtime environment already built: it is built
   first, outside the timing). Target < 15 s.
2. Gateway overhead per request: p50 of `max_tokens=1` chat requests to the tiny model through the gateway
   minus p50 of the same requests sent straight to the replica, interleaved in `--rounds` rounds of
   `--requests` each, one keep-alive connection per side. Target < 2 ms. Also the hub process's own CPU
   time per gateway request (psutil, less its idle rate measured meanwhile): on a machine shared with
   other work it moves far less than latencies do. `--py-spy` records the hub (raw folded stacks) during
   the gateway requests of the last round.
3. Tokens per second through the gateway (non-streaming and streaming, greedy, `--tokens` new tokens)
   against the same model's `generate()` called in one process: one request of each kind in turn
   (`generate()`, straight to the replica, through the gateway; each not streamed and streamed), medians
   of `--tiny-rounds` / `--realistic-rounds` requests per kind. The baseline is what a user would write:
   the runtime environment's python, the replica's thread count and its CPU (by affinity), the chat
   template applied to the messages, `generate()`, and the answer decoded, all timed. Target >= 0.9.
   Streams are also set against a stream made in that one process (`generate()` in a thread with a
   `TextIteratorStreamer`, its pieces read as they come): what serving adds to streaming itself.
   Also tokens per CPU-second of the engine's process (the baseline's, the replica's), which the
   machine's other work moves far less than wall-clock rates. For two models:
   - `tiny`: the test model (tests/support/tiny_models.py, 150k parameters): a token costs about a
     millisecond, so its figure measures the serving stack's per-token overhead, not the engine;
   - `realistic`: a Llama of CPU-sized shape (about 41M parameters: 12 layers, hidden size 512) with the
     tiny model's tokenizer and random weights, built here (cached in .cache/bench-models/), nothing
     downloaded; the seed is chosen so that greedy decoding runs to `max_tokens` without an end token.

Each model is pushed to a fresh hub and deployed with the defaults (one replica, the default tier: one
CPU); everything runs on loopback. The figures are printed as JSON, with the load average of the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from huggingface_hub import HfApi
from sqlalchemy import select
from tests.support.tiny_models import REPO, shared_runtimes_dir, tiny_chat_model, transformers_environment

from benches.common import live_hub
from csghub.db.models import ComputeReplica
from csghub.runtime.offline import minimal_env

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
# The in-process baseline: loads the model once, then answers "N" lines with one chat answer of N new
# tokens, timed as a user's call would be: chat template, generate(), decode. Called as the library's
# documentation calls it (generate() runs under torch.no_grad() itself, as it does in `transformers
# serve`); wrapped in torch.inference_mode() it was 5-20 % faster per token on the tiny model, which no
# server that calls generate() gets.
GENERATE = textwrap.dedent(
    """
    import json, sys, threading, time
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer
    torch.set_num_threads(int(sys.argv[2]))
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
    messages = json.loads(sys.argv[3])
    print("ready", flush=True)
    for line in sys.stdin:
        wanted, mode = line.split()
        started = time.perf_counter()
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        if mode == "stream":  # text as it is made: generate() in a thread, pieces read from the streamer
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
            made = {}
            def run():
                made["out"] = model.generate(**inputs, max_new_tokens=int(wanted), do_sample=False, streamer=streamer)
            worker = threading.Thread(target=run)
            worker.start()
            text = "".join(piece for piece in streamer)
            worker.join()
            new = made["out"][0, inputs["input_ids"].shape[1]:]
        else:
            out = model.generate(**inputs, max_new_tokens=int(wanted), do_sample=False)
            new = out[0, inputs["input_ids"].shape[1]:]
            text = tokenizer.decode(new, skip_special_tokens=True)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "tokens": int(new.shape[0]), "chars": len(text)}), flush=True)
    """
)
# The realistic model: the tiny model's tokenizer and chat template on a CPU-sized Llama, random weights.
# argv: the tiny model's directory, the output directory, the new tokens greedy decoding must reach.
REALISTIC = textwrap.dedent(
    """
    import json, shutil, sys
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    source, out, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tokenizer = AutoTokenizer.from_pretrained(source)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=512, intermediate_size=1536, num_hidden_layers=12,
        num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    for seed in range(20):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).eval()
        with torch.inference_mode():
            made = model.generate(**inputs, max_new_tokens=wanted, do_sample=False).shape[1]
        made -= inputs["input_ids"].shape[1]
        if made == wanted:
            break
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.copy(f"{source}/README.md", f"{out}/README.md")
    print(json.dumps({"seed": seed, "parameters": sum(p.numel() for p in model.parameters()), "tokens": made}))
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


def realistic_model(wanted: int) -> Path:
    """The realistic model, built once per builder script, environment and token count (a minute or two)."""
    environment = transformers_environment()
    digest = hashlib.sha256(REALISTIC.encode() + environment.key.encode() + str(wanted).encode()).hexdigest()[:16]
    done = REPO / ".cache" / "bench-models" / digest
    if not done.is_dir():
        partial = done.with_name(f"{digest}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        assert environment.python_path is not None
        built = subprocess.run(
            [environment.python_path, "-c", REALISTIC, str(tiny_chat_model()), str(partial), str(wanted)],
            env=minimal_env({"OMP_NUM_THREADS": "2"}),
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"built the realistic model: {built.stdout.strip()}", file=sys.stderr)
        partial.rename(done)
    return done


def _deploy(live: Any, client: httpx.Client, owner: str, repo: str, folder: Path) -> tuple[str, int, float]:
    """Pushes `folder` as owner/repo and deploys it; (gateway URL, deploy id, seconds to the first answer)."""
    hf = HfApi(endpoint=live.url, token=client.headers["authorization"].split()[-1])
    hf.create_repo(f"{owner}/{repo}")
    hf.upload_folder(repo_id=f"{owner}/{repo}", folder_path=folder, commit_message="the model")
    gateway = f"{live.url}/endpoints/{owner}/{repo}-bot/v1"
    started = time.monotonic()
    deployed = client.post(f"{live.url}/api/v1/models/{owner}/{repo}/run", json={"deploy_name": f"{repo}-bot"})
    deployed.raise_for_status()
    first = _first_answer(client, gateway, started + 600) - started
    return gateway, int(deployed.json()["data"]["deploy_id"]), first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--tiny-rounds", dest="tiny_rounds", type=int, default=15, help="requests of each kind")
    parser.add_argument("--realistic-rounds", dest="realistic_rounds", type=int, default=7)
    parser.add_argument("--models", default="tiny,realistic", help="whose tokens/s to measure: tiny, realistic")
    parser.add_argument("--py-spy", dest="py_spy", default="", help="record the hub during gateway requests here")
    args = parser.parse_args()
    models = {"tiny": tiny_chat_model()}  # builds the transformers environment too, before any timing
    if "realistic" in args.models:
        models["realistic"] = realistic_model(args.tokens)
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
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
            for name, folder in models.items():
                gateway, deploy_id, first = _deploy(live, client, owner, f"{name}-chat", folder)
                replica = _replica(live, deploy_id)
                served = httpx.get(f"{replica}/models", timeout=30).json()["data"][0]["id"]
                if name == "tiny":
                    results["deploy_to_first_answer_s"] = round(first, 2)
                    assert live.process is not None
                    results.update(_overhead(client, gateway, replica, served, live.process.pid, args))
                if name in args.models:
                    rounds = args.tiny_rounds if name == "tiny" else args.realistic_rounds
                    results[name] = _throughput(client, gateway, replica, served, python, args, rounds)
                client.put(f"{live.url}/api/v1/models/{owner}/{name}-chat/run/{deploy_id}/stop").raise_for_status()
    results["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


def _replica_process(url: str) -> psutil.Process | None:
    """The process listening on the replica's port (the engine, under its launcher's pid)."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    for connection in psutil.net_connections("tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return psutil.Process(connection.pid)
    return None


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
    for round_ in range(args.rounds):
        before = _cpu(hub_pid)
        direct_times += [_chat(direct_client, replica, served, 1)[0] for _ in range(args.requests)]
        middle = _cpu(hub_pid)
        spy = _py_spy(args.py_spy, hub_pid) if round_ == args.rounds - 1 else None
        gateway_times += [_chat(client, gateway, "bot", 1)[0] for _ in range(args.requests)]
        cpu["direct"] += middle - before
        cpu["gateway"] += _cpu(hub_pid) - middle
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it recorded when interrupted
            spy.wait(timeout=60)
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
        "hub_idle_cpu_ms_per_s": round(idle_rate * 1000, 1),  # its supervisor's health checks and records
    }


def _py_spy(out: str, pid: int) -> subprocess.Popen[bytes] | None:
    if not out:
        return None
    program = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [program, "record", "-p", str(pid), "-r", "500", "-f", "raw", "-o", out, "--nonblocking"]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches within a second; a benchmark's pause, not a synchronisation of results
    return spy


def _throughput(
    client: httpx.Client, gateway: str, replica: str, served: str, python: str, args: argparse.Namespace, rounds: int
) -> dict[str, Any]:
    # The replica's share of the machine (the default tier, runtime/local.py): one CPU by affinity, one torch
    # thread; the baseline gets the same, on the replica's own CPU.
    replica_process = _replica_process(replica)
    cpus = replica_process.cpu_affinity() if replica_process is not None else psutil.Process().cpu_affinity()[:1]
    threads = len(cpus)
    baseline = subprocess.Popen(
        [python, "-c", GENERATE, served, str(threads), json.dumps(MESSAGES)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=minimal_env({"OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}),
    )
    assert baseline.stdin is not None and baseline.stdout is not None
    psutil.Process(baseline.pid).cpu_affinity(cpus)
    assert baseline.stdout.readline().strip() == "ready"

    def generate(mode: str = "whole") -> tuple[float, int]:
        assert baseline.stdin is not None and baseline.stdout is not None
        baseline.stdin.write(f"{args.tokens} {mode}\n")
        baseline.stdin.flush()
        done = json.loads(baseline.stdout.readline())
        return float(done["seconds"]), int(done["tokens"])

    engine = replica_process or psutil.Process(baseline.pid)
    calls: dict[str, tuple[Callable[[], tuple[float, int]], psutil.Process]] = {
        "generate": (generate, psutil.Process(baseline.pid)),
        "generate_stream": (lambda: generate("stream"), psutil.Process(baseline.pid)),
        "direct": (lambda: _chat(direct, replica, served, args.tokens), engine),
        "direct_stream": (lambda: _chat(direct, replica, served, args.tokens, stream=True), engine),
        "gateway": (lambda: _chat(client, gateway, "bot", args.tokens), engine),
        "gateway_stream": (lambda: _chat(client, gateway, "bot", args.tokens, stream=True), engine),
    }
    rates: dict[str, list[float]] = {name: [] for name in calls}
    per_cpu_second: dict[str, list[float]] = {name: [] for name in calls}
    direct = httpx.Client(timeout=600)
    counts: set[int] = set()
    try:
        generate(), generate("stream"), _chat(client, gateway, "bot", args.tokens)  # warm-up
        # One request of each kind in turn, so that each kind meets the same mix of the machine's other work.
        for _ in range(rounds):
            for name, (call, process) in calls.items():
                cpu_before = _process_cpu(process)
                seconds, tokens = call()
                counts.add(tokens)
                rates[name].append(tokens / seconds)
                per_cpu_second[name].append(tokens / max(_process_cpu(process) - cpu_before, 1e-6))
    finally:
        direct.close()
        baseline.stdin.close()
        baseline.wait(timeout=30)
    medians = {name: _p50(values) for name, values in rates.items()}
    by_cpu = {name: _p50(values) for name, values in per_cpu_second.items()}
    figures: dict[str, Any] = {"replica_cpus": threads, "requests_per_kind": rounds, "new_tokens": sorted(counts)}
    for name in calls:
        figures[f"{name}_tokens_per_s"] = round(medians[name], 1)
    for name in ("direct", "direct_stream", "gateway", "gateway_stream"):
        figures[f"{name}_vs_generate"] = round(medians[name] / medians["generate"], 3)
    figures["gateway_vs_direct"] = round(medians["gateway"] / medians["direct"], 3)
    # Streams against a stream made in one process (TextIteratorStreamer): what serving adds to streaming.
    for name in ("direct_stream", "gateway_stream"):
        figures[f"{name}_vs_generate_stream"] = round(medians[name] / medians["generate_stream"], 3)
    figures["gateway_stream_vs_direct_stream"] = round(medians["gateway_stream"] / medians["direct_stream"], 3)
    # Tokens per CPU-second of the engine's process (the baseline's, the replica's): what each way costs
    # the machine, which the other work on a shared machine moves far less than it moves wall-clock rates.
    for name in ("direct", "direct_stream", "gateway", "gateway_stream"):
        figures[f"{name}_vs_generate_per_cpu_second"] = round(by_cpu[name] / by_cpu["generate"], 3)
    return figures


def _process_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


if __name__ == "__main__":
    sys.exit(main())
