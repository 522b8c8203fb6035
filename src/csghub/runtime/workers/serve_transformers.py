"""One replica of a chat endpoint: fetch the model from the hub into a local directory that the
endpoint's replicas share, then become `transformers serve` on it.

Run by the `transformers` environment's python; imports nothing from csghub. The hub passes
HF_ENDPOINT (itself) and HF_TOKEN (a short-lived token that reads this one repository). The download
happens under a lock into a temporary directory renamed into place once complete, so a replica never
serves half a model and concurrent replicas download once. The server itself runs with HF_HUB_OFFLINE=1
and without the token: its files are local, and nothing it does should reach a model hub.

    python serve_transformers.py --repo ns/name --revision SHA --local-dir DIR --host H --port P [-- ARGS]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import sys
import time
from pathlib import Path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="the model repository, ns/name")
    parser.add_argument("--revision", required=True, help="the commit to serve")
    parser.add_argument("--local-dir", required=True, type=Path, help="where the model's files go")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("engine_args", nargs="*", help="passed to `transformers serve` (after --)")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"[launcher] {message}", flush=True)


def fetch(repo: str, revision: str, local_dir: Path) -> None:
    if local_dir.is_dir():
        say(f"{repo}@{revision} is already in {local_dir}")
        return
    local_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{local_dir}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if local_dir.is_dir():
            say(f"{repo}@{revision} was downloaded by another replica")
            return
        for stale in local_dir.parent.glob(f"{local_dir.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a launcher that died mid-download
        # huggingface_hub reads these once, at import.
        os.environ["HF_HUB_OFFLINE"] = "0"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        from huggingface_hub import snapshot_download

        partial = local_dir.with_name(f"{local_dir.name}.partial-{os.getpid()}")
        say(f"downloading {repo}@{revision} from {os.environ.get('HF_ENDPOINT', 'the hub')}")
        started = time.monotonic()
        try:
            snapshot_download(repo, revision=revision, local_dir=partial)
        except Exception as exc:  # a process boundary: the reason goes to the log, the status says failed
            shutil.rmtree(partial, ignore_errors=True)
            say(f"could not download {repo}@{revision}: {type(exc).__name__}: {exc}")
            raise SystemExit(2) from None
        shutil.rmtree(partial / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
        size = sum(f.stat().st_size for f in partial.rglob("*") if f.is_file())
        os.rename(partial, local_dir)
        say(f"downloaded {size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")


def main(argv: list[str]) -> None:
    args = parse(argv)
    fetch(args.repo, args.revision, args.local_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
    env |= {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    program = str(Path(sys.executable).parent / "transformers")
    command = [program, "serve", "--host", args.host, "--port", str(args.port), "--device", args.device]
    command += [*args.engine_args, str(args.local_dir)]
    say(f"starting: transformers serve on {args.host}:{args.port}")
    os.execve(program, command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
