"""One replica of a chat endpoint: fetch the model from the hub into a local directory that the
endpoint's replicas share, then become `transformers serve` on it.

Run by the `transformers` environment's python; imports nothing from csghub. The hub passes
HF_ENDPOINT (itself) and HF_TOKEN (a short-lived token that reads this one repository). The download
happens under a lock into a temporary directory renamed into place once complete, so a replica never
serves half a model and concurrent replicas download once. The server itself runs with HF_HUB_OFFLINE=1
and without the token: its files are local, and nothing it does should reach a model hub.

An adapter (a PEFT/LoRA repository) is served on its base model: with --base-repo and --base-revision,
both are downloaded and merged (peft's merge_and_unload) into the local directory, which then holds a
plain model.

    python serve_transformers.py --repo ns/name --revision SHA --local-dir DIR --host H --port P
                                 [--base-repo ns/base --base-revision SHA] [-- ENGINE ARGS]
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
    parser.add_argument("--base-repo", help="the base model when --repo is an adapter")
    parser.add_argument("--base-revision", help="the base model's commit")
    parser.add_argument("engine_args", nargs="*", help="passed to `transformers serve` (after --)")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"[launcher] {message}", flush=True)


def fetch(repo: str, revision: str, local_dir: Path, *, base: tuple[str, str] | None = None) -> None:
    """Make `local_dir` hold the model (or the adapter merged on `base`, a (repo, revision)), once."""
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
        partial = local_dir.with_name(f"{local_dir.name}.partial-{os.getpid()}")
        try:
            if base is None:
                download(repo, revision, partial)
            else:
                download(repo, revision, partial / "adapter")
                download(*base, partial / "base")
                merge(partial / "adapter", partial / "base", partial / "merged")
                (partial / "merged").rename(local_dir)
                shutil.rmtree(partial)
                return
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, local_dir)


def download(repo: str, revision: str, target: Path) -> None:
    # huggingface_hub reads these once, at import; and in case a caller imported it already (the process
    # starts offline), the switch is turned off where it is read, and the endpoint passed explicitly.
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import constants, snapshot_download

    constants.HF_HUB_OFFLINE = False
    endpoint, token = os.environ.get("HF_ENDPOINT"), os.environ.get("HF_TOKEN")

    say(f"downloading {repo}@{revision} from {os.environ.get('HF_ENDPOINT', 'the hub')}")
    started = time.monotonic()
    try:
        snapshot_download(repo, revision=revision, local_dir=target, endpoint=endpoint, token=token)
    except Exception as exc:  # a process boundary: the reason goes to the log, the status says failed
        say(f"could not download {repo}@{revision}: {type(exc).__name__}: {exc}")
        raise SystemExit(2) from None
    shutil.rmtree(target / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    say(f"downloaded {size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")


def merge(adapter: Path, base: Path, out: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).merge_and_unload()
    model.save_pretrained(out)
    # An adapter may bring its own tokenizer (added tokens, a chat template); else the base's.
    tokenizer_source = adapter if (adapter / "tokenizer_config.json").is_file() else base
    AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(out)
    say(f"merged the adapter into its base model in {time.monotonic() - started:.1f} s")


def main(argv: list[str]) -> None:
    args = parse(argv)
    if bool(args.base_repo) != bool(args.base_revision):
        raise SystemExit("--base-repo and --base-revision go together")
    base = (args.base_repo, args.base_revision) if args.base_repo else None
    fetch(args.repo, args.revision, args.local_dir, base=base)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
    env |= {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    program = str(Path(sys.executable).parent / "transformers")
    command = [program, "serve", "--host", args.host, "--port", str(args.port), "--device", args.device]
    command += [*args.engine_args, str(args.local_dir)]
    say(f"starting: transformers serve on {args.host}:{args.port}")
    os.execve(program, command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
