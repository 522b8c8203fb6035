"""Runtime environment builds, with package sets that need nothing from an index (none, or pip itself)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from csghub.runtime import environments
from csghub.runtime.base import Environment
from csghub.runtime.environments import BuildError, ensure, is_built
from csghub.runtime.frameworks import BUILTIN, builtin
from tests.support.waiting import wait_until

BARE = Environment("bare", "1", ())


def test_environment_key_is_stable_and_names_what_it_is_made_of() -> None:
    one = Environment("demo", "1", ("b==1", "a==2"))
    assert one.key == Environment("demo", "1", ("a==2", "b==1")).key
    assert one.key == Environment("demo", "1", ("a==2", "b==1"), python_path="/elsewhere/python").key
    assert one.key == Environment("other-name", "2", ("a==2", "b==1")).key  # named by what it holds
    assert one.key != Environment("demo", "1", ("a==2", "b==1", "c")).key
    assert one.key.startswith(f"py{sys.version_info[0]}{sys.version_info[1]}-")
    # The same in another interpreter: hubs sharing a runtimes directory agree on folder names.
    code = "from csghub.runtime.base import Environment; print(Environment('demo', '1', ('a==2', 'b==1')).key)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == one.key


def test_environment_key_changes_with_its_after_install_steps() -> None:
    plain = Environment("demo", "1", ("a==2",))
    fixed = Environment("demo", "1", ("a==2",), after_install=(("-m", "pip", "uninstall", "--yes", "b"),))
    assert fixed.key != plain.key
    assert (
        fixed.key != Environment("demo", "1", ("a==2",), after_install=(("-m", "pip", "uninstall", "--yes", "c"),)).key
    )
    two = (("-c", "1"), ("-c", "2"))
    assert Environment("x", "1", (), after_install=two).key != Environment("x", "1", (), after_install=two[::-1]).key
    # No steps: the key is what it was before steps existed, so existing builds keep their folders.
    assert plain.key == Environment("demo", "1", ("a==2",), after_install=()).key


def test_ensure_runs_after_install_steps_with_the_environments_python(tmp_path: Path) -> None:
    mark = "import pathlib, sys; pathlib.Path(sys.prefix, 'step-' + sys.argv[1]).write_text(sys.executable)"
    environment = Environment("steps", "1", (), after_install=(("-c", mark, "1"), ("-c", mark, "2")))
    python = ensure(environment, tmp_path / "build.log", runtimes_dir=tmp_path / "rt")

    folder = tmp_path / "rt" / environment.key
    assert (folder / "step-1").read_text() == (folder / "step-2").read_text() == str(python)
    assert "after install: python -c" in (tmp_path / "build.log").read_text()


def test_a_failing_after_install_step_fails_the_build_and_leaves_nothing(tmp_path: Path) -> None:
    environment = Environment("steps", "1", (), after_install=(("-c", "raise SystemExit('repair failed')"),))
    with pytest.raises(BuildError, match="repair failed"):
        ensure(environment, tmp_path / "build.log", runtimes_dir=tmp_path / "rt")
    assert not (tmp_path / "rt" / environment.key).exists()


def test_builtin_frameworks_pin_the_cpu_torch_and_share_builds_of_the_same_packages() -> None:
    transformers = builtin("transformers")
    assert transformers is not None and "torch==2.13.0" in transformers.packages
    assert all("==" in p for f in BUILTIN for p in f.packages)
    # Serving chat and embeddings takes the same packages: one build serves both.
    embeddings, vllm = builtin("embeddings"), builtin("vllm")
    assert embeddings is not None and vllm is not None
    assert embeddings.environment.key == transformers.environment.key != vllm.environment.key
    assert builtin("no-such-framework") is None


def test_ensure_builds_once_and_marks_it_ready(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    python = ensure(BARE, log, runtimes_dir=tmp_path / "rt")

    assert python == tmp_path / "rt" / BARE.key / "bin" / "python"
    assert is_built(tmp_path / "rt", BARE)
    done = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
    assert done.stdout.strip() == str(tmp_path / "rt" / BARE.key)
    assert f"built {BARE.key} in" in log.read_text()
    assert environments.built(tmp_path / "rt", BARE).python_path == str(python)

    ready = (tmp_path / "rt" / BARE.key / ".ready").stat().st_mtime_ns
    assert ensure(BARE, log, runtimes_dir=tmp_path / "rt") == python
    assert (tmp_path / "rt" / BARE.key / ".ready").stat().st_mtime_ns == ready
    assert log.read_text().count("built ") == 1


def test_ensure_removes_a_half_built_environment_and_builds_it_again(tmp_path: Path) -> None:
    runtimes = tmp_path / "rt"
    half = runtimes / BARE.key
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "leftover").write_text("from a build that died")
    assert not is_built(runtimes, BARE)

    ensure(BARE, tmp_path / "build.log", runtimes_dir=runtimes)

    assert is_built(runtimes, BARE)
    assert not (half / "bin" / "leftover").exists()
    assert "removing the unfinished build" in (tmp_path / "build.log").read_text()


def test_ensure_waits_for_the_build_another_process_holds_the_lock_for(tmp_path: Path) -> None:
    runtimes = tmp_path / "rt"
    runtimes.mkdir()
    log = tmp_path / "build.log"
    with open(runtimes / f"{BARE.key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiter = threading.Thread(target=ensure, args=(BARE, log), kwargs={"runtimes_dir": runtimes})
        waiter.start()
        wait_until(lambda: log.exists() and "waiting for another process" in log.read_text(), "the wait", timeout=10)
        assert not is_built(runtimes, BARE)
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiter.join(timeout=60)
    assert not waiter.is_alive() and is_built(runtimes, BARE)


def test_build_command_runs_pip_and_prints_as_it_goes(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "csghub.runtime.environments", "build", "tools", "--package", "pip"]
    done = subprocess.run([*command, "--runtimes-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert "Requirement already satisfied: pip" in done.stdout
    assert "[csghub] tools is ready:" in done.stdout
    assert is_built(tmp_path, Environment("tools", "1", ("pip",)))


def test_failed_build_says_why_and_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = Environment("broken", "1", (str(tmp_path / "no-such-package-1.0-py3-none-any.whl"),))
    with pytest.raises(BuildError, match="pip install failed") as caught:
        ensure(broken, tmp_path / "build.log", runtimes_dir=tmp_path / "rt")

    assert "no-such-package" in str(caught.value)
    assert not (tmp_path / "rt" / broken.key).exists()
    assert "no-such-package" in (tmp_path / "build.log").read_text()


def test_unused_layers_go_but_used_building_recent_and_base_environments_stay(tmp_path: Path) -> None:
    base = Environment("bare", "1", ())
    ensure(base, tmp_path / "log", runtimes_dir=tmp_path)
    layers = {name: Environment(name, "1", (), base=base, after_install=(("-c", f"# {name}"),)) for name in "abcd"}
    for layer in layers.values():
        ensure(layer, tmp_path / "log", runtimes_dir=tmp_path)
    old = 1_000_000_000  # long ago
    for name in "abc":
        os.utime(environments.env_dir(tmp_path, layers[name]) / environments.READY, (old, old))
    with open(tmp_path / f"{layers['c'].key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # "c" is being built (again) by someone
        removed = environments.remove_unused_layers(tmp_path, {layers["b"].key}, unused_for=3600)
    assert removed == [layers["a"].key]
    assert not environments.env_dir(tmp_path, layers["a"]).exists()
    assert is_built(tmp_path, layers["b"]) and is_built(tmp_path, layers["c"])  # named by a space; locked
    assert is_built(tmp_path, layers["d"]) and is_built(tmp_path, base)  # used lately; not a layer
    environments.mark_used(tmp_path, layers["b"])
    assert (environments.env_dir(tmp_path, layers["b"]) / environments.READY).stat().st_mtime > old
