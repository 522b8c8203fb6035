from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from csghub.config import ConfigError, Settings, load_settings, prepare_data_dir

ROOT = Path(__file__).resolve().parents[2]


def test_settings_layering_defaults_file_env_arguments(tmp_path: Path) -> None:
    config = tmp_path / "csghub.toml"
    config.write_text('port = 9000\nlog_level = "debug"\nlfs_threshold = 100\n')
    settings = load_settings({"CSGHUB_PORT": "9100", "CSGHUB_PREUPLOAD_LFS": "yes"}, config, {"host": "0.0.0.0"})
    assert (settings.port, settings.log_level, settings.lfs_threshold) == (9100, "debug", 100)
    assert settings.host == "0.0.0.0" and settings.preupload_lfs is True


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"CSGHUB_PORTT": "1"}, "Unknown setting 'portt'"),
        ({"CSGHUB_PORT": "abc"}, "'port'"),
        ({"CSGHUB_STORAGE": "ftp"}, "'storage'"),
        ({"CSGHUB_STORAGE": "s3"}, "'s3_bucket'"),
        ({"CSGHUB_PREUPLOAD_LFS": "maybe"}, "'preupload_lfs'"),
    ],
)
def test_settings_errors_name_the_key(environ: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(environ)


def test_unknown_key_in_file_is_fatal(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="Unknown setting 'colour'"):
        load_settings({}, config)


def test_prepare_data_dir_generates_secret_once(tmp_path: Path) -> None:
    settings = load_settings({}, None, {"data_dir": tmp_path / "d"})
    first = prepare_data_dir(settings)
    second = prepare_data_dir(settings)
    assert len(first.secret_key) == 64 and first.secret_key == second.secret_key
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o077 == 0


def test_prepare_data_dir_unwritable_is_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="data_dir"):
        prepare_data_dir(load_settings({}, None, {"data_dir": blocker / "sub"}))


def test_example_config_documents_every_setting() -> None:
    example = (ROOT / "csghub.example.toml").read_text()
    documented = tomllib.loads("\n".join(line.lstrip("# ") for line in example.splitlines() if " = " in line))
    assert set(documented) == {f.name for f in fields(Settings)}


def test_relative_data_dir_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Git hooks run inside the bare repository; a relative data dir would point them elsewhere.
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).data_dir == tmp_path / "csghub-data"
    assert load_settings({"CSGHUB_DATA_DIR": "d"}).data_dir == tmp_path / "d"
