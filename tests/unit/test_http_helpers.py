from __future__ import annotations

import time

import pytest

from csghub.core.signing import check_signature, sign
from csghub.http.streams import RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=90-1000", (90, 100)),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-40", "bytes=-0"])
def test_parse_range_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_signatures_bind_every_part_and_expire() -> None:
    future = int(time.time()) + 60
    sig = sign("k", "put", "oid", "10", expires_at=future)
    assert check_signature("k", "put", "oid", "10", expires_at=future, signature=sig)
    assert not check_signature("k", "put", "oid", "11", expires_at=future, signature=sig)
    assert not check_signature("other", "put", "oid", "10", expires_at=future, signature=sig)
    past = int(time.time()) - 1
    assert not check_signature(
        "k", "put", "oid", "10", expires_at=past, signature=sign("k", "put", "oid", "10", expires_at=past)
    )


def test_tokens_carry_claims_and_expire() -> None:
    from csghub.core.signing import make_token, read_token

    now = int(time.time())
    token = make_token("k", {"scope": "read", "repo": 3}, expires_at=now + 60)
    assert read_token("k", token) == {"scope": "read", "repo": 3, "exp": now + 60}
    assert read_token("other", token) is None
    assert read_token("k", token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert read_token("k", make_token("k", {"scope": "read"}, expires_at=now - 1)) is None
    assert read_token("k", "no-dot-at-all") is None
