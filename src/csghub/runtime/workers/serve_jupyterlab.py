"""A notebook: check the model (and optionally a dataset) out of the hub into the notebook's work folder,
then become `jupyter lab` on it, under the hub's path for it.

Run by the `jupyterlab` environment's python; imports nothing from csghub. The hub passes HF_ENDPOINT
(itself) and HF_TOKEN (a token that reads the model and dataset repositories and nothing else). Unlike
an endpoint's server, the notebook keeps both, and CSGHUB_ENDPOINT and CSGHUB_TOKEN for csghub-sdk, in
its kernels' environment: a user's code talks to the hub it came from.

Jupyter has no token or password of its own: the hub's proxy (/notebooks/{owner}/{name}/) is the only
way in and authorizes every request, so the server binds the address the runner gives it and checks no
XSRF token (the hub checks the Origin of cookie-authenticated requests). Nothing phones home: no news
feed, no update check, no extension manager listing PyPI.

A checkout is done once: a restarted notebook keeps its work folder, its notebooks and its files.

    python serve_jupyterlab.py --repo ns/name --revision SHA --work-dir DIR --host H --port P
                               --base-url /notebooks/owner/name/ [--dataset ns/name --dataset-revision SHA]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="the model repository, ns/name")
    parser.add_argument("--revision", required=True, help="the model's commit")
    parser.add_argument("--dataset", help="a dataset repository to check out too, ns/name")
    parser.add_argument("--dataset-revision", help="the dataset's commit")
    parser.add_argument("--work-dir", required=True, type=Path, help="Jupyter's root folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--base-url", required=True, help="the hub's path of this notebook, /notebooks/o/n/")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"[launcher] {message}", flush=True)


def checkout(repo: str, revision: str, target: Path, repo_type: str) -> None:
    """`target` holds the repository's files once; a partial download is started over."""
    import hub_fetch  # beside this script (its folder is on sys.path when run); not at the top: tests import the module

    try:
        hub_fetch.fetch(repo, revision, target, say, repo_type=repo_type)
    except hub_fetch.DownloadError as exc:  # a process boundary: the reason goes to the log, the status says failed
        say(str(exc))
        raise SystemExit(2) from None


def jupyter_argv(program: str, args: argparse.Namespace) -> list[str]:
    # A hub run as root (a container) runs its notebooks as root too; Jupyter refuses that unless told.
    as_root = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []
    return [
        program,
        "lab",
        f"--ServerApp.ip={args.host}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={args.base_url}",
        f"--ServerApp.root_dir={args.work_dir}",
        "--ServerApp.open_browser=False",
        "--ServerApp.terminals_enabled=True",
        # The hub's proxy is the door: no token or password, no XSRF check (the hub checks Origin).
        "--IdentityProvider.token=",
        "--PasswordIdentityProvider.hashed_password=",
        "--ServerApp.disable_check_xsrf=True",
        # No phoning home: no news feed, no update check, no PyPI listings in the extension manager.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *as_root,
    ]


def main(argv: list[str]) -> None:
    args = parse(argv)
    if bool(args.dataset) != bool(args.dataset_revision):
        raise SystemExit("--dataset and --dataset-revision go together")
    work = args.work_dir.resolve()
    args.work_dir = work
    checkout(args.repo, args.revision, work / "models" / args.repo.split("/")[-1], "model")
    if args.dataset:
        checkout(args.dataset, args.dataset_revision, work / "datasets" / args.dataset.split("/")[-1], "dataset")
    state = work.parent / "jupyter"  # settings, runtime files and kernels' state, outside what users browse
    env = dict(os.environ)
    env |= {
        "HF_HUB_OFFLINE": "0",  # the kernel's huggingface_hub talks to the hub (HF_ENDPOINT), never elsewhere
        "CSGHUB_ENDPOINT": env.get("HF_ENDPOINT", ""),
        "CSGHUB_TOKEN": env.get("HF_TOKEN", ""),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "IPYTHONDIR": str(state / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "HOME": str(state / "home"),  # caches and dotfiles, out of the work folder
    }
    program = str(Path(sys.executable).parent / "jupyter")
    os.chdir(work)  # a kernel started with no notebook path runs here, beside the checked-out files
    say(f"starting: jupyter lab on {args.host}:{args.port}{args.base_url}")
    os.execve(program, jupyter_argv(program, args), env)


if __name__ == "__main__":
    main(sys.argv[1:])
