"""`csghub doctor`: the thin edge of services/doctor. Finds the hub's data as `serve` does, runs the
checks, renders the report (rich text, or JSON with --json) and exits 0 healthy, 1 problems, 2 unchecked."""

from __future__ import annotations

import json
import logging

import typer
from rich.console import Console
from rich.markup import escape

from csghub.config import ConfigError, Settings
from csghub.services.doctor.findings import UNCHECKED, Report


def run(settings: Settings, *, repair: bool, as_json: bool, quick: bool) -> int:
    from csghub.cli.data_dirs import checkout_data_dir, locate_data_dir

    # A check's own failure is in the report; its traceback would only bury the report.
    logging.basicConfig(level=logging.CRITICAL)
    fallback = checkout_data_dir()
    try:
        settings = locate_data_dir(settings, [fallback] if fallback else [])
    except ConfigError as exc:
        _could_not_start(str(exc), as_json, repair)
        return UNCHECKED
    # Loaded only for a hub to check: they bring in every service domain.
    from csghub.services.doctor.options import DoctorOptions
    from csghub.services.doctor.run import run_doctor
    from csghub.wiring import open_hub

    try:
        hub = open_hub(settings)
    except (ConfigError, OSError) as exc:
        _could_not_start(str(exc), as_json, repair)
        return UNCHECKED
    report = run_doctor(hub, DoctorOptions(repair=repair, quick=quick))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        render(report, Console(highlight=False, soft_wrap=True), str(settings.data_dir))
    return report.exit_status


def _could_not_start(reason: str, as_json: bool, repair: bool) -> None:
    if as_json:
        report = Report(repair=repair)
        report.could_not("data", reason)
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        typer.echo(f"error: {reason}", err=True)


def render(report: Report, console: Console, where: str) -> None:
    console.print(f"[bold]csghub doctor[/bold] {escape(where)}" + (" (repairing)" if report.repair else ""))
    for problem in report.problems:
        mark = "[green]fixed[/green]" if problem.repaired else "[red]problem[/red]"
        console.print(f"  {mark} {escape(f'[{problem.check}/{problem.kind}]')} {escape(problem.message)}")
        if problem.repaired:
            console.print(f"      repaired: {escape(problem.repaired)}")
        elif problem.unfixable:
            console.print(f"      not repaired: {escape(problem.unfixable)}")
    for unchecked in report.unchecked:
        console.print(f"  [yellow]not checked[/yellow] {unchecked.check}: {escape(unchecked.reason)}")
    looked = ", ".join(f"{n} {what}" for what, n in report.checked.items())
    fixed = len(report.problems) - len(report.open_problems)
    summary = {0: "[green]healthy[/green]", 1: "[red]problems found[/red]", 2: "[yellow]could not check[/yellow]"}
    console.print(
        f"{summary[report.exit_status]}: {len(report.open_problems)} problems"
        + (f", {fixed} repaired" if fixed else "")
        + (f", {len(report.unchecked)} checks not run" if report.unchecked else "")
        + (f" (checked {escape(looked)})" if looked else "")
    )
