"""Which files are pickle-based, and what picklescan finds in one, read as a stream.

picklescan walks a pickle opcode by opcode from a file object and, for zip containers (torch's format,
.npz), opens only the members that look like pickles; so a multi-gigabyte checkpoint is never held in
memory, and its tensor data is never read. Each global a pickle imports gets a safety level from
picklescan's lists: innocuous (collections.OrderedDict, torch's tensor rebuilders), dangerous
(os.system, builtins.eval, ...), suspicious for everything it does not know.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO

from picklescan import scanner

log = logging.getLogger(__name__)

# Formats that are pickles or hold pickles: PyTorch (legacy and zip), plain pickles and joblib dumps,
# NumPy arrays of objects (.npy) and their archives (.npz), and zips (pickles inside).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz", ".zip")
LEVELS = ("innocuous", "suspicious", "dangerous")  # in rising order
MAX_IMPORTS = 200  # a pickle naming more distinct globals is kept to its most dangerous ones


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str
    safety: str  # one of LEVELS


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a scan found: the highest safety level among the imports ("innocuous" when there are none),
    or an error when the file could not be read as the format its name promises."""

    level: str
    imports: tuple[Import, ...]
    error: str = ""

    @property
    def dangerous(self) -> Import | None:
        return next((i for i in self.imports if i.safety == "dangerous"), None)


def is_pickle_based(path: str) -> bool:
    return path.lower().endswith(PICKLE_SUFFIXES)


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return name[name.rfind(".") :] if "." in name else ""


def scan_stream(fh: BinaryIO, path: str) -> Verdict:
    """Scan a seekable file object holding the content of `path` (its name picks the format)."""
    try:
        result = scanner.scan_bytes(fh, path, _suffix(path))
    except Exception as exc:  # a vendor's parser on untrusted bytes: any failure is the file's, reported
        log.info("scanning %s failed: %s", path, exc)
        return Verdict("", (), f"{type(exc).__name__}: {exc}"[:500])
    found = {(g.module, g.name): g.safety.value for g in result.globals}
    imports = sorted(
        (Import(module, name, safety) for (module, name), safety in found.items()),
        key=lambda i: (-LEVELS.index(i.safety), i.module, i.name),
    )[:MAX_IMPORTS]
    level = max((i.safety for i in imports), key=LEVELS.index, default="innocuous")
    return Verdict(level, tuple(imports))
