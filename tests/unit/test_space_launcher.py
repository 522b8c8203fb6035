"""The space launcher's command lines and the app's environment: under the hub's path, the checkout token
kept only when the owner allowed it, secrets passed through, nothing that phones home. The launcher imports
nothing from csghub: its functions run here as they do in a space's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.runtime.workers import serve_space

HUB_ENV = {
    "HF_ENDPOINT": "http://127.0.0.1:9999",
    "HF_TOKEN": "hf_checkout_token",
    "HF_HUB_OFFLINE": "1",
    "MY_SECRET": "s3cr3t",
    "MY_VARIABLE": "visible",
    "PATH": "/usr/bin",
}


def _args(sdk: str, *more: str) -> serve_space.argparse.Namespace:
    common = ["--repo", "alice/demo", "--revision", "a" * 40, "--work-dir", "/w/app", "--port", "8123"]
    return serve_space.parse([*common, "--sdk", sdk, "--base-path", "/apps/alice/demo/", *more])


def test_streamlit_runs_under_the_base_path_headless_with_no_usage_stats_and_no_xsrf() -> None:
    argv = serve_space.app_argv(_args("streamlit", "--app-file", "src/main.py"), "/env/bin/python")
    assert argv[:5] == ["/env/bin/python", "-m", "streamlit", "run", "src/main.py"]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8123",
        "--server.baseUrlPath": "apps/alice/demo",
        "--server.headless": "true",
        "--server.enableCORS": "false",
        "--server.enableXsrfProtection": "false",
        "--browser.gatherUsageStats": "false",
        "--server.fileWatcherType": "none",
        "--server.runOnSave": "false",
        "--global.developmentMode": "false",
    }


def test_gradio_runs_the_script_with_its_address_and_root_path_in_the_environment(tmp_path: Path) -> None:
    args = _args("gradio")
    assert serve_space.app_argv(args, "/env/bin/python") == ["/env/bin/python", "app.py"]
    env = serve_space.app_env(args, tmp_path, HUB_ENV)
    assert env["GRADIO_SERVER_NAME"] == "127.0.0.1" and env["GRADIO_SERVER_PORT"] == "8123"
    assert env["GRADIO_ROOT_PATH"] == "/apps/alice/demo"
    assert env["GRADIO_ANALYTICS_ENABLED"] == "False" and env["GRADIO_SSR_MODE"] == "False"
    assert env["GRADIO_TEMP_DIR"] == str(tmp_path / "gradio")


@pytest.mark.parametrize("sdk", ["gradio", "streamlit"])
def test_the_checkout_token_is_dropped_unless_the_owner_allowed_it(sdk: str, tmp_path: Path) -> None:
    env = serve_space.app_env(_args(sdk), tmp_path, HUB_ENV)
    assert "HF_TOKEN" not in env
    assert env["HF_ENDPOINT"] == "http://127.0.0.1:9999" and env["HF_HUB_OFFLINE"] == "0"
    assert env["MY_SECRET"] == "s3cr3t" and env["MY_VARIABLE"] == "visible" and env["PATH"] == "/usr/bin"
    assert env["HOME"] == str(tmp_path / "home") and env["HF_HOME"] == str(tmp_path / "huggingface")

    allowed = serve_space.app_env(_args(sdk), tmp_path, {**HUB_ENV, "CSGHUB_SPACE_TOKEN_ALLOWED": "1"})
    assert allowed["HF_TOKEN"] == "hf_checkout_token" and "CSGHUB_SPACE_TOKEN_ALLOWED" not in allowed
    refused = serve_space.app_env(_args(sdk), tmp_path, {**HUB_ENV, "CSGHUB_SPACE_TOKEN_ALLOWED": "yes"})
    assert "HF_TOKEN" not in refused


@pytest.mark.parametrize("app_file", ["../outside.py", "/etc/passwd", "a/../../b.py"])
def test_an_app_file_outside_the_space_is_refused(app_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _args("gradio", "--app-file", app_file)
    assert "is not a path inside the space" in capsys.readouterr().err


def test_a_checkout_needs_its_repo_and_revision_unless_it_runs_a_local_folder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        serve_space.parse(["--sdk", "gradio", "--port", "1", "--base-path", "/apps/a/b/"])
    assert "required without --source-dir" in capsys.readouterr().err
    local = serve_space.parse(["--source-dir", "/src", "--sdk", "gradio", "--port", "1", "--base-path", "/apps/a/b"])
    assert local.source_dir == Path("/src") and local.base_path == "/apps/a/b/"
