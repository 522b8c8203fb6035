"""@mention parsing: what a reader sees as a mention, and nothing in code, addresses or paths."""

from __future__ import annotations

import pytest

from csghub.services.community.mentions import MAX_MENTIONS, parse_mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi @alice, and @Bob.", ["alice", "bob"]),
        ("@alice @ALICE @alice", ["alice"]),
        ("mail bob@example.com or @carol.", ["carol"]),
        ("see https://x.org/@dave and a/@erin", []),
        ("`@dave` and ``a ` @erin`` but @frank", ["frank"]),
        ("```\n@dave\n```\n~~~python\n@erin\n~~~\n@gina", ["gina"]),
        ("text\n\n    @dave in an indented block\n\n@erin", ["erin"]),
        ("@bob-smith @j.doe @x_y", ["bob-smith", "j.doe", "x_y"]),
        ("@-bad @a--b @ @", []),
        ('(@alice) [@bob] "@carol"', ["alice", "bob", "carol"]),
        ("@alice@evil", []),
    ],
)
def test_parse_mentions_reads_as_a_person_would(text: str, expected: list[str]) -> None:
    assert parse_mentions(text) == expected


def test_parse_mentions_is_bounded() -> None:
    text = " ".join(f"@user{n}" for n in range(MAX_MENTIONS + 10))
    assert len(parse_mentions(text)) == MAX_MENTIONS
