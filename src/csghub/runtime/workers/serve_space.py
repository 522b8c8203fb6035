"""A space's app: check the space repository out of the hub at its commit, then become the app, a Gradio
script or `streamlit run`, listening on the address the runner gives it under the hub's path for it.

Run by the python of the space's environment (its SDK's, or a layer of its requirements.txt on top);
imports nothing from csghub. The hub passes HF_ENDPOINT (itself) and HF_TOKEN (a token that reads the
space and nothing else), plus the space's secrets and variables, which all reach the app. HF_TOKEN is
dropped before the app starts unless the hub also passes CSGHUB_SPACE_TOKEN_ALLOWED=1 (the owner let the
app read this hub's models and datasets with it); HF_ENDPOINT always stays, and huggingface_hub in the app
is online, talking to the hub only.

The app runs in the checkout (apps open files relative to their folder), with its own HOME and caches
beside it. Nothing phones home: no Gradio analytics, Streamlit usage stats, or update checks. Streamlit
checks no XSRF token: the hub's proxy is the only way in, it forwards none of the hub's cookies (so
Streamlit's own XSRF cookie would not match), and it checks the Origin of the requests it passes on.

A checkout is done once per commit: a restarted app keeps its folder; another commit replaces it.
--source-dir runs an app from a local folder instead (tests, and a hub's own sample apps).

    python serve_space.py --repo ns/name --revision SHA --work-dir DIR --sdk gradio|streamlit
        --app-file app.py --host H --port P --base-path /apps/owner/name/ [--source-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

SDKS = ("gradio", "streamlit")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", help="the space repository, ns/name")
    parser.add_argument("--revision", help="the space's commit")
    parser.add_argument("--work-dir", type=Path, help="where the space is checked out (the app's folder)")
    parser.add_argument("--source-dir", type=Path, help="run the app in this folder; no checkout")
    parser.add_argument("--sdk", required=True, choices=SDKS)
    parser.add_argument("--app-file", default="app.py", help="the app's script, relative to the space's root")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--base-path", required=True, help="the hub's path of this app, /apps/o/n/")
    args = parser.parse_args(argv)
    if args.source_dir is None and not (args.repo and args.revision and args.work_dir):
        parser.error("--repo, --revision and --work-dir are required without --source-dir")
    if not args.base_path.startswith("/"):
        parser.error("--base-path starts with /")
    args.base_path = args.base_path.rstrip("/") + "/"
    app = PurePosixPath(args.app_file)
    if app.is_absolute() or ".." in app.parts or not app.parts:
        parser.error(f"--app-file {args.app_file!r} is not a path inside the space")
    return args


def say(message: str) -> None:
    print(f"[launcher] {message}", flush=True)


def checkout(repo: str, revision: str, target: Path) -> None:
    """`target` holds the space's files at `revision` once; another revision, or a partial download, is
    started over. The revision checked out is recorded beside it, not in the app's folder."""
    marker = target.with_name(f".{target.name}.revision")
    if target.is_dir() and marker.is_file() and marker.read_text() == revision:
        say(f"{repo}@{revision[:12]} is already checked out in {target}")
        return
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: the hub starts every process offline.
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import snapshot_download

    say(f"checking out space {repo}@{revision[:12]} from {os.environ.get('HF_ENDPOINT', 'the hub')}")
    started = time.monotonic()
    try:
        snapshot_download(
            repo,
            revision=revision,
            repo_type="space",
            local_dir=partial,
            endpoint=os.environ.get("HF_ENDPOINT"),
            token=os.environ.get("HF_TOKEN"),
        )
    except Exception as exc:  # a process boundary: the reason goes to the log, the status says failed
        say(f"could not download {repo}@{revision}: {type(exc).__name__}: {exc}")
        shutil.rmtree(partial, ignore_errors=True)
        raise SystemExit(2) from None
    shutil.rmtree(partial / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    os.rename(partial, target)
    marker.write_text(revision)
    say(f"checked out {repo} in {time.monotonic() - started:.1f} s")


def app_env(args: argparse.Namespace, state: Path, source: Mapping[str, str]) -> dict[str, str]:
    """The app's environment: the hub's (secrets and variables included), less the checkout token unless
    the owner allowed it, plus each SDK's address, base path and no-phoning-home settings."""
    env = dict(source)
    if env.pop("CSGHUB_SPACE_TOKEN_ALLOWED", "") != "1":
        env.pop("HF_TOKEN", None)
    env |= {
        "HF_HUB_OFFLINE": "0",  # the app's huggingface_hub talks to the hub (HF_ENDPOINT), never elsewhere
        "HOME": str(state / "home"),  # caches and dotfiles, out of the app's folder and the machine's home
        "HF_HOME": str(state / "huggingface"),
        "XDG_CACHE_HOME": str(state / "cache"),
        "MPLCONFIGDIR": str(state / "matplotlib"),
    }
    if args.sdk == "gradio":
        env |= {
            "GRADIO_SERVER_NAME": args.host,
            "GRADIO_SERVER_PORT": str(args.port),
            "GRADIO_ROOT_PATH": args.base_path.rstrip("/"),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_SSR_MODE": "False",  # no Node server beside the app
            "GRADIO_SHARE": "False",  # no tunnel to a share server
            "GRADIO_TEMP_DIR": str(state / "gradio"),
        }
    else:
        env |= {"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "STREAMLIT_SERVER_HEADLESS": "true"}
    return env


def app_argv(args: argparse.Namespace, python: str) -> list[str]:
    if args.sdk == "gradio":
        return [python, args.app_file]  # the script calls demo.launch(), which reads GRADIO_* settings
    return [
        python,
        "-m",
        "streamlit",
        "run",
        args.app_file,
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.baseUrlPath",
        args.base_path.strip("/"),
        "--server.headless",
        "true",
        # The hub's proxy is the door; see the module's docstring.
        "--server.enableCORS",
        "false",
        "--server.enableXsrfProtection",
        "false",
        "--browser.gatherUsageStats",
        "false",
        # The checkout never changes under a running app: no file watcher, no rerun on save.
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--global.developmentMode",
        "false",
    ]


def main(argv: list[str]) -> None:
    args = parse(argv)
    if args.source_dir is not None:
        folder = args.source_dir.resolve()
        state = folder.with_name(f".{folder.name}.state")
    else:
        folder = args.work_dir.resolve()
        checkout(args.repo, args.revision, folder)
        # One per space, kept across its commits: what the app downloaded (models in HF_HOME) stays cached.
        state = folder.with_name(".state")
    if not (folder / args.app_file).is_file():
        say(f"the space has no {args.app_file} (its README's app_file)")
        raise SystemExit(2)
    for sub in ("home", "huggingface", "cache", "matplotlib", "gradio"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    env = app_env(args, state, os.environ)
    os.chdir(folder)  # apps open their files relative to their folder
    say(f"starting: {args.sdk} app {args.app_file} on {args.host}:{args.port}{args.base_path}")
    os.execve(sys.executable, app_argv(args, sys.executable), env)


if __name__ == "__main__":
    main(sys.argv[1:])
