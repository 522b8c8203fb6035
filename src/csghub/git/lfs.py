"""Git LFS pointers and the .gitattributes rules that route files to LFS."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

POINTER_MAX_SIZE = 1024
_POINTER_RE = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\n(?:[a-z0-9.\-]+ [^\n]*\n)*?"
    rb"oid sha256:(?P<oid>[0-9a-f]{64})\n(?:[a-z0-9.\-]+ [^\n]*\n)*?size (?P<size>[0-9]+)\n"
)

# Patterns routed to LFS in every new repository, the set users expect from other hubs.
DEFAULT_LFS_PATTERNS = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gguf",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.lfs.*",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "saved_model/**/*",
    "*.tar",
    "*.tar.*",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
    "*.png",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.webp",
    "*.mp3",
    "*.wav",
    "*.flac",
    "*.ogg",
    "*.mp4",
    "*.avi",
    "*.mkv",
    "*.db",
    "*.sqlite",
    "*.pdf",
)


def default_gitattributes() -> str:
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in DEFAULT_LFS_PATTERNS)


@dataclass(frozen=True, slots=True)
class LfsPointer:
    oid: str
    size: int


def parse_pointer(data: bytes) -> LfsPointer | None:
    if len(data) > POINTER_MAX_SIZE or not data.startswith(b"version https://git-lfs"):
        return None
    match = _POINTER_RE.match(data)
    if match is None:
        return None
    return LfsPointer(match["oid"].decode(), int(match["size"]))


def format_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


class LfsRules:
    """The `filter=lfs` patterns of one .gitattributes file, matched the way git matches them."""

    def __init__(self, text: str) -> None:
        self._rules: list[tuple[str, bool]] = []
        for line in text.splitlines():
            fields = line.strip().split()
            if not fields or fields[0].startswith("#"):
                continue
            pattern, attrs = fields[0], fields[1:]
            if "filter=lfs" in attrs:
                self._rules.append((pattern, True))
            elif "-filter" in attrs or "!filter" in attrs:
                self._rules.append((pattern, False))

    def matches(self, path: str) -> bool:
        result = False
        for pattern, is_lfs in self._rules:
            if _match(pattern, path):
                result = is_lfs
        return result


def _match(pattern: str, path: str) -> bool:
    if "/" not in pattern.rstrip("/"):
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    pattern = pattern.lstrip("/")
    if "**" in pattern:
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]")
        return re.fullmatch(regex, path) is not None
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")
