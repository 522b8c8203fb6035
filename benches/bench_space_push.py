"""Time from a push to a running Gradio app on a live hub: the push (git over HTTP) until the space's
status says running on the pushed commit. Three cases: a space with no requirements.txt (the SDK's
environment is built and shared: only the checkout and the app's start), a requirements.txt whose layer
is not built yet (cold: pip installs it over the SDK's environment), and a second space with the same
requirements (cached: the layer is reused). The SDK's environment is built beforehand, as scripts/test
does; the layer is removed before the cold run (its default requirement is one no test layers, so the
removal never pulls an environment from under a test sharing the runtimes directory).

    python -m benches.bench_space_push [--runs 2] [--requirement text-unidecode==1.3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from huggingface_hub import HfApi
from tests.support.clients import git, setup_git_home
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import shared_runtimes_dir

from benches.common import live_hub
from csghub.runtime import environments
from csghub.runtime.frameworks import space_environment

APP = "import gradio as gr\n\ngr.Interface(lambda s: s[::-1], 'text', 'text').launch()\n# {n}\n"
TIMEOUT = 600.0


def push_until_running(live: LiveHub, owner: str, token: str, home: dict[str, str], work: Path, repo: str,
                       files: dict[str, str]) -> float:  # fmt: skip
    folder = work / repo.replace("/", "--")
    if not folder.exists():
        git("clone", f"http://{owner}:{token}@{live.host()}/spaces/{repo}", str(folder), cwd=work, env=home)
    for path, text in files.items():
        (folder / path).write_text(text)
    git("add", ".", cwd=folder, env=home)
    git("commit", "-m", "bench", cwd=folder, env=home)
    began = time.perf_counter()
    git("push", "origin", "main", cwd=folder, env=home)
    head = git("rev-parse", "HEAD", cwd=folder, env=home).stdout.strip()
    headers = {"authorization": f"Bearer {token}"}
    while time.perf_counter() - began < TIMEOUT:
        status = httpx.get(f"{live.url}/api/v1/spaces/{repo}/status", headers=headers, timeout=30).json()["data"]
        if status["commit"] == head and status["stage"] == "running":
            return time.perf_counter() - began
        if status["stage"] in ("build-failed", "runtime-error"):
            raise SystemExit(f"{repo}: {status['stage']}: {status['reason']}")
        time.sleep(0.2)
    raise SystemExit(f"{repo} did not run within {TIMEOUT:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--requirement", default="text-unidecode==1.3")
    args = parser.parse_args()
    runtimes = shared_runtimes_dir()
    layer = space_environment("gradio", (args.requirement,))
    shutil.rmtree(environments.env_dir(runtimes, layer), ignore_errors=True)
    with (
        tempfile.TemporaryDirectory(prefix="csghub-bench-push-", dir="/tmp") as tmp,
        live_hub({"CSGHUB_RUNTIMES_DIR": str(runtimes)}) as live,
    ):
        try:
            owner, token = live.user("bench")
            home, work = setup_git_home(Path(tmp) / "home"), Path(tmp)
            hf = HfApi(endpoint=live.url, token=token)
            for name in ("plain", "cold", "cached"):
                hf.create_repo(f"{owner}/{name}", repo_type="space", space_sdk="gradio")
            plain = [
                push_until_running(live, owner, token, home, work, f"{owner}/plain", {"app.py": APP.format(n=i)})
                for i in range(args.runs)
            ]
            needs = {"requirements.txt": f"{args.requirement}\n"}
            cold = push_until_running(live, owner, token, home, work, f"{owner}/cold", {"app.py": APP, **needs})
            cached = push_until_running(live, owner, token, home, work, f"{owner}/cached", {"app.py": APP, **needs})
        finally:
            kill_replicas_left_in(live.data_dir)
    print(f"push -> running, SDK environment built, no requirements: median {statistics.median(plain):.1f} s "
          f"({', '.join(f'{t:.1f}' for t in plain)})")  # fmt: skip
    print(f"push -> running, requirements.txt layer cold: {cold:.1f} s; cached: {cached:.1f} s "
          f"(cold/cached {cold / cached:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
