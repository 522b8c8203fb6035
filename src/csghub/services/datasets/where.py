"""The viewer's row conditions as clients write them, turned into the engine's Filter and Order values.

Two spellings arrive: Hugging Face's /filter takes SQL-like `where` and `orderby` text, and CSGHub's
dataviewer takes structured `column:op:value` items (or a JSON list). Neither is ever pasted into SQL: the
text is read by a small, strict grammar into Filter/Order (rows.py binds every value as a parameter), and
anything the grammar does not know is refused with a message that says what is allowed.

    where   := any
    any     := all ( OR all )*
    all     := unary ( AND unary )*
    unary   := NOT unary | ( any ) | condition
    condition := column ( = | == | != | <> | < | <= | > | >= ) literal
               | column IS [NOT] NULL
               | column IN ( literal [, literal]* )
               | column ILIKE '%text%'  (contains)  |  column ILIKE 'text%'  (starts with)
    orderby := column [ASC | DESC] ( , column [ASC | DESC] )*
    column  := "double-quoted name" ("" inside for a quote) | a bare name of letters, digits and _
    literal := a number | 'text' ('' inside for a quote) | true | false
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.rows import MAX_DEPTH, OPERATORS, AllOf, AnyOf, Condition, Filter, Negation, Order

MAX_EXPRESSION_CHARS = 2_000
MAX_CONDITIONS = 20
WHERE_GRAMMAR = (
    "Allowed: conditions joined by AND and OR, NOT and parentheses, "
    'each `"column" <op> literal` with <op> one of = != <> < <= > >=, '
    '`"column" IS [NOT] NULL`, `"column" IN (literal, ...)` or `"column" ILIKE \'%text%\'` / `\'text%\'`; '
    "literals are numbers, 'quoted text', true or false"
)
ORDERBY_GRAMMAR = 'Allowed: `"column" [ASC|DESC]`, several separated by commas'
_COMPARISON = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<quoted>"(?:[^"]|"")+")
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|<>|!=|==|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


class InvalidParameter(InvalidArgument):
    """A `where`/`orderby` the grammar refuses (Hugging Face's X-Error-Code for a bad query parameter)."""

    code = "InvalidParameter"


def _tokens(text: str, name: str, grammar: str) -> list[tuple[str, str]]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise InvalidParameter(f"Parameter '{name}' is longer than {MAX_EXPRESSION_CHARS} characters")
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidParameter(
                f"Parameter '{name}' cannot be read at {text[position : position + 20]!r}. {grammar}"
            )
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], name: str, grammar: str) -> None:
        self.tokens, self.position, self.name, self.grammar = tokens, 0, name, grammar

    def fail(self, what: str) -> InvalidParameter:
        seen = self.tokens[self.position][1] if self.position < len(self.tokens) else "the end"
        return InvalidParameter(f"Parameter '{self.name}': expected {what}, found {seen}. {self.grammar}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("more")
        self.position += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].upper() in words:
            self.position += 1
            return token[1].upper()
        return None

    def expect_keyword(self, word: str) -> None:
        if self.keyword(word) is None:
            raise self.fail(word)

    def punct(self, symbol: str) -> bool:
        if self.peek() == ("punct", symbol):
            self.position += 1
            return True
        return False

    def column(self) -> str:
        kind, value = self.take()
        if kind == "quoted":
            return value[1:-1].replace('""', '"')
        if kind == "word" and value.upper() not in _KEYWORDS:
            return value
        self.position -= 1
        raise self.fail("a column name")

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "word" and value.upper() in ("TRUE", "FALSE"):
            return value.upper() == "TRUE"
        self.position -= 1
        raise self.fail("a literal (number, 'text', true or false)")


_KEYWORDS = frozenset(["AND", "OR", "NOT", "IS", "NULL", "IN", "ILIKE", "LIKE", "TRUE", "FALSE", "ASC", "DESC"])


