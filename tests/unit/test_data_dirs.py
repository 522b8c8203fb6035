"""Which data directory admin commands act on: the configured one, ./csghub-data, or the checkout's."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.cli.data_dirs import locate_data_dir
from csghub.config import ConfigError, load_settings


def _hub_data(folder: Path) -> Path:
    (folder / "repos").mkdir(parents=True)
    return folder


def test_locate_data_dir_unconfigured_falls_back_to_the_checkouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checkout = _hub_data(tmp_path / "checkout" / "csghub-data")
    assert locate_data_dir(load_settings({}), [checkout]).data_dir == checkout


def test_locate_data_dir_prefers_the_current_directorys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    here = _hub_data(tmp_path / "csghub-data")
    assert locate_data_dir(load_settings({}), [_hub_data(tmp_path / "elsewhere")]).data_dir == here


def test_locate_data_dir_configured_but_missing_never_falls_back(tmp_path: Path) -> None:
    configured = tmp_path / "srv" / "hub"
    settings = load_settings({"CSGHUB_DATA_DIR": str(configured)})
    with pytest.raises(ConfigError, match=str(configured)) as raised:
        locate_data_dir(settings, [_hub_data(tmp_path / "checkout")])
    assert "checkout" not in str(raised.value)
    assert not configured.exists()


def test_locate_data_dir_names_every_folder_it_looked_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()  # a folder that is not a hub's data does not count
    with pytest.raises(ConfigError) as raised:
        locate_data_dir(load_settings({}), [tmp_path / "empty"])
    assert str(tmp_path / "csghub-data") in str(raised.value) and str(tmp_path / "empty") in str(raised.value)
    assert not (tmp_path / "csghub-data").exists()
