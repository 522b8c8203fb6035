"""A space's secrets and variables, its app's environment variables. Secrets are AES-GCM ciphertext at
rest (core/sealing.py) under a key derived from the hub's secret key, bound to their space and name, and
write-only: after saving, only their names, descriptions and update times come back. Variables are
plain and visible to whoever manages the space."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core import sealing
from csghub.core.errors import InvalidArgument, NotFound, TooLarge
from csghub.db.models import SpaceEnv, utcnow

NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
RESERVED_PREFIXES = ("HF_", "CSGHUB_")
MAX_VALUE = 64 * 1024
MAX_DESCRIPTION = 1000
MAX_ENTRIES = 100  # secrets and variables together, per space
_INFO = b"csghub space secrets v1"


@dataclass(frozen=True, slots=True)
class EnvEntry:
    name: str
    secret: bool
    value: str  # "" for a secret: never shown again
    description: str
    updated_at: datetime


def _aad(repo_id: int, name: str) -> str:
    """Binds a ciphertext to its space and name: copied to another row, it does not decrypt."""
    return f"space:{repo_id}:{name}"


def seal(secret_key: str, repo_id: int, name: str, value: str) -> str:
    return sealing.seal(sealing.derive_key(secret_key, _INFO), value, _aad(repo_id, name))


def unseal(secret_key: str, repo_id: int, name: str, text: str) -> str | None:
    """The value, or None when it does not decrypt (the hub's secret key changed)."""
    return sealing.unseal(sealing.derive_key(secret_key, _INFO), text, _aad(repo_id, name))


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidArgument(f"Invalid name '{str(name)[:80]}': 1-64 of A-Z, 0-9 and '_', not starting with a digit")
    if name.startswith(RESERVED_PREFIXES):
        raise InvalidArgument(f"Invalid name '{name}': names starting with HF_ or CSGHUB_ are the hub's own")
    return name


def check_value(value: object, description: object) -> tuple[str, str]:
    if not isinstance(value, str):
        raise InvalidArgument("A secret's or variable's value is a string")
    if len(value.encode()) > MAX_VALUE:
        raise TooLarge(f"A value may hold at most {MAX_VALUE // 1024} KiB")
    if "\x00" in value:
        raise InvalidArgument("A value may not contain NUL characters")
    text = description if isinstance(description, str) else ""
    if len(text) > MAX_DESCRIPTION:
        raise InvalidArgument(f"A description may hold at most {MAX_DESCRIPTION} characters")
    return value, text


def put(
    session: Session, secret_key: str, repo_id: int, name: str, value: str, description: str, *, secret: bool
) -> None:
    """Save a secret or a variable (one name is either, never both: saving as the other kind replaces it)."""
    row = session.scalar(select(SpaceEnv).where(SpaceEnv.repo_id == repo_id, SpaceEnv.name == name))
    if row is None:
        count = len(session.scalars(select(SpaceEnv.id).where(SpaceEnv.repo_id == repo_id)).all())
        if count >= MAX_ENTRIES:
            raise InvalidArgument(f"A space has at most {MAX_ENTRIES} secrets and variables")
        row = SpaceEnv(repo_id=repo_id, name=name)
        session.add(row)
    row.secret = secret
    row.value = seal(secret_key, repo_id, name, value) if secret else value
    row.description = description
    row.updated_at = utcnow()


def remove(session: Session, repo_id: int, name: str, *, secret: bool) -> None:
    row = session.scalar(
        select(SpaceEnv).where(SpaceEnv.repo_id == repo_id, SpaceEnv.name == name, SpaceEnv.secret.is_(secret))
    )
    if row is None:
        kind = "secret" if secret else "variable"
        raise NotFound(f"The space has no {kind} named '{name}'", code="EntryNotFound")
    session.delete(row)


def entries(session: Session, repo_id: int, *, secret: bool) -> list[EnvEntry]:
    rows = session.scalars(
        select(SpaceEnv).where(SpaceEnv.repo_id == repo_id, SpaceEnv.secret.is_(secret)).order_by(SpaceEnv.name)
    ).all()
    return [EnvEntry(r.name, r.secret, "" if r.secret else r.value, r.description, r.updated_at) for r in rows]


def environment(session: Session, secret_key: str, repo_id: int) -> tuple[dict[str, str], list[str]]:
    """Variables and decrypted secrets for the app's environment (a secret wins over a variable), and the
    names of secrets that no longer decrypt (left out)."""
    env: dict[str, str] = {}
    lost: list[str] = []
    for row in session.scalars(select(SpaceEnv).where(SpaceEnv.repo_id == repo_id).order_by(SpaceEnv.secret)):
        if not row.secret:
            env[row.name] = row.value
            continue
        value = unseal(secret_key, repo_id, row.name, row.value)
        if value is None:
            lost.append(row.name)
        else:
            env[row.name] = value
    return env, lost
