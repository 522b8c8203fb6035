"""What a doctor run found and did: problems (each naming exactly what is wrong), repairs, and checks
that could not run. One report per run; the CLI renders it as text or JSON and derives the exit status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HEALTHY, PROBLEMS, UNCHECKED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong. `check` is the family (repositories, refs, lfs, xet, temp, settings), `kind` what
    is wrong (missing, corrupt, fsck, ...), `subject` what it is about (a repository's name, an oid, a
    ref, a path). `repaired` says what --repair did about it, `unfixable` why it could not."""

    check: str
    kind: str
    subject: str
    message: str
    repo: str = ""
    repaired: str = ""
    unfixable: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Unchecked:
    """A check that could not run (the database unreachable, a storage error): health is unknown."""

    check: str
    reason: str


@dataclass(slots=True)
class Report:
    problems: list[Problem] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)
    # Counts of what was looked at, by family ("repositories": 3, "lfs objects": 12, ...).
    checked: dict[str, int] = field(default_factory=dict)
    repair: bool = False

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def could_not(self, check: str, reason: str) -> None:
        self.unchecked.append(Unchecked(check, reason))

    @property
    def open_problems(self) -> list[Problem]:
        """What is still wrong after this run (repaired problems are not)."""
        return [p for p in self.problems if not p.repaired]

    @property
    def exit_status(self) -> int:
        # A problem found is certain; an unchecked family only means health is unknown.
        if self.open_problems:
            return PROBLEMS
        return UNCHECKED if self.unchecked else HEALTHY

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": {HEALTHY: "healthy", PROBLEMS: "problems", UNCHECKED: "unchecked"}[self.exit_status],
            "exit_status": self.exit_status,
            "repair": self.repair,
            "checked": self.checked,
            "problems": [p.as_dict() for p in self.problems],
            "unchecked": [{"check": u.check, "reason": u.reason} for u in self.unchecked],
        }
