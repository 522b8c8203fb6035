"""Runtime environments: a framework's package set built once into a virtualenv and reused.

`<runtimes_dir>/<Environment.key>/` is a venv made with `python -m venv` and pip (pip, not uv: only pip
takes this machine's local torch CPU wheel). Many hubs and test workers may share one runtimes directory,
so a build holds an exclusive flock on `<key>.lock`; the `.ready` file, written last, says the build is
complete, and a directory without it (a build that died) is removed and built again. Venvs are not
relocatable (scripts name their interpreter by absolute path), hence a marker rather than a rename.

A layer (Environment.base set: a space's requirements.txt on its SDK's environment) is a small venv whose
interpreter also sees the base's packages: a `.pth` file in its site-packages adds the base's site-packages
after its own, so pip (the base's, seen the same way) installs only what the base lacks, and a version the
layer installs shadows the base's without touching it (pip never uninstalls outside the venv it runs in).
A venv made with --system-site-packages would not do: from a venv's python it names the interpreter the
venv was made from, not the venv. The base is built first, under its own lock.

`python -m csghub.runtime.environments build transformers` builds a built-in framework into
`$CSGHUB_RUNTIMES_DIR` with pip's output on the terminal (the hub runs the same as a batch job)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from csghub.runtime.base import Environment, RunnerError
from csghub.runtime.offline import minimal_env

READY = ".ready"
DEFAULT_RUNTIMES_DIR = Path("csghub-data") / "runtimes"


class BuildError(RunnerError):
    """pip (or venv) failed; the message ends with the last lines of its output."""

    code = "EnvironmentBuildFailed"


def env_dir(runtimes_dir: Path, environment: Environment) -> Path:
    return runtimes_dir / environment.key


def python_of(runtimes_dir: Path, environment: Environment) -> Path:
    return env_dir(runtimes_dir, environment) / "bin" / "python"


def is_built(runtimes_dir: Path, environment: Environment) -> bool:
    return (env_dir(runtimes_dir, environment) / READY).is_file()


def built(runtimes_dir: Path, environment: Environment) -> Environment:
    """The environment with its interpreter, when built here; unchanged otherwise."""
    if not is_built(runtimes_dir, environment):
        return environment
    return dataclasses.replace(environment, python_path=str(python_of(runtimes_dir, environment)))


def ensure(environment: Environment, log_path: Path | None, *, runtimes_dir: Path) -> Path:
    """The environment's interpreter, building it first unless it is built (blocks while another
    process builds it). Progress goes to `log_path` as it happens, or to stdout when None."""
    python = python_of(runtimes_dir, environment)
    if is_built(runtimes_dir, environment):
        return python
    if environment.base is not None:
        ensure(environment.base, log_path, runtimes_dir=runtimes_dir)
    runtimes_dir.mkdir(parents=True, exist_ok=True)
    with _open_log(log_path) as log, _locked(runtimes_dir / f"{environment.key}.lock", log, environment.key):
        if is_built(runtimes_dir, environment):
            _say(log, f"{environment.key} was built meanwhile by another process")
            return python
        base = None if environment.base is None else env_dir(runtimes_dir, environment.base)
        _build(environment, env_dir(runtimes_dir, environment), log, base=base)
    return python


def mark_used(runtimes_dir: Path, environment: Environment) -> None:
    """Note that something runs in it now (the ready file's time; at most once an hour, it is a write)."""
    ready = env_dir(runtimes_dir, environment) / READY
    try:
        if time.time() - ready.stat().st_mtime > 3600:
            os.utime(ready)
    except FileNotFoundError:
        pass


def remove_unused_layers(runtimes_dir: Path, keep: set[str], unused_for: float) -> list[str]:
    """Remove layers (environments built over a base) whose key is not in `keep` and that nothing
    used for `unused_for` seconds; a layer being built (its lock held) stays. The removed keys."""
    removed: list[str] = []
    if not runtimes_dir.is_dir():
        return removed
    for ready in sorted(runtimes_dir.glob(f"*/{READY}")):
        target = ready.parent
        try:
            record = json.loads(ready.read_text())
            idle = time.time() - ready.stat().st_mtime
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "base" not in record or target.name in keep or idle < unused_for:
            continue
        with open(runtimes_dir / f"{target.name}.lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            try:
                ready.unlink()  # first: a half-removed layer must never look built
                shutil.rmtree(target, ignore_errors=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        removed.append(target.name)
    return removed


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


@contextlib.contextmanager
def _open_log(log_path: Path | None) -> Iterator[IO[bytes]]:
    if log_path is None:
        sys.stdout.flush()
        yield sys.stdout.buffer
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        yield log


@contextlib.contextmanager
def _locked(lock_path: Path, log: IO[bytes], key: str) -> Iterator[None]:
    with open(lock_path, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(log, f"waiting for another process that is building {key}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _say(log: IO[bytes], message: str) -> None:
    log.write(f"[csghub] {message}\n".encode())
    log.flush()


def _build(environment: Environment, target: Path, log: IO[bytes], *, base: Path | None) -> None:
    started = time.monotonic()
    if target.exists():
        _say(log, f"removing the unfinished build in {target}")
        shutil.rmtree(target)
    on = "" if base is None else f" on {base.name}"
    _say(log, f"building {environment.key}{on}: {' '.join(environment.packages) or '(no packages)'}")
    # pip sees the machine's pip configuration (PIP_*: local wheels, index mirrors), never the hub's settings.
    env = minimal_env()
    try:
        venv = [sys.executable, "-m", "venv", str(target)]
        own_pip = environment.packages and base is None  # a layer runs its base's pip
        _run("python -m venv", venv if own_pip else [*venv, "--without-pip"], log, env)
        if base is not None:
            _link_base(target, base)
        if environment.packages:
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
            _run("pip install", [*pip, "--no-input", "--progress-bar", "off", *environment.packages], log, env)
        for step in environment.after_install:
            _say(log, f"after install: python {' '.join(step)}")
            _run(f"python {' '.join(step)}", [str(target / "bin" / "python"), *step], log, env)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    record: dict[str, object] = {"key": environment.key, "name": environment.name, "version": environment.version}
    record |= {"packages": list(environment.packages), "seconds": round(seconds, 1)}
    if environment.base is not None:
        record["base"] = environment.base.key
    if environment.after_install:
        record["after_install"] = [list(step) for step in environment.after_install]
    partial = target / f"{READY}.partial"
    with open(partial, "w") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    partial.rename(target / READY)
    _say(log, f"built {environment.key} in {seconds:.1f} s")


def _link_base(target: Path, base: Path) -> None:
    # A .pth line that starts with `import` is run at startup: addsitedir also processes the base's own .pth
    # files, as the base's interpreter does.
    line = f"import site; site.addsitedir({str(site_packages(base))!r})\n"
    (site_packages(target) / "_csghub_base.pth").write_text(line)


def _run(what: str, argv: list[str], log: IO[bytes], env: dict[str, str]) -> None:
    tail: list[bytes] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as process:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            log.flush()
            tail = [*tail[-19:], line]
    if process.returncode != 0:
        last = b"".join(tail).decode(errors="replace").strip()
        raise BuildError(f"{what} failed (exit {process.returncode}):\n{last}")


def main(argv: list[str] | None = None) -> int:
    from csghub.runtime.frameworks import builtin, environment_of

    parser = argparse.ArgumentParser(prog="python -m csghub.runtime.environments")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a runtime framework's environment")
    build.add_argument("name", help="a built-in framework (transformers, llamafactory, ...) or a new name")
    build.add_argument("--version", help="the framework's version (default: the built-in one's)")
    build.add_argument("--package", action="append", default=[], help="a pip requirement (repeat); default: built-in")
    build.add_argument("--runtimes-dir", type=Path, help="default: $CSGHUB_RUNTIMES_DIR, else csghub-data/runtimes")
    args = parser.parse_args(argv)
    runtimes_dir = args.runtimes_dir or Path(os.environ.get("CSGHUB_RUNTIMES_DIR") or DEFAULT_RUNTIMES_DIR)
    if args.package:
        environment = environment_of(args.name, args.version or "1", tuple(args.package))
    else:
        framework = builtin(args.name)
        if framework is None:
            parser.error(f"'{args.name}' is not a built-in framework: give its packages with --package")
        environment = framework.environment
        if args.version:
            environment = dataclasses.replace(environment, version=args.version)
    try:
        python = ensure(environment, None, runtimes_dir=runtimes_dir.resolve())
    except BuildError as exc:
        print(f"[csghub] {exc}", file=sys.stderr)
        return 1
    print(f"[csghub] {environment.name} is ready: {python}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
