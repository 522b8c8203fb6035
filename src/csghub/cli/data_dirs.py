"""Which data directory an admin command acts on.

`csghub serve` creates its data directory on first start; an admin command must find that one and
never create a second, empty hub beside it. `scripts/serve` runs the hub from the checkout, so with
no data_dir configured a command run elsewhere also looks in the checkout it is installed from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import csghub
from csghub.config import ConfigError, Settings

DEFAULT_DATA_DIR = Settings().data_dir  # relative: `serve` resolves it against its working directory


def checkout_data_dir() -> Path | None:
    """`<checkout>/csghub-data` when this package runs from a source checkout (as `scripts/serve` does)."""
    root = Path(csghub.__file__).resolve().parents[2]
    return root / DEFAULT_DATA_DIR if (root / "scripts" / "serve").is_file() else None


def is_hub_data(folder: Path) -> bool:
    # `serve` lays out repos/ on its first start: an unrelated or empty folder is not a hub.
    return (folder / "repos").is_dir()


def locate_data_dir(settings: Settings, fallbacks: Sequence[Path]) -> Settings:
    """The settings pointed at an existing hub's data; ConfigError naming every folder looked in.

    `fallbacks` are tried only when data_dir is the unconfigured default (relative to the current
    directory) and that holds no hub.
    """
    looked = [settings.data_dir]
    if is_hub_data(settings.data_dir):
        return settings
    if settings.data_dir == DEFAULT_DATA_DIR.resolve():
        for folder in fallbacks:
            if folder.resolve() in looked:
                continue
            looked.append(folder.resolve())
            if is_hub_data(folder):
                return dataclasses.replace(settings, data_dir=folder.resolve())
    where = " or ".join(str(folder) for folder in looked)
    raise ConfigError(
        f"no hub data in {where}; start the hub once (scripts/serve or csghub serve), "
        "or name its data with --data-dir, CSGHUB_DATA_DIR or data_dir in --config"
    )
