"""A space's configuration at a commit, as Hugging Face declares it: the README's front matter (`sdk`,
`sdk_version`, `app_file`, `python_version`, `models`, `datasets`) and requirements.txt. What this hub
cannot honour is kept as a note the space's status shows, never silently dropped."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from csghub.core.errors import EntryNotFound, HubError, InvalidArgument
from csghub.core.names import RepoId, validate_path
from csghub.runtime import frameworks as builtin_frameworks
from csghub.services.context import Hub
from csghub.services.repositories import cards, files
from csghub.services.repositories.repos import RepoView

SDKS = ("gradio", "streamlit", "static")
RUNTIME_SDKS = ("gradio", "streamlit")
DEFAULT_APP_FILE = {"gradio": "app.py", "streamlit": "app.py", "static": "index.html"}
MAX_README = 512 * 1024
MAX_REQUIREMENTS = 64 * 1024
MAX_DECLARED = 50  # models or datasets a card may declare


@dataclass(frozen=True, slots=True)
class SpaceConfig:
    sdk: str  # "" when the card declares none this hub runs (the repository is then a plain one)
    declared_sdk: str  # what the card says, as written ("docker", "" ...)
    sdk_version: str
    app_file: str
    python_version: str
    models: tuple[str, ...]
    datasets: tuple[str, ...]
    requirements: tuple[str, ...]
    notes: tuple[str, ...]
    error: str = ""  # a configuration this hub refuses (a bad app_file or requirements.txt)


def _text(snapshot: files.Snapshot, path: str, limit: int) -> str | None:
    try:
        entry = files.get_entry(snapshot, path)
    except EntryNotFound:
        return None
    if entry.lfs is not None or entry.size > limit:
        raise InvalidArgument(f"{path} is larger than {limit // 1024} KiB")
    return files.read_small_file(snapshot, entry).decode("utf-8", "replace")


def _repo_list(value: Any, what: str, notes: list[str]) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    found: list[str] = []
    for item in items[:MAX_DECLARED]:
        try:
            found.append(str(RepoId.parse(str(item))))
        except HubError:
            notes.append(f"{what} entry '{str(item)[:100]}' is not a repository id (namespace/name); ignored")
    return tuple(dict.fromkeys(found))


def requirement_lines(text: str) -> tuple[str, ...]:
    """requirements.txt's requirements: comments and blank lines dropped (the runtime validates the rest)."""
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def read_config(repo: RepoView, snapshot: files.Snapshot) -> SpaceConfig:
    notes: list[str] = []
    error = ""
    try:
        readme = _text(snapshot, "README.md", MAX_README)
        card = cards.parse_card_data(readme) if readme else {}
    except HubError as exc:
        card, error = {}, f"README.md: {exc.message}"
    declared = str(card.get("sdk") or "").strip().lower()
    sdk = declared if declared in SDKS else ""
    if declared and not sdk:
        notes.append(f"sdk '{declared}' is not one this hub runs ({', '.join(SDKS)}); the space is a plain repository")
    sdk_version = str(card.get("sdk_version") or "")
    pinned = pinned_version(sdk)
    if sdk_version and pinned and sdk_version != pinned:
        notes.append(f"sdk_version {sdk_version} is not available here; the space runs on {sdk} {pinned}")
    python_version = str(card.get("python_version") or "")
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if python_version and python_version not in (here, f"{here}.0") and not python_version.startswith(f"{here}."):
        notes.append(f"python_version {python_version} is not available here; the space runs on Python {here}")
    app_file = str(card.get("app_file") or DEFAULT_APP_FILE.get(sdk, "app.py"))
    try:
        app_file = validate_path(app_file)
    except HubError:
        error = error or f"app_file '{app_file[:200]}' is not a path inside the repository"
    if sdk and not error:
        try:
            files.get_entry(snapshot, app_file)
        except (EntryNotFound, HubError):
            error = f"app_file '{app_file}' does not exist in the repository"
    requirements: tuple[str, ...] = ()
    if sdk in RUNTIME_SDKS:
        try:
            text = _text(snapshot, "requirements.txt", MAX_REQUIREMENTS)
            requirements = requirement_lines(text or "")
        except HubError as exc:
            error = error or f"requirements.txt: {exc.message}"
    return SpaceConfig(
        sdk=sdk,
        declared_sdk=declared,
        sdk_version=sdk_version,
        app_file=app_file,
        python_version=python_version,
        models=_repo_list(card.get("models"), "models", notes),
        datasets=_repo_list(card.get("datasets"), "datasets", notes),
        requirements=requirements,
        notes=tuple(notes),
        error=error,
    )


def pinned_version(sdk: str) -> str:
    """The SDK's release in its runtime framework ("" for static, or a framework this hub lacks)."""
    framework = builtin_frameworks.builtin(sdk) if sdk in RUNTIME_SDKS else None
    for package in framework.packages if framework is not None else ():
        name, _, version = package.partition("==")
        if name.split("[")[0].strip().lower() == sdk:
            return version.strip()
    return ""


def snapshot_at(hub: Hub, repo: RepoView, sha: str) -> files.Snapshot:
    """The repository at `sha`, read by the hub itself (a push's listener has no actor)."""
    return files.Snapshot(repo, hub.git(repo.id), sha, hub.listings, hub.entries, hub.small_blobs)
