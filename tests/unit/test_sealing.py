"""core/sealing.py: secrets at rest, and spaces' secrets sealed before it existed still open."""

from __future__ import annotations

from csghub.core import sealing
from csghub.services.spaces import secrets

HUB_KEY = "k" * 64
# Sealed by services/spaces/secrets.py before the sealing moved to core/sealing.py (space 7, TOKEN).
OLD_SPACE_SECRET = "v1:85p4o+sl7K11+OxFdOYS2jeqBInTQZOvpYQsdHBcSwfP"


def test_space_secret_sealed_before_the_move_still_opens() -> None:
    assert secrets.unseal(HUB_KEY, 7, "TOKEN", OLD_SPACE_SECRET) == "hello"
    assert secrets.unseal(HUB_KEY, 8, "TOKEN", OLD_SPACE_SECRET) is None


def test_seal_round_trips_and_is_bound_to_context_and_purpose() -> None:
    key = sealing.derive_key(HUB_KEY, b"purpose a")
    text = sealing.seal(key, "tok-\u00e9", "row:1")
    assert text.startswith("v1:") and "tok" not in text
    assert sealing.unseal(key, text, "row:1") == "tok-\u00e9"
    assert sealing.unseal(key, text, "row:2") is None
    assert sealing.unseal(sealing.derive_key(HUB_KEY, b"purpose b"), text, "row:1") is None
    assert sealing.unseal(sealing.derive_key("other", b"purpose a"), text, "row:1") is None


def test_seal_uses_fresh_nonce_each_time() -> None:
    key = sealing.derive_key(HUB_KEY, b"p")
    assert sealing.seal(key, "same", "c") != sealing.seal(key, "same", "c")


def test_unseal_refuses_damaged_text() -> None:
    key = sealing.derive_key(HUB_KEY, b"p")
    for text in ("", "plain", "v1:not base64!!", "v1:AAAA", "v2:" + sealing.seal(key, "x", "c")[3:]):
        assert sealing.unseal(key, text, "c") is None