def _condition(reader: _Reader) -> Filter:
    column = reader.column()
    token = reader.peek()
    if token is not None and token[0] == "op":
        reader.take()
        if reader.keyword("NULL"):
            raise InvalidParameter(f"Compare with NULL through IS NULL or IS NOT NULL. {WHERE_GRAMMAR}")
        return Filter(column, _COMPARISON[token[1]], reader.literal())
    if reader.keyword("IS"):
        negated = reader.keyword("NOT") is not None
        reader.expect_keyword("NULL")
        return Filter(column, "is_not_null" if negated else "is_null")
    if reader.keyword("IN"):
        if not reader.punct("("):
            raise reader.fail("(")
        values = [reader.literal()]
        while reader.punct(","):
            values.append(reader.literal())
        if not reader.punct(")"):
            raise reader.fail(")")
        return Filter(column, "in", values)
    if reader.keyword("ILIKE"):
        return _like(column, reader.literal())
    if reader.keyword("LIKE"):
        raise InvalidParameter(f"LIKE is case-sensitive and not offered; use ILIKE. {WHERE_GRAMMAR}")
    raise reader.fail("an operator")


def _like(column: str, pattern: Any) -> Filter:
    if isinstance(pattern, str) and len(pattern) > 2 and pattern.startswith("%") and pattern.endswith("%"):
        text, operator = pattern[1:-1], "contains"
    elif isinstance(pattern, str) and len(pattern) > 1 and pattern.endswith("%"):
        text, operator = pattern[:-1], "starts_with"
    else:
        raise InvalidParameter(f"ILIKE takes '%text%' or 'text%'. {WHERE_GRAMMAR}")
    if "%" in text:
        raise InvalidParameter(f"ILIKE patterns have one leading and one trailing % at most. {WHERE_GRAMMAR}")
    return Filter(column, operator, text)


def parse_where(text: str) -> tuple[Condition, ...]:
    """`"age" >= 30 AND ("label" IN ('a', 'b') OR NOT "text" IS NULL)` -> the conditions every row must pass."""
    if not text.strip():
        return ()
    reader = _Reader(_tokens(text, "where", WHERE_GRAMMAR), "where", WHERE_GRAMMAR)
    found = _any(reader, [0], 0)
    if reader.peek() is not None:
        raise reader.fail("AND, OR or the end")
    return found.conditions if isinstance(found, AllOf) else (found,)


def _any(reader: _Reader, count: list[int], depth: int) -> Condition:
    options = [_all(reader, count, depth)]
    while reader.keyword("OR"):
        options.append(_all(reader, count, depth))
    return options[0] if len(options) == 1 else AnyOf(tuple(options))


def _all(reader: _Reader, count: list[int], depth: int) -> Condition:
    parts = [_unary(reader, count, depth)]
    while reader.keyword("AND"):
        parts.append(_unary(reader, count, depth))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _unary(reader: _Reader, count: list[int], depth: int) -> Condition:
    if depth > MAX_DEPTH:
        raise InvalidParameter(f"Parameter 'where' may nest NOT and parentheses {MAX_DEPTH} deep at most")
    if reader.keyword("NOT"):
        return Negation(_unary(reader, count, depth + 1))
    if reader.punct("("):
        inner = _any(reader, count, depth + 1)
        if not reader.punct(")"):
            raise reader.fail(")")
        return inner
    count[0] += 1
    if count[0] > MAX_CONDITIONS:
        raise InvalidParameter(f"Parameter 'where' may hold at most {MAX_CONDITIONS} conditions")
    return _condition(reader)


def parse_orderby(text: str) -> tuple[Order, ...]:
    """`"age" DESC, "name"` -> the Orders rows are sorted by."""
    if not text.strip():
        return ()
    reader = _Reader(_tokens(text, "orderby", ORDERBY_GRAMMAR), "orderby", ORDERBY_GRAMMAR)
    orders = []
    while True:
        column = reader.column()
        orders.append(Order(column, descending=reader.keyword("ASC", "DESC") == "DESC"))
        if reader.peek() is None:
            break
        if not reader.punct(","):
            raise reader.fail(", or the end")
        if len(orders) >= MAX_CONDITIONS:
            raise InvalidParameter(f"Parameter 'orderby' may name at most {MAX_CONDITIONS} columns")
    return tuple(orders)


