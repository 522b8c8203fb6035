"""The configs and splits of a dataset repository, found the way the Hugging Face Hub finds them.

Input is what a commit holds (paths and sizes) and the README's YAML front matter. The `configs:` front matter
wins; otherwise file and folder names decide: `data/{split}-00000-of-00003.*` shards, then folders named after a
split, then file names with a split keyword, then everything as `train`. Only CSV, TSV, JSON, JSON Lines and
Parquet (optionally .gz or .zst compressed) are data here; the conversion turns each split into Parquet.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from csghub.core.errors import NotFound
from csghub.services.datasets.errors import DatasetLayoutError
from csghub.services.datasets.globs import has_magic, match_files
from csghub.services.repositories.cards import parse_card_data

# Extension -> (format, family). A family is what the Hub calls a builder module: one per config's inference.
FORMATS: dict[str, tuple[str, str]] = {
    ".csv": ("csv", "csv"),
    ".tsv": ("tsv", "csv"),
    ".json": ("json", "json"),
    ".jsonl": ("jsonl", "json"),
    ".ndjson": ("jsonl", "json"),
    ".parquet": ("parquet", "parquet"),
}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd"}
# On a tie in the count of extensions the Hub prefers these, in this order (then the extension's name).
PREFERRED = (".parquet", ".jsonl", ".json", ".csv")

SPLIT_KEYWORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
SEP = "-._ 0-9"
SHARDED = "data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*"
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


def _keyword_patterns(bases: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        split: [base.format(keyword=k, sep=SEP) for k in keywords for base in bases]
        for split, keywords in SPLIT_KEYWORDS.items()
    }


IN_DIR_NAME = _keyword_patterns(("**/{keyword}/**", "**/{keyword}[{sep}]*/**", "**/*[{sep}]{keyword}/**",
                                 "**/*[{sep}]{keyword}[{sep}]*/**"))  # fmt: skip
IN_FILE_NAME = _keyword_patterns(("**/{keyword}[{sep}]*", "**/*[{sep}]{keyword}[{sep}]*"))
# Inspect-AI logs and Harbor tasks come first on the Hub; neither is tabular data here, but they still decide
# the splits, so a repository with them shows what the Hub would (nothing convertible).
OTHER_KINDS: list[dict[str, list[str]]] = [{"logs": ["**/*.eval"]}, {"test": ["**/task.toml", "**/instruction.md"]}]
DEFAULT_ORDER: list[dict[str, list[str]]] = [*OTHER_KINDS, IN_DIR_NAME, IN_FILE_NAME, {"train": ["**"]}]


@dataclass(frozen=True, slots=True)
class DataFile:
    path: str  # inside the repository
    size: int
    format: str  # csv, tsv, json, jsonl, parquet
    compression: str  # none, gzip, zstd


@dataclass(frozen=True, slots=True)
class Split:
    name: str
    files: tuple[DataFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    splits: tuple[Split, ...]
    default: bool = False
    delimiter: str | None = None  # a `sep`/`delimiter` given in the front matter for CSV files

    def get_split(self, name: str) -> Split:
        for split in self.splits:
            if split.name == name:
                return split
        raise NotFound(f"Split {name!r} not found in config {self.name!r}")


@dataclass(frozen=True, slots=True)
class Layout:
    configs: tuple[Config, ...]

    @property
    def default_config(self) -> Config | None:
        return next((c for c in self.configs if c.default), None)

    def get_config(self, name: str) -> Config:
        for config in self.configs:
            if config.name == name:
                return config
        raise NotFound(f"Config {name!r} not found")


def file_format(path: str) -> tuple[str, str] | None:
    """(format, compression) of a data file by its name, or None when it is not one of the supported formats."""
    suffixes = [s.lower() for s in PurePosixPath(path).suffixes]
    compression = "none"
    if suffixes and suffixes[-1] in COMPRESSIONS:
        compression = COMPRESSIONS[suffixes.pop()]
    if not suffixes or suffixes[-1] not in FORMATS:
        return None
    return FORMATS[suffixes[-1]][0], compression


def parse_front_matter(readme: str | None) -> dict[str, Any]:
    """The YAML block at the top of a README (between `---` lines), or {} when there is none or it is broken;
    read as the hub reads every card (cards.py: libyaml, with aliases bounded)."""
    return parse_card_data(readme) if readme else {}


def detect_layout(files: Mapping[str, int] | Iterable[tuple[str, int]], readme: str | None = None) -> Layout:
    """The configs and splits of a commit's files ({path: size}); the README text gives the front matter."""
    sizes = dict(files.items() if isinstance(files, Mapping) else files)
    paths = sorted(sizes)
    configs_meta = parse_front_matter(readme).get("configs")
    if configs_meta:
        return Layout(tuple(_configs_from_metadata(configs_meta, paths, sizes)))
    patterns = _default_patterns(paths, base="")
    if not patterns:
        return Layout(())
    splits = []
    for name, split_patterns in patterns.items():
        resolved = _resolve(split_patterns, paths, strict=False)
        family = _infer_family(resolved)
        kept = [p for p in resolved if family is not None and _in_family(p, family)]
        data = _data_files(kept, sizes)
        if data:
            splits.append(Split(name, data))
    if not splits:
        return Layout(())
    return Layout((Config("default", tuple(splits), default=True),))


