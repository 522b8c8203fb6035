"""Typed JSON fields, numbers from URLs and header-safe messages: what a client sends either fits or is a
400 that names it."""

from __future__ import annotations

import pytest

from csghub.core.errors import InvalidArgument
from csghub.http.bodies import int_field, optional_text_field, text_field, text_list_field
from csghub.http.errors import header_safe
from csghub.http.params import MAX_ID, MAX_INDEX, lenient_index, page_number, whole_number


@pytest.mark.parametrize("value", [5, None, ["a"], {"a": 1}, True, 1.5])
def test_text_field_refuses_non_strings_naming_the_field(value: object) -> None:
    body = {"path": value}
    if value is None:
        assert text_field(body, "path") == "" and optional_text_field(body, "path") is None
        with pytest.raises(InvalidArgument, match="'path' is required"):
            text_field(body, "path", required=True)
        return
    for read in (text_field, optional_text_field):
        with pytest.raises(InvalidArgument, match="'path' must be a string"):
            read(body, "path")


def test_text_fields_refuse_nul() -> None:
    with pytest.raises(InvalidArgument, match="'summary' must not contain NUL"):
        text_field({"summary": "a\x00b"}, "summary")
    with pytest.raises(InvalidArgument, match="'actions'"):
        text_list_field({"actions": ["read", "\x00"]}, "actions")
    assert text_field({"summary": "line\nnext\ttab"}, "summary") == "line\nnext\ttab"


@pytest.mark.parametrize("value", [True, False, "1", 1.0, -1, 2**63, [1]])
def test_int_field_takes_whole_numbers_in_range(value: object) -> None:
    with pytest.raises(InvalidArgument, match="'size' must be a whole number"):
        int_field({"size": value}, "size", minimum=0)


def test_int_field_bounds() -> None:
    assert int_field({"size": 0}, "size", minimum=0) == 0
    assert int_field({"size": 2**63 - 1}, "size", minimum=0) == 2**63 - 1
    assert int_field({}, "size") is None
    with pytest.raises(InvalidArgument):
        int_field({"position": MAX_ID + 1}, "position", maximum=MAX_ID)


@pytest.mark.parametrize("raw", ["²", "١٢", "-1", "1e3", " 1", "x", "9" * 17, "9" * 5000])
def test_whole_number_refuses_what_is_not_ascii_digits_in_range(raw: str) -> None:
    with pytest.raises(InvalidArgument, match="'limit' must be a whole number"):
        whole_number(raw, "limit")


def test_whole_number_bounds() -> None:
    assert whole_number(None, "p") is None and whole_number("", "p") is None
    assert whole_number("0", "p") == 0 and whole_number(str(MAX_INDEX), "p") == MAX_INDEX
    with pytest.raises(InvalidArgument):
        whole_number(str(MAX_ID + 1), "before", maximum=MAX_ID)


def test_pages_and_cursors_forgive_but_stay_in_range() -> None:
    assert [page_number(v) for v in (None, "", "0", "²", "x", "3")] == [1, 1, 1, 1, 1, 3]
    assert page_number("9" * 5000) == MAX_INDEX
    assert [lenient_index(v) for v in (None, "", "²", "-5", "12")] == [0, 0, 0, 0, 12]
    assert lenient_index("9" * 40) == MAX_INDEX


def test_header_safe_blanks_control_characters_and_non_latin1() -> None:
    safe = header_safe("Invalid name 'a\x00b\x1b[31m\r\nX-Injected: 1\x7f' 名")
    assert safe == "Invalid name 'a b [31m  X-Injected: 1 ' ?"
    assert len(header_safe("x" * 5000)) == 1000
