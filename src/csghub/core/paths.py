"""One component of a file path in a repository: what every clone must be able to check out.

The rules are git's own `verify_path` with core.protectHFS and core.protectNTFS (which git's fsck
applies to every tree, so a repository holding such a name fails `transfer.fsckObjects`), plus the
limit that every common file system shares: a name of at most 255 bytes, for names a write creates.
They are checked here, before any object is written, so the refusal names the path; `git index-pack
--strict` checks the objects again before they join the repository (see git/quarantine.py).
"""

from __future__ import annotations

import re

from csghub.core.errors import InvalidArgument

# ext4, XFS, btrfs, APFS, NTFS and ZFS all stop at 255 bytes (or UTF-16 units) per name.
MAX_COMPONENT_BYTES = 255

# Code points HFS+ ignores when it compares names, so ".g\u200cit" is ".git" on a Mac (git's utf8.c).
_HFS_IGNORED = dict.fromkeys((*range(0x200C, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF))

# NTFS drops trailing dots and spaces, reads "name:stream" as name, and knows ".git" as "git~1";
# ASCII only, as git folds case: the dotless i (U+0131) and the Kelvin sign are not "i" and "k" there.
_NTFS_DOTGIT = re.compile(r"(?:\.git|git~1)[. ]*(?::.*)?", re.IGNORECASE | re.ASCII | re.DOTALL)


def _ascii_lower(value: str) -> str:
    # git folds ASCII only; Python's lower() would also fold letters git leaves alone.
    return "".join(c.lower() if c.isascii() else c for c in value)


def is_dotgit(component: str) -> bool:
    """Whether some file system (case-insensitive, HFS+ or NTFS) reads `component` as `.git`."""
    if _NTFS_DOTGIT.fullmatch(component):
        return True
    return _ascii_lower(component.translate(_HFS_IGNORED)) == ".git"


def check_component(path: str, component: str) -> None:
    """Refuse a component that is not a name, or that a checkout would read as `.git`."""
    if component in ("", ".", ".."):
        raise InvalidArgument(f"Invalid path '{path}': empty, '.' or '..' components are not allowed")
    if is_dotgit(component):
        raise InvalidArgument(f"Invalid path '{path}': '{component}' is read as '.git' by some file systems")


def check_new_component(path: str, component: str) -> None:
    """Refuse what check_component refuses and a name no common file system can hold.

    Only writes apply the length limit: a push (git's fsck has no such rule) may have brought a longer
    name in, and reading it must keep working.
    """
    check_component(path, component)
    size = len(component.encode("utf-8", errors="surrogatepass"))
    if size > MAX_COMPONENT_BYTES:
        raise InvalidArgument(
            f"Invalid path '{path}': a name may have at most {MAX_COMPONENT_BYTES} bytes, "
            f"'{component[:40]}...' has {size}"
        )
