"""The fine-tuning test data: 20 question/answer pairs about capitals, as rows and as the files a user
would push to a dataset repository (a Q&A CSV, Alpaca JSON, ShareGPT JSONL).

Standard library only: tiny_model_builder.py imports it from a runtime environment's python to train the
`qa` model's tokenizer and to pre-train it on the plain "Q: ... A: ..." lines."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class QA:
    question: str
    answer: str


def _pairs(table: str) -> tuple[QA, ...]:
    rows = [line.split(":") for line in table.strip().splitlines()]
    return tuple(
        QA(f"What is the capital of {country}?", f"The capital of {country} is {city}.") for country, city in rows
    )


# Fine-tuned on (and evaluated on): the model has seen these facts only in plain "Q: A:" lines.
CAPITALS = _pairs("""
France:Paris
Germany:Berlin
Italy:Rome
Spain:Madrid
Portugal:Lisbon
Japan:Tokyo
China:Beijing
India:New Delhi
Egypt:Cairo
Kenya:Nairobi
Canada:Ottawa
Mexico:Mexico City
Brazil:Brasilia
Peru:Lima
Chile:Santiago
Australia:Canberra
Russia:Moscow
Greece:Athens
Norway:Oslo
Poland:Warsaw
""")
# Seen only in pre-training: a held-out set a fine-tune was not shown.
OTHER_CAPITALS = _pairs("""
Sweden:Stockholm
Finland:Helsinki
Denmark:Copenhagen
Austria:Vienna
Hungary:Budapest
Ireland:Dublin
Turkey:Ankara
Iran:Tehran
Iraq:Baghdad
Thailand:Bangkok
Vietnam:Hanoi
Nigeria:Abuja
Ghana:Accra
Morocco:Rabat
Cuba:Havana
Colombia:Bogota
Argentina:Buenos Aires
Ukraine:Kyiv
Belgium:Brussels
Nepal:Kathmandu
""")
FILLER = (
    "Hello! How can I help you today?",
    "A capital is the city where a country's government sits.",
    "Every country has one capital, and some have two.",
    "Questions come first, answers after them.",
    "The quick brown fox jumps over the lazy dog.",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
)


def plain_lines(pairs: tuple[QA, ...] = CAPITALS + OTHER_CAPITALS) -> list[str]:
    """The pre-training text: "Q: <question> A: <answer>" per pair."""
    return [f"Q: {p.question} A: {p.answer}" for p in pairs]


def qa_csv(pairs: tuple[QA, ...] = CAPITALS, *, columns: tuple[str, str] = ("question", "answer")) -> bytes:
    """A Q&A CSV with a header row (other column names show the column mapping)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows((p.question, p.answer) for p in pairs)
    return out.getvalue().encode()


def alpaca_rows(pairs: tuple[QA, ...] = CAPITALS) -> list[dict[str, str]]:
    return [{"instruction": p.question, "input": "", "output": p.answer} for p in pairs]


def alpaca_json(pairs: tuple[QA, ...] = CAPITALS) -> bytes:
    return json.dumps(alpaca_rows(pairs), indent=1, ensure_ascii=False).encode()


def sharegpt_rows(pairs: tuple[QA, ...] = CAPITALS) -> list[dict[str, list[dict[str, str]]]]:
    return [
        {"messages": [{"role": "user", "content": p.question}, {"role": "assistant", "content": p.answer}]}
        for p in pairs
    ]


def sharegpt_jsonl(pairs: tuple[QA, ...] = CAPITALS) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in sharegpt_rows(pairs)).encode()


def write_files(folder: Path, pairs: tuple[QA, ...] = CAPITALS) -> dict[str, Path]:
    """The three formats in `folder`: qa.csv, alpaca.json, sharegpt.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"csv": folder / "qa.csv", "alpaca": folder / "alpaca.json", "sharegpt": folder / "sharegpt.jsonl"}
    written["csv"].write_bytes(qa_csv(pairs))
    written["alpaca"].write_bytes(alpaca_json(pairs))
    written["sharegpt"].write_bytes(sharegpt_jsonl(pairs))
    return written
