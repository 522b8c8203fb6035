"""One doctor run: the settings first (without a database nothing else can be checked), then
repositories and refs, LFS objects (and, unless quick, the LFS pointers in git), Xet storage and temp
files. A check family that fails unexpectedly is reported as not checked (exit status 2) and the others
still run."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from csghub.services.context import Hub
from csghub.services.doctor.environment import check_database, check_environment
from csghub.services.doctor.findings import Report
from csghub.services.doctor.lfs_objects import check_lfs_objects
from csghub.services.doctor.options import DoctorOptions
from csghub.services.doctor.pointers import check_pointers
from csghub.services.doctor.repositories import check_repositories, repo_rows
from csghub.services.doctor.temp_files import check_temp_files
from csghub.services.doctor.xet_objects import check_xet

log = logging.getLogger(__name__)

Check = Callable[[Hub, DoctorOptions, Report, dict[int, str]], None]


def run_doctor(hub: Hub, options: DoctorOptions) -> Report:
    report = Report(repair=options.repair)
    _guarded(report, "settings", lambda: check_environment(hub, options, report))
    if not check_database(hub, report):
        return report
    names: dict[int, str] = {}

    def repositories() -> None:
        names.update(check_repositories(hub, options, report))

    if not _guarded(report, "repositories", repositories):
        names.update({row.id: row.name for row in repo_rows(hub)})
    families: list[tuple[str, Check]] = [("lfs", check_lfs_objects), ("xet", check_xet), ("temp", check_temp_files)]
    if not options.quick:  # a walk of every repository's whole history
        families.insert(1, ("lfs pointers", check_pointers))
    for family, check in families:
        _guarded(report, family, functools.partial(check, hub, options, report, names))
    return report


def _guarded(report: Report, family: str, step: Callable[[], None]) -> bool:
    try:
        step()
    except Exception as exc:  # a check's own failure: reported, and the other families still run
        log.exception("doctor: the %s check failed", family)
        report.could_not(family, f"{type(exc).__name__}: {exc}")
        return False
    return True
