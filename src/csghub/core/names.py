"""Names the hub accepts: repository types and ids, revisions and file paths.

Everything a user types that ends up in a file system path or a git argv is validated here first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from csghub.core.errors import InvalidArgument, PermissionDenied
from csghub.core.paths import check_component, check_new_component


class RepoType(StrEnum):
    MODEL = "model"
    DATASET = "dataset"
    CODE = "code"
    SPACE = "space"

    @property
    def plural(self) -> str:
        return f"{self.value}s"

    @classmethod
    def parse(cls, value: str | None) -> RepoType:
        """Accept singular or plural spellings, as both clients send."""
        if value is None or value == "":
            return cls.MODEL
        key = value.lower()
        if key.endswith("s"):
            key = key[:-1]
        try:
            return cls(key)
        except ValueError:
            raise InvalidArgument(f"Invalid repo type '{value}': expected one of model, dataset, code, space") from None


# The patterns are also the OpenAPI schema's (ECMA-262 and Python agree on this syntax), so the schema
# documents exactly what is enforced. Python's `$` also matches before a final newline: use fullmatch.
NAME_PATTERN = r"^(?!.*--)(?!.*\.\.)(?!.*\.git$)(?:[A-Za-z0-9][A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_]|[A-Za-z0-9])$"
_NAME_RE = re.compile(NAME_PATTERN)

# Namespaces share the URL space with the hub's own top-level routes.
RESERVED_NAMESPACES = frozenset(
    {
        "api",
        "hf",
        "csg",
        "models",
        "datasets",
        "spaces",
        "codes",
        "static",
        "health",
        "login",
        "logout",
        "signup",
        "settings",
        "new",
        "admin",
        "organizations",
        "xet",
        "lfs",
        "docs",
        "assets",
        "user",
        "users",
        "orgs",
        "search",
        "collections",
        # portal pages at the top level
        "join",
        "setup",
        "lang",
        "endpoints",
        "resource-console",
    }
)


def validate_name(value: str, *, what: str = "name") -> str:
    """A namespace or repository name: letters, digits, '-', '_', '.', no '--' or '..', not ending in '.git'."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidArgument(
            f"Invalid {what} '{value}': use 1-96 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit, without '--' or '..' and not ending with '.git'"
        )
    return value


def validate_namespace(value: str) -> str:
    validate_name(value, what="namespace")
    if value.lower() in RESERVED_NAMESPACES:
        raise InvalidArgument(f"Invalid namespace '{value}': the name is reserved")
    return value


@dataclass(frozen=True, slots=True)
class RepoId:
    namespace: str
    name: str

    @classmethod
    def parse(cls, value: str) -> RepoId:
        parts = value.split("/")
        if len(parts) != 2:
            raise InvalidArgument(f"Invalid repo id '{value}': expected 'namespace/name'")
        return cls.of(parts[0], parts[1])

    @classmethod
    def of(cls, namespace: str, name: str) -> RepoId:
        return cls(validate_namespace(namespace), validate_name(name, what="repo name"))

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


_SHA_RE = re.compile(r"[0-9a-f]{40}")
# git check-ref-format's rules, so a name is safe in argv and refs/: no control or special characters,
# no '..', '//' or '@{', not '@', no part starting with '.' or ending with '.lock', no '-' or '/' first.
REF_PATTERN = (
    r"^(?!.*\.\.)(?!.*//)(?!.*@\{)(?!@$)(?![-/.])(?!.*[/.]$)(?!.*\.lock(?:/|$))(?!.*/\.)"
    r"[^\x00-\x20\x7f~^:?*\[\\]{1,200}$"
)
_REF_RE = re.compile(REF_PATTERN)


def is_commit_sha(value: str) -> bool:
    return bool(_SHA_RE.fullmatch(value))


def validate_ref_name(value: str, *, what: str = "branch") -> str:
    """A branch or tag name, following git check-ref-format (REF_PATTERN)."""
    if not _REF_RE.fullmatch(value):
        raise InvalidArgument(f"Invalid {what} name '{value}'")
    return value


def validate_revision(value: str) -> str:
    """A branch, tag, full ref or commit sha as given by a client."""
    if is_commit_sha(value):
        return value
    name = value
    for prefix in ("refs/heads/", "refs/tags/"):
        if value.startswith(prefix):
            name = value[len(prefix) :]
    return validate_ref_name(name, what="revision") and value


# Refs the hub writes itself (the dataset viewer's Parquet conversion publishes refs/convert/parquet):
# everyone who may read the repository reads them, no user moves them, by any door.
HUB_REF_PREFIX = "refs/convert/"


def check_user_ref(ref: str) -> str:
    """A ref a user's write would create, move or delete (a full name, or a branch or tag name);
    PermissionDenied for the hub's own, also when spelled as a branch or tag (`refs/heads/refs/convert/x`),
    which would be read in its place."""
    if ref.removeprefix("refs/heads/").removeprefix("refs/tags/").startswith(HUB_REF_PREFIX):
        raise PermissionDenied(
            f"'{ref}' is read-only: the hub writes {HUB_REF_PREFIX}* itself when it converts a dataset to Parquet"
        )
    return ref


_MAX_PATH = 4096


def validate_path(value: str, *, new: bool = False) -> str:
    """A file path inside a repository: relative, no control character, each component as core/paths.py
    allows; `new` for a path a write creates, which must also fit every common file system."""
    if not isinstance(value, str) or not value or len(value.encode()) > _MAX_PATH:
        raise InvalidArgument(f"Invalid path '{value}': must be a non-empty relative path")
    if any(ord(c) < 0x20 or c == "\x7f" for c in value) or "\\" in value:
        raise InvalidArgument(f"Invalid path '{value}': contains a forbidden character")
    if value.startswith("/"):
        raise InvalidArgument(f"Invalid path '{value}': must be relative, not absolute")
    check = check_new_component if new else check_component
    for part in value.split("/"):
        check(value, part)
    return value


def normalize_folder(value: str) -> str:
    """A folder prefix ('' for the root), validated like a path."""
    value = value.strip("/")
    if value == "":
        return ""
    return validate_path(value)
