"""Settings sane: the data directory writable, the secret key present and private, the database
reachable and at the newest migration, git and git-lfs recent enough, free disk space, storage reachable.

Nothing here writes, except that --repair narrows a secret key file readable by others to its owner.
"""

from __future__ import annotations

import os
import shutil
import stat

from sqlalchemy import text

from csghub.db.engine import schema_revisions
from csghub.git.checks import tool_version
from csghub.services.context import Hub
from csghub.services.doctor.findings import Problem, Report
from csghub.services.doctor.options import DoctorOptions

CHECK = "settings"
# The oldest versions the hub is tested with reach back about this far (CI runs git 2.39, git-lfs 3.3).
MIN_GIT = (2, 30)
MIN_GIT_LFS = (3, 0)
_PROBE_OID = "0" * 64


def check_database(hub: Hub, report: Report) -> bool:
    """Whether the database answers; every other check needs it."""
    try:
        with hub.db() as session:
            session.execute(text("SELECT 1"))
            current, head = schema_revisions(session.connection())
    except Exception as exc:  # any driver error: the database is unreachable, and the run cannot go on
        report.could_not("database", f"the database does not answer: {type(exc).__name__}: {exc}")
        return False
    report.count("database")
    if current != head:
        report.add(
            Problem(
                CHECK,
                "migrations",
                "database",
                f"the database is at migration {current or '(none)'}, this code expects {head}; "
                "run `csghub migrate` (or start the hub once)",
            )
        )
    return True


def check_environment(hub: Hub, options: DoctorOptions, report: Report) -> None:
    settings = hub.settings
    for folder in (settings.data_dir, settings.repos_dir, settings.blobs_dir, settings.tmp_dir):
        report.count("folders")
        if not folder.is_dir():
            report.add(Problem(CHECK, "data-dir", str(folder), f"{folder} is missing"))
        elif not os.access(folder, os.W_OK | os.X_OK):
            report.add(Problem(CHECK, "data-dir", str(folder), f"{folder} is not writable by this user"))
    _check_secret_key(hub, options, report)
    _check_tools(report)
    free = shutil.disk_usage(settings.data_dir).free
    report.count("disk")
    if free < settings.doctor_min_free_bytes:
        report.add(
            Problem(
                CHECK,
                "disk",
                str(settings.data_dir),
                f"only {free} bytes free under {settings.data_dir} (doctor_min_free_bytes is "
                f"{settings.doctor_min_free_bytes})",
            )
        )
    try:
        hub.blobs.stat(_PROBE_OID)
        report.count("storage")
    except Exception as exc:  # any backend error (S3 unreachable, credentials refused) is the finding
        report.add(
            Problem(CHECK, "storage", settings.storage, f"the {settings.storage} blob store does not answer: {exc}")
        )


def _check_secret_key(hub: Hub, options: DoctorOptions, report: Report) -> None:
    report.count("secret key")
    if hub.settings.secret_key:
        return  # set in the configuration (doctor never loads the generated file into the settings)
    path = hub.settings.data_dir / "secret_key"
    try:
        key = path.read_text().strip()
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        report.add(
            Problem(
                CHECK, "secret-key", str(path), f"no readable secret key at {path} ({exc.strerror}); start the hub once"
            )
        )
        return
    if not key:
        report.add(Problem(CHECK, "secret-key", str(path), f"the secret key file {path} is empty"))
    if mode & 0o077:
        repaired = ""
        if options.repair:
            path.chmod(mode & 0o700)
            repaired = f"mode set to {mode & 0o700:o}"
        report.add(
            Problem(
                CHECK,
                "secret-key",
                str(path),
                f"the secret key file {path} has mode {mode:o}: others may read it (expected 600)",
                repaired=repaired,
            )
        )


def _check_tools(report: Report) -> None:
    tools = ((("git", "--version"), MIN_GIT, "git"), (("git", "lfs", "version"), MIN_GIT_LFS, "git-lfs"))
    for argv, minimum, name in tools:
        report.count("programs")
        found = tool_version(*argv)
        if found is None:
            report.add(Problem(CHECK, "program", name, f"{name} does not run (`{' '.join(argv)}` failed)"))
        elif found[1] < minimum:
            wanted = ".".join(map(str, minimum))
            report.add(Problem(CHECK, "program", name, f"{found[0]}: {name} {wanted} or newer is needed"))
