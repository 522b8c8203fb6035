"""The notebook launcher's JupyterLab command line: under the hub's path, with no door of Jupyter's own
and nothing that phones home. The launcher imports nothing from csghub: its functions run here as they
do in the `jupyterlab` environment."""

from __future__ import annotations

from pathlib import Path

from csghub.runtime.workers import serve_jupyterlab


def test_jupyter_runs_under_the_hub_path_with_no_auth_of_its_own_and_no_phoning_home() -> None:
    base = ["--base-url", "/notebooks/alice/lab/"]
    args = serve_jupyterlab.parse(
        ["--repo", "alice/m", "--revision", "a" * 40, "--work-dir", "/w", "--port", "8123", *base]
    )
    argv = serve_jupyterlab.jupyter_argv("/env/bin/jupyter", args)
    assert argv[:2] == ["/env/bin/jupyter", "lab"]
    assert {
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=8123",
        "--ServerApp.base_url=/notebooks/alice/lab/",
        f"--ServerApp.root_dir={Path('/w')}",
        "--ServerApp.open_browser=False",
        "--ServerApp.terminals_enabled=True",
        "--IdentityProvider.token=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    } <= set(argv)
