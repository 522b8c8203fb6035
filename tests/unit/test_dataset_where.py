"""The viewer's where/orderby grammar: what it reads into Filter/Order, and what it refuses (with a message
naming what is allowed) instead of letting it near SQL."""

from __future__ import annotations

import pyarrow as pa
import pytest

from csghub.services.datasets.rows import AllOf, AnyOf, Filter, Negation, Order
from csghub.services.datasets.where import (
    InvalidParameter,
    parse_orderby,
    parse_structured_orderby,
    parse_structured_where,
    parse_where,
    typed_filters,
)


def test_where_reads_comparisons_null_tests_in_lists_and_ilike() -> None:
    text = """"age" >= 30 AND city = 'O''Hare' AND "we""ird" IS NOT NULL AND "x" IS NULL AND "n" IN (1, 2.5, -3)
              and "t" ILIKE '%Cat%' AND "t" ILIKE 'do%' AND "ok" = true AND "v" <> 1e3"""
    assert parse_where(text) == (
        Filter("age", "ge", 30),
        Filter("city", "eq", "O'Hare"),
        Filter('we"ird', "is_not_null"),
        Filter("x", "is_null"),
        Filter("n", "in", [1, 2.5, -3]),
        Filter("t", "contains", "Cat"),
        Filter("t", "starts_with", "do"),
        Filter("ok", "eq", True),
        Filter("v", "ne", 1000.0),
    )
    assert parse_where("") == () and parse_where("   ") == ()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('"a" = 1 OR 1=1', "expected a column name"),
        ('("a" = 1 OR "b" = 2', "expected )"),
        ('"a" = 1 OR', "expected more"),
        ('"a" = 1 "b" = 2', "expected AND, OR or the end"),
        ("NOT " * 9 + '"a" = 1', "deep at most"),
        ("(" * 9 + '"a" = 1' + ")" * 9, "deep at most"),
        (" OR ".join(['"a" = 1'] * 21), "at most 20"),
        ('"a" = 1; DROP TABLE t', "cannot be read"),
        ('"a" = 1 -- comment', "cannot be read"),
        ('"a" = 1 /* x */', "cannot be read"),
        ('"a" = (SELECT 1)', "expected a literal"),
        ('"a" = "b"', "expected a literal"),
        ("lower(\"a\") = 'x'", "expected an operator"),
        ("\"a\" LIKE 'x%'", "ILIKE"),
        ("\"a\" ILIKE 'x'", "'%text%' or 'text%'"),
        ("\"a\" ILIKE '%x%y%'", "one leading and one trailing"),
        ('"a" = NULL', "IS NULL"),
        ('"a" IS 3', "expected NULL"),
        ('"a" IN 1', "expected ("),
        ('"a" =', "expected more"),
        ('"a" = 1 AND', "expected more"),
        ("AND = 1", "expected a column name"),
        (" AND ".join(['"a" = 1'] * 21), "at most 20"),
        ('"a" = ' + "1" * 3000, "longer than"),
    ],
)
def test_where_refuses_what_it_does_not_know(text: str, needle: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_where(text)
    assert needle in caught.value.message and caught.value.status == 400
    assert caught.value.code == "InvalidParameter"


def test_orderby_reads_columns_and_directions() -> None:
    assert parse_orderby('"age" DESC, name, "b" asc') == (Order("age", True), Order("name"), Order("b"))
    for bad, needle in (("age DESC; SELECT 1", "cannot be read"), ("random()", "expected , or the end"),
                        ("age DESC DESC", "expected , or the end"), ("DESC", "expected a column name")):  # fmt: skip
        with pytest.raises(InvalidParameter, match="Allowed") as caught:
            parse_orderby(bad)
        assert needle in caught.value.message


def test_structured_where_and_orderby_read_csghub_parameters() -> None:
    assert parse_structured_where(["age:ge:30", "a:b:eq:x:y", "city:in:Paris,Oslo", "c:is_null", "d:is_not_null:"]) == (
        Filter("age", "ge", "30"),
        Filter("a:b", "eq", "x:y"),
        Filter("city", "in", ["Paris", "Oslo"]),
        Filter("c", "is_null"),
        Filter("d", "is_not_null"),
    )
    assert parse_structured_where(['[{"column": "x", "op": "in", "value": [1, 2]}]']) == (Filter("x", "in", [1, 2]),)
    assert parse_structured_orderby(["age:desc", "name", "a:b:ASC"]) == (
        Order("age", True), Order("name"), Order("a:b"),
    )  # fmt: skip
    for bad, needle in ((["age>3"], "column:op:value"), (["[1"], "not valid JSON"), (['[{"column": 1}]'], "needs")):
        with pytest.raises(InvalidParameter) as caught:
            parse_structured_where(bad)
        assert needle in caught.value.message


def test_typed_filters_read_text_values_as_the_columns_types() -> None:
    schema = pa.schema([("n", pa.int64()), ("f", pa.float64()), ("b", pa.bool_()), ("s", pa.string())])
    given = (Filter("n", "in", ["1", "2"]), Filter("f", "gt", "0.5"), Filter("b", "eq", "TRUE"),
             Filter("s", "eq", "7"), Filter("missing", "eq", "1"), Filter("n", "is_null"))  # fmt: skip
    assert typed_filters(schema, given) == (
        Filter("n", "in", [1, 2]), Filter("f", "gt", 0.5), Filter("b", "eq", True),
        Filter("s", "eq", "7"), Filter("missing", "eq", "1"), Filter("n", "is_null"),
    )  # fmt: skip
    for column, value in (("n", "x"), ("f", "1,5"), ("b", "yes")):
        with pytest.raises(InvalidParameter, match="does not fit"):
            typed_filters(schema, (Filter(column, "eq", value),))


def test_where_reads_or_not_and_parentheses_with_and_binding_tighter() -> None:
    assert parse_where('"a" = 1 OR "b" = 2 AND "c" IS NULL') == (
        AnyOf((Filter("a", "eq", 1), AllOf((Filter("b", "eq", 2), Filter("c", "is_null"))))),
    )
    assert parse_where('("a" = 1 OR "b" = 2) AND NOT "c" IN (3, 4)') == (
        AnyOf((Filter("a", "eq", 1), Filter("b", "eq", 2))),
        Negation(Filter("c", "in", [3, 4])),
    )
    assert parse_where("not (a > 1 or b < 2)") == (Negation(AnyOf((Filter("a", "gt", 1), Filter("b", "lt", 2)))),)
