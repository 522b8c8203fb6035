"""The services' dependencies, built once in app.py (or by a CLI command) and passed explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from csghub.config import Settings
from csghub.git.repository import GitRepo
from csghub.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class Hub:
    settings: Settings
    sessions: sessionmaker[Session]
    blobs: BlobStore

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self.sessions.begin() as session:
            yield session

    def repo_path(self, repo_id: int) -> Path:
        # Sharded by id so no directory grows past a few thousand entries.
        return self.settings.repos_dir / f"{repo_id % 1000:03d}" / f"{repo_id}.git"

    def git(self, repo_id: int) -> GitRepo:
        return GitRepo(self.repo_path(repo_id))
