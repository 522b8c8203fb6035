"""One replica of a chat endpoint: fetch the model from the hub into a local directory that the
endpoint's replicas share, then become `transformers serve` on it.

Run by the `transformers` environment's python; imports nothing from csghub. The hub passes
HF_ENDPOINT (itself) and HF_TOKEN (a short-lived token that reads this one repository). The download
(hub_fetch.py) happens under a lock into a temporary directory renamed into place once complete, so a
replica never serves half a model and concurrent replicas download once. The server itself runs with HF_HUB_OFFLINE=1
and without the token: its files are local, and nothing it does should reach a model hub.

An adapter (a PEFT/LoRA repository) is served on its base model: with --base-repo and --base-revision,
both are downloaded and merged (peft's merge_and_unload) into the local directory, which then holds a
plain model.

    python serve_transformers.py --repo ns/name --revision SHA --local-dir DIR --host H --port P
                                 [--base-repo ns/base --base-revision SHA] [-- ENGINE ARGS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
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
    import hub_fetch  # beside this script (its folder is on sys.path when run); not at the top: tests import the module

    try:
        if base is None:
            hub_fetch.fetch(repo, revision, local_dir, say)
        else:
            hub_fetch.prepare_once(
                local_dir, f"{repo}@{revision} on {base[0]}@{base[1]}", say, merged(repo, revision, base)
            )
    except hub_fetch.DownloadError as exc:  # a process boundary: the reason goes to the log, the status says failed
        say(str(exc))
        raise SystemExit(2) from None


def merged(repo: str, revision: str, base: tuple[str, str]) -> Callable[[Path], None]:
    import hub_fetch

    def fill(target: Path) -> None:
        parts = target.with_name(f"{target.name}-parts")  # swept with the partial if this process dies
        try:
            hub_fetch.download(repo, revision, parts / "adapter", say)
            hub_fetch.download(*base, parts / "base", say)
            merge(parts / "adapter", parts / "base", target)
        finally:
            shutil.rmtree(parts, ignore_errors=True)

    return fill


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
