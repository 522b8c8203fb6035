"""Webhook payloads stay within their bound (a comment's text cut first, then the refs), and the retry
delays setting is read as seconds and refused when it is not."""

from __future__ import annotations

import json

import pytest

from csghub.config import ConfigError, load_settings, retry_delays
from csghub.services.webhooks import payloads


def _parts(content: str, refs: int) -> dict:
    return {
        "event": {"action": "create", "scope": "discussion.comment"},
        "repo": {"name": "a/b"},
        "comment": {"id": "1", "content": content},
        "updatedRefs": [{"ref": f"refs/tags/v{i}", "oldSha": "0" * 40, "newSha": "1" * 40} for i in range(refs)],
    }


def test_a_small_payload_is_sent_whole_with_the_webhook_named() -> None:
    text = payloads.encode(_parts("hello", 2), 7, 65536)
    payload = json.loads(text)
    assert payload["webhook"] == {"id": "7", "version": 3}
    assert payload["comment"]["content"] == "hello" and len(payload["updatedRefs"]) == 2


@pytest.mark.parametrize("content", ["x" * 100_000, "漢" * 40_000])
def test_a_long_comment_is_cut_to_the_bound(content: str) -> None:
    text = payloads.encode(_parts(content, 0), 7, 65536)
    assert len(text.encode()) <= 65536
    kept = json.loads(text)["comment"]["content"]
    assert content.startswith(kept) and len(kept) > 1000


def test_many_refs_are_cut_to_the_first_hundred() -> None:
    payload = json.loads(payloads.encode(_parts("", 5000), 7, 65536))
    assert [r["ref"] for r in payload["updatedRefs"]] == [f"refs/tags/v{i}" for i in range(payloads.MAX_REFS)]


def test_retry_delays_are_seconds_and_a_bad_one_is_named(tmp_path) -> None:
    settings = load_settings({"CSGHUB_WEBHOOK_RETRY_DELAYS": "0.5, 30,120"}, None, {"data_dir": tmp_path})
    assert retry_delays(settings) == (0.5, 30.0, 120.0)
    assert retry_delays(load_settings({}, None, {"data_dir": tmp_path}))[0] == 30.0
    for bad in ("soon", "-1", "1e9"):
        with pytest.raises(ConfigError, match="webhook_retry_delays"):
            load_settings({"CSGHUB_WEBHOOK_RETRY_DELAYS": bad}, None, {"data_dir": tmp_path})
