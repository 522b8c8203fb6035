"""From a table of rows to LLaMA-Factory's rows: the column mapping, which format the columns make (Q&A,
Alpaca, conversations), and every problem with the rows it concerns, in words a user can act on.

Q&A and Alpaca rows become Alpaca rows {"instruction", "input", "output"[, "system"]}; conversations become
{"messages": [{"role", "content"}, ...]} with roles system (first only), then user and assistant in turn,
the assistant's last, as LLaMA-Factory's sharegpt converter needs (it drops other rows without a word)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from csghub.services.finetune.training_readers import Row, Table, TrainingDataError

FAMILIES = {
    "qa": ("question", "answer"),
    "alpaca": ("instruction", "input", "output"),
    "sharegpt": ("messages", "conversations"),
}
REQUIRED = {"qa": ("question", "answer"), "alpaca": ("instruction", "output"), "sharegpt": ()}
NAMES = ("question", "answer", "instruction", "input", "output", "system", "messages", "conversations")
FAMILY_NAMES = {"qa": "Q&A", "alpaca": "Alpaca", "sharegpt": "conversations"}
ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "system": "system"}
SHOWN = 10  # rows listed in one problem; the count says how many there are


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which column of the file holds each name the formats use, where the file names it differently."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: Mapping[str, Any] | None) -> ColumnMapping:
        value = value or {}
        unknown = sorted(k for k in value if k not in NAMES)
        if unknown:
            known = ", ".join(NAMES)
            raise TrainingDataError([f"Unknown names in the column mapping: {', '.join(unknown)} (known: {known})"])
        bad = sorted(k for k, v in value.items() if not isinstance(v, str) or not v.strip() or len(v) > 200)
        if bad:
            raise TrainingDataError([f"The column mapping needs a column name for: {', '.join(bad)}"])
        families = sorted({f for k in value for f, names in FAMILIES.items() if k in names})
        if len(families) > 1:
            said = " and ".join(FAMILY_NAMES[f] for f in families)
            raise TrainingDataError([f"The column mapping mixes the names of two formats ({said})"])
        columns = [v.strip() for v in value.values()]
        shared = sorted({c for c in columns if columns.count(c) > 1})
        if shared:
            raise TrainingDataError([f"The column mapping uses a column for two names: {', '.join(shared)}"])
        return cls(tuple(sorted((k, v.strip()) for k, v in value.items())))

    def column(self, name: str) -> str:
        return dict(self.pairs).get(name, name)

    @property
    def family(self) -> str | None:
        return next((f for f, names in FAMILIES.items() for k, _ in self.pairs if k in names), None)


@dataclass(slots=True)
class Normalized:
    format: str = ""  # "qa" | "alpaca" | "sharegpt"; "" when the columns make none
    columns: dict[str, str] = field(default_factory=dict)  # name -> the file's column, for those used
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "sharegpt" if self.format == "sharegpt" else "alpaca"


def normalize(table: Table, mapping: ColumnMapping) -> Normalized:
    """Every row in LLaMA-Factory's form, and what is wrong with the file (nothing raised)."""
    result = Normalized()
    if not table.columns and not table.rows:
        result.problems.append("The file has no data rows")
        return result
    have = set(table.columns)
    existing = ", ".join(table.columns) or "none"
    absent = [f"{c} (for {k})" for k, c in mapping.pairs if c not in have]
    if absent:
        result.problems.append(
            f"The column mapping names columns the file does not have: {', '.join(absent)}; "
            f"the file has columns: {existing}"
        )
        return result
    result.format = _detect(have, mapping)
    if not result.format:
        result.problems.append(
            "No training columns found: a file needs question and answer (Q&A), instruction and output "
            f"(Alpaca), or messages or conversations (conversations); the file has columns: {existing}. "
            "A column mapping can name yours"
        )
        return result
    missing = [n for n in REQUIRED[result.format] if mapping.column(n) not in have]
    if missing:
        names = " and ".join(REQUIRED[result.format])
        result.problems.append(
            f"Missing column {', '.join(repr(mapping.column(n)) for n in missing)} "
            f"({FAMILY_NAMES[result.format]} format needs {names}); the file has columns: {existing}"
        )
        result.format = ""
        return result
    if result.format == "sharegpt" and table.container in ("csv", "tsv"):
        result.problems.append("Conversations need a JSON or JSON Lines file: a CSV cell cannot hold a list of turns")
        return result
    used = (*FAMILIES[result.format], "system")
    result.columns = {n: mapping.column(n) for n in used if mapping.column(n) in have}
    found: dict[str, list[Row]] = {}
    for row in table.rows:
        normalized, wrong = _row(row, result)
        result.rows.append(normalized)
        for what in wrong:
            found.setdefault(what, []).append(row)
    if table.overlong:
        found[f"Rows with more cells than the header's {len(table.columns)} columns"] = table.overlong
    result.problems += [f"{what} {_listing(rows)}" for what, rows in found.items()]
    if not table.rows:
        result.problems.append("The file has no data rows")
    return result


