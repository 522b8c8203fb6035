"""How a doctor run goes: read-only or repairing, full or quick."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    # Fix what is safe to fix; otherwise nothing is written.
    repair: bool = False
    # Cheaper checks: `git fsck --connectivity-only`, objects checked for presence and size, not re-hashed.
    quick: bool = False
