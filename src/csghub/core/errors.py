"""The one error tree of the hub.

Every layer raises these; the API maps them to JSON plus the X-Error-* headers huggingface_hub reads,
the portal renders them as pages, and git transports report them in-protocol.
"""

from __future__ import annotations


class HubError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgument(HubError):
    status = 400
    code = "InvalidArgument"


class Unauthenticated(HubError):
    status = 401
    code = "Unauthenticated"


class PermissionDenied(HubError):
    status = 403
    code = "PermissionDenied"


class GatedRepo(PermissionDenied):
    """A gated repository's files, asked for by someone whose access request is not accepted."""

    code = "GatedRepo"


class NotFound(HubError):
    status = 404
    code = "NotFound"


class RepoNotFound(NotFound):
    code = "RepoNotFound"


class RevisionNotFound(NotFound):
    code = "RevisionNotFound"


class EntryNotFound(NotFound):
    code = "EntryNotFound"


class BlobNotFound(NotFound):
    code = "BlobNotFound"


class Conflict(HubError):
    status = 409
    code = "Conflict"


class TooLarge(HubError):
    status = 413
    code = "TooLarge"


class RateLimited(HubError):
    status = 429
    code = "RateLimited"

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class AnswerNotReady(HubError):
    """An answer the hub is still preparing or could not prepare (the dataset viewer's conversion): 500 with
    a code, as Hugging Face's dataset viewer sends it, but no failure of the hub, so not logged as one."""

    status = 500
    code = "ResponseNotReady"


class GitError(HubError):
    """A git program failed in a way the caller did not anticipate; carries its stderr."""

    status = 500
    code = "GitError"

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class ServiceUnavailable(HubError):
    """A service the hub depends on (an LDAP server, an identity provider) cannot be reached right now."""

    status = 503
    code = "ServiceUnavailable"