def _detect(have: set[str], mapping: ColumnMapping) -> str:
    if mapping.family is not None:
        return mapping.family
    for family in ("sharegpt", "qa", "alpaca"):
        if any(mapping.column(n) in have for n in FAMILIES[family] if n != "input"):
            return family
    return ""


def _text(value: Any) -> str | None:
    """A cell's text (None: not text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _label(name: str, result: Normalized) -> str:
    column = result.columns.get(name, name)
    return name if column == name else f"{name} (column '{column}')"


def _row(row: Row, result: Normalized) -> tuple[dict[str, Any], list[str]]:
    if row.values is None:
        return _empty(result), ["Rows that are not JSON objects"]
    values = {name: row.values.get(column) for name, column in result.columns.items()}
    if all(v is None or (isinstance(v, str) and not v.strip()) for v in row.values.values()):
        return _empty(result), ["Empty rows"]
    if result.format == "sharegpt":
        return _conversation(values, result)
    texts = {name: _text(value) for name, value in values.items()}
    wrong = [f"Rows where {_label(n, result)} is not text" for n, t in texts.items() if t is None]
    wrong += [f"Rows with an empty {_label(n, result)}" for n in REQUIRED[result.format] if texts[n] == ""]
    text = {n: t or "" for n, t in texts.items()}
    if result.format == "qa":
        out = {"instruction": text["question"], "input": "", "output": text["answer"]}
    else:
        out = {"instruction": text["instruction"], "input": text.get("input", ""), "output": text["output"]}
    if "system" in result.columns:
        out["system"] = text["system"]
    return out, wrong


def _empty(result: Normalized) -> dict[str, Any]:
    if result.format == "sharegpt":
        return {"messages": []}
    return {"instruction": "", "input": "", "output": "", **({"system": ""} if "system" in result.columns else {})}


def _conversation(values: dict[str, Any], result: Normalized) -> tuple[dict[str, Any], list[str]]:
    name = "messages" if values.get("messages") is not None or "conversations" not in values else "conversations"
    turns = values[name]
    label = _label(name, result)
    if not isinstance(turns, list) or not turns:
        return {"messages": []}, [f"Rows whose {label} is not a list of turns"]
    messages = []
    for turn in turns:
        role = turn.get("role", turn.get("from")) if isinstance(turn, dict) else None
        content = _text(turn.get("content", turn.get("value"))) if isinstance(turn, dict) else None
        if not isinstance(role, str) or content is None:
            return {"messages": []}, ["Rows with a turn that has no role or text (role and content, from and value)"]
        if role not in ROLES:
            return {"messages": []}, ["Rows with a turn whose role is not user, assistant or system (human, gpt)"]
        messages.append({"role": ROLES[role], "content": content})
    system = _text(values.get("system"))
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    return {"messages": messages}, _turn_problems(messages)


def _turn_problems(messages: list[dict[str, str]]) -> list[str]:
    wrong = []
    talk = messages[1:] if messages[0]["role"] == "system" else messages
    if any(m["role"] != ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(talk)):
        wrong.append("Rows whose turns do not go user, assistant, user, ... (a system turn only first)")
    if not talk or talk[-1]["role"] != "assistant":
        wrong.append("Rows whose last turn is not the assistant's")
    if any(not m["content"] for m in talk):
        wrong.append("Rows with an empty turn")
    return wrong


def _listing(rows: list[Row]) -> str:
    """ "(12): 3 (line 4), 7 (line 8), ... and 2 more": the count, then the first rows with their lines."""
    shown = ", ".join(f"{r.number} (line {r.line})" for r in rows[:SHOWN])
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return f"({len(rows)}): {shown}{more}"