# --- CSGHub's structured parameters -------------------------------------------------------------------------

STRUCTURED_WHERE = (
    "Give each condition as where=column:op:value (repeat the parameter for more; they all apply), "
    f"with op one of {sorted(OPERATORS)} (is_null and is_not_null take no value, in takes values separated by "
    'commas), or one where=[{"column": ..., "op": ..., "value": ...}, ...] JSON list'
)


def parse_structured_where(items: Iterable[str]) -> tuple[Filter, ...]:
    """`where=age:ge:30`, `where=label:in:a,b`, or a JSON list of {column, op, value}. Values written in the
    colon form are text: `typed_filters` reads them as the column's type."""
    filters: list[Filter] = []
    for item in items:
        if item.lstrip().startswith("["):
            filters.extend(_json_filters(item))
            continue
        parts = item.split(":")
        at = next((i for i in range(1, len(parts)) if parts[i] in OPERATORS), None)
        if at is None:
            raise InvalidParameter(f"Cannot read where={item!r}. {STRUCTURED_WHERE}")
        column, operator, value = ":".join(parts[:at]), parts[at], ":".join(parts[at + 1 :])
        if operator in ("is_null", "is_not_null"):
            filters.append(Filter(column, operator))
        elif operator == "in":
            filters.append(Filter(column, operator, value.split(",")))
        else:
            filters.append(Filter(column, operator, value))
    if len(filters) > MAX_CONDITIONS:
        raise InvalidParameter(f"At most {MAX_CONDITIONS} where conditions")
    return tuple(filters)


def _json_filters(text: str) -> list[Filter]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise InvalidParameter(f"Parameter 'where' is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidParameter(f"where is not valid JSON. {STRUCTURED_WHERE}") from None
    out = []
    for entry in items:
        if not isinstance(entry, dict) or not isinstance(entry.get("column"), str) or entry.get("op") not in OPERATORS:
            raise InvalidParameter(f"Each JSON where item needs a 'column' and an 'op'. {STRUCTURED_WHERE}")
        out.append(Filter(entry["column"], entry["op"], entry.get("value")))
    return out


def parse_structured_orderby(items: Iterable[str]) -> tuple[Order, ...]:
    """`orderby=age` or `orderby=age:desc` (repeat for more keys)."""
    orders = []
    for item in items:
        column, _, direction = item.rpartition(":") if item.lower().endswith((":asc", ":desc")) else (item, "", "")
        if not column:
            raise InvalidParameter(f"Cannot read orderby={item!r}: give column or column:asc / column:desc")
        orders.append(Order(column, descending=direction.lower() == "desc"))
    if len(orders) > MAX_CONDITIONS:
        raise InvalidParameter(f"At most {MAX_CONDITIONS} orderby columns")
    return tuple(orders)


def typed_filters(schema: pa.Schema, filters: Sequence[Condition]) -> tuple[Condition, ...]:
    """Conditions whose values came as text, with each value read as its column's type (numbers, booleans);
    a column the schema lacks is left for the engine to refuse by name."""
    return tuple(_typed_condition(schema, f) for f in filters)


def _typed_condition(schema: pa.Schema, condition: Condition) -> Condition:
    if isinstance(condition, Negation):
        return Negation(_typed_condition(schema, condition.condition))
    if isinstance(condition, AnyOf | AllOf):
        return type(condition)(tuple(_typed_condition(schema, c) for c in condition.conditions))
    f = condition
    if f.column not in schema.names or f.value is None:
        return f
    t = schema.field(f.column).type
    value = [_typed(f.column, t, v) for v in f.value] if isinstance(f.value, list) else _typed(f.column, t, f.value)
    return Filter(f.column, f.operator, value)


def _typed(column: str, t: pa.DataType, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if pa.types.is_boolean(t):
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        if pa.types.is_integer(t):
            return int(value)
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return float(value)
    except ValueError:
        raise InvalidParameter(f"Value {value!r} does not fit column {column!r} of type {t}") from None
    return value
