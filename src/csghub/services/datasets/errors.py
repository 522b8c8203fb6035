"""The typed errors of the dataset engine, each a HubError so the API maps it to its status once."""

from __future__ import annotations

from csghub.core.errors import HubError, InvalidArgument, TooLarge


class DatasetLayoutError(InvalidArgument):
    """The README's `configs` front matter (or the files) cannot describe a dataset, e.g. a missing path."""

    code = "DatasetLayoutError"


class DatasetFileError(InvalidArgument):
    """A data file cannot be read as its format: the message names the file and, when known, the line."""

    code = "DatasetFileError"

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class QueryRefused(InvalidArgument):
    """A SQL console statement that is not a single read (or that touched what the sandbox forbids)."""

    code = "QueryRefused"


class QueryTooLarge(TooLarge):
    """A query that needed more memory than the console allows."""

    code = "QueryTooLarge"


class QueryTimeout(HubError):
    """A query that ran past the console's time limit and was interrupted."""

    status = 408
    code = "QueryTimeout"