def _default_patterns(paths: list[str], base: str) -> dict[str, list[str]]:
    """Which split patterns apply: the first rule (in the Hub's order) that selects any file wins."""
    prefix = f"{base.strip('/')}/" if base.strip("/") else ""
    shards = match_files(prefix + SHARDED.replace("{split}", "*"), paths)
    if shards:
        tail = re.compile(r"^(.*)-\d{5}-of-\d{5}.*\..*$")
        found = {m.group(1) for p in shards if (m := tail.match(PurePosixPath(p).name))}
        if any(not SPLIT_NAME.match(s) for s in found):
            raise DatasetLayoutError(f"Split names must be made of letters, digits and '_': got {sorted(found)}")
        order = [s for s in SPLIT_KEYWORDS if s in found] + sorted(found - set(SPLIT_KEYWORDS))
        return {s: [prefix + SHARDED.format(split=s)] for s in order}
    for rule in DEFAULT_ORDER:
        chosen = {}
        for split, split_patterns in rule.items():
            if any(match_files(prefix + p, paths, first=True) for p in split_patterns):
                chosen[split] = [prefix + p for p in split_patterns]
        if chosen:
            return chosen
    return {}


def _resolve(patterns: list[str], paths: list[str], *, strict: bool) -> list[str]:
    """Files of the patterns in order, each once, keeping only supported-looking data; a missing plain path
    (no wildcard) in front matter is an error, as on the Hub."""
    out: list[str] = []
    seen: set[str] = set()
    for pattern in patterns:
        matched = [p for p in match_files(pattern, paths) if _is_allowed(p)]
        if not matched and strict and not has_magic(pattern):
            raise DatasetLayoutError(f"Data file {pattern!r} named in the README's configs is not in the repository")
        for path in matched:
            if path not in seen:
                seen.add(path)
                out.append(path)
    return out


def _is_allowed(path: str) -> bool:
    # Case-sensitive, as on the Hub: `TRAIN.CSV` is not a data file there either.
    return any("." + s in FORMATS for s in path.rsplit("/", 1)[-1].split(".")[1:])


def _infer_family(paths: list[str]) -> str | None:
    """The format family a split is read as: its most common extension, ties going to PREFERRED's order."""
    counts = Counter(s.lower() for p in paths for s in PurePosixPath(p).suffixes if s.lower() in FORMATS)
    if not counts:
        return None

    def key(item: tuple[str, int]) -> tuple[Any, ...]:
        ext, count = item
        return (count, *(ext == p for p in PREFERRED), ext)

    best = max(counts.items(), key=key)[0]
    return FORMATS[best][1]


def _in_family(path: str, family: str) -> bool:
    exts = "|".join(re.escape(e) for e, (_, fam) in FORMATS.items() if fam == family)
    return re.match(rf".*({exts})(\..+)?$", path, flags=re.IGNORECASE) is not None


def _data_files(paths: list[str], sizes: Mapping[str, int]) -> tuple[DataFile, ...]:
    out = []
    for path in paths:
        kind = file_format(path)
        if kind is not None:
            out.append(DataFile(path, sizes[path], kind[0], kind[1]))
    return tuple(out)


def _split_patterns(data_files: Any) -> dict[str, list[str]]:
    """`data_files` as the front matter may write it: a string, a list of strings or [{split, path}] (the Hub
    refuses a {split: path} mapping in YAML, so this does too)."""
    if isinstance(data_files, str):
        return {"train": [data_files]}
    if isinstance(data_files, list):
        if not any(isinstance(item, dict) for item in data_files):
            return {"train": [str(item) for item in data_files]}
        out: dict[str, list[str]] = {}
        for item in data_files:
            if not (isinstance(item, dict) and "split" in item and isinstance(item.get("path"), str | list)):
                raise DatasetLayoutError(f"Each data_files entry needs a 'split' and a 'path': got {item!r}")
            if not SPLIT_NAME.match(str(item["split"])):
                raise DatasetLayoutError(f"Split name {item['split']!r} may hold only letters, digits, '_' and '.'")
            if str(item["split"]) in out:
                raise DatasetLayoutError(f"Split {item['split']!r} appears twice in data_files")
            path = item["path"]
            out[str(item["split"])] = [str(p) for p in path] if isinstance(path, list) else [path]
        return out
    raise DatasetLayoutError(
        f"data_files must be a string, a list of strings or a list of {{split, path}}: got {data_files!r}"
    )


def _configs_from_metadata(meta: Any, paths: list[str], sizes: Mapping[str, int]) -> list[Config]:
    if not isinstance(meta, list) or not all(isinstance(c, dict) for c in meta):
        raise DatasetLayoutError("The README's `configs` must be a list of mappings")
    names = [c.get("config_name") for c in meta]
    if any(not isinstance(n, str) or not n for n in names):
        raise DatasetLayoutError("Each entry of the README's `configs` needs a `config_name`")
    if len(set(names)) != len(names):
        raise DatasetLayoutError(f"Config names appear twice in the README's `configs`: {names}")
    defaults = [c["config_name"] for c in meta if len(meta) == 1 or c["config_name"] == "default" or c.get("default")]
    if len(defaults) > 1:
        raise DatasetLayoutError(f"Several configs are marked default: {defaults}")
    configs = []
    for entry in meta:
        data_dir = str(entry.get("data_dir") or "").strip("/")
        prefix = f"{data_dir}/" if data_dir else ""
        if entry.get("data_files") is not None:
            patterns = {
                s: [prefix + p.lstrip("/") for p in ps] for s, ps in _split_patterns(entry["data_files"]).items()
            }
        else:
            patterns = _default_patterns(paths, base=data_dir)
        splits = []
        for name, split_patterns in patterns.items():
            data = _data_files(_resolve(split_patterns, paths, strict=True), sizes)
            if data:
                splits.append(Split(name, data))
        delimiter = entry.get("sep", entry.get("delimiter"))
        configs.append(
            Config(
                entry["config_name"],
                tuple(splits),
                default=entry["config_name"] in defaults,
                delimiter=delimiter if isinstance(delimiter, str) else None,
            )
        )
    return configs
