"""Launcher scripts that compute work runs with an environment's own python (`python <script> ...`).
They import nothing from csghub: the environments hold only their framework's packages."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def script(name: str) -> Path:
    """The path of a launcher, e.g. script("serve_transformers") for a ProcessSpec's argv."""
    path = HERE / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"No launcher named {name!r} in {HERE}")
    return path
