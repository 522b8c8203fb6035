"""A space's requirements.txt, checked before pip sees it and normalized into the key of its environment.

A space's extra packages are pip-installed on top of its SDK's environment (runtime/environments.py builds
the layer), by the hub, from text anyone who can push to a space wrote. So only plain PEP 508 requirements
from the package index pass: no options (`-r`, `-e`, `--index-url`, `-f`, ...: they would point pip at other
files or indexes), no URLs or local paths, and no torch but the one the base environment holds (this
machine's CPU wheel: any other version downloads gigabytes of CUDA libraries). The text is bounded too.

Normalized, two files that ask for the same packages (other order, spacing, comments, name spelling) give the
same tuple, so the same environment is reused."""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from csghub.core.errors import InvalidArgument
from csghub.runtime.base import RunnerError

MAX_BYTES = 64 * 1024
MAX_REQUIREMENTS = 200
# The torch every SDK environment holds (frameworks.TORCH_CPU); a line may name it, with or without a
# specifier that this version satisfies.
BASE_TORCH = Version("2.13.0")
# Names pip takes for files on disk rather than packages on the index.
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz")


class BadRequirements(RunnerError, InvalidArgument):
    """A requirements.txt the hub will not hand to pip; the message names the line and why."""

    status = 400
    code = "BadRequirements"


def normalize(lines: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The requirements of these requirements.txt lines, each checked, canonical and once, sorted."""
    size = sum(len(line.encode()) + 1 for line in lines)
    if size > MAX_BYTES:
        raise BadRequirements(f"requirements.txt is {size} bytes; at most {MAX_BYTES} are accepted")
    found: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        text = _strip_comment(raw)
        if text:
            found.add(_checked(number, raw.strip(), text))
    if len(found) > MAX_REQUIREMENTS:
        raise BadRequirements(f"requirements.txt names {len(found)} packages; at most {MAX_REQUIREMENTS} are accepted")
    return tuple(sorted(found))


def _strip_comment(line: str) -> str:
    # pip's rule: '#' at the start of a line, or after whitespace, begins a comment.
    line = line.strip().lstrip("\ufeff")  # a byte-order mark, as some editors save the file
    if line.startswith("#"):
        return ""
    for at, char in enumerate(line):
        if char == "#" and at > 0 and line[at - 1].isspace():
            return line[:at].strip()
    return line


def _checked(number: int, shown: str, text: str) -> str:
    where = f"requirements.txt line {number} ({shown!r})"
    if text.endswith("\\"):
        raise BadRequirements(f"{where}: line continuations are not supported; put each requirement on one line")
    if text.startswith("-"):
        raise BadRequirements(f"{where}: pip options (-r, -e, --index-url, ...) are not allowed, only package names")
    if "://" in text or text.startswith((".", "/", "~")) or "\\" in text or text.lower().endswith(_ARCHIVES):
        raise BadRequirements(f"{where}: URLs and local paths are not allowed, only packages from the index")
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise BadRequirements(f"{where}: not a package requirement ({exc})") from None
    if requirement.url:
        raise BadRequirements(f"{where}: URLs and local paths are not allowed, only packages from the index")
    requirement.name = canonicalize_name(requirement.name)
    if requirement.name == "torch" and not requirement.specifier.contains(BASE_TORCH, prereleases=True):
        raise BadRequirements(
            f"{where}: spaces run on torch {BASE_TORCH} (CPU), which every SDK environment holds; "
            "name torch without a version, or a version range that includes it"
        )
    return str(requirement)
