"""The gateway's pure parts: OpenAI-style errors from the engines' answers, the request checks, the usage
read from a stream's events, and the model's name renamed in answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from csghub.core.errors import NotFound, ServiceUnavailable, Unauthenticated
from csghub.transport import openai_shapes as shapes
from csghub.transport.gateway_relay import Meter, Relay, renamer


def _error(response: Any) -> tuple[int, dict[str, Any]]:
    return response.status_code, json.loads(response.body)["error"]


@pytest.mark.parametrize(
    ("status", "body", "answered", "message"),
    [
        (422, b'{"detail":"Unexpected fields in the request: {\'bogus\'}"}', 400, "Unexpected fields"),
        (
            422,
            b'{"detail":[{"type":"json_invalid","loc":["body",28],"msg":"JSON decode error"}]}',
            400,
            "28: JSON decode error",
        ),
        (400, b'{"detail":"Server is pinned to \'/m\'"}', 400, "pinned"),
        (400, b'{"error": {"message": "too long", "type": "invalid_request_error"}}', 400, "too long"),
        (500, b"Internal Server Error", 502, "The model server failed: Internal Server Error"),
        (503, b"", 502, "no details"),
        (429, b'{"detail": "busy"}', 429, "busy"),
    ],
)
def test_engine_errors_become_openai_errors(status: int, body: bytes, answered: int, message: str) -> None:
    got_status, error = _error(shapes.from_engine_error(status, body))
    assert got_status == answered and message in error["message"]
    assert error["type"] == (
        "server_error" if answered >= 500 else shapes.error_body("", status=answered)["error"]["type"]
    )


def test_hub_refusals_carry_openai_codes() -> None:
    assert _error(shapes.from_hub_error(NotFound("Endpoint not found: a/b")))[1]["code"] == "model_not_found"
    status, error = _error(shapes.from_hub_error(Unauthenticated("Invalid token", code="InvalidToken")))
    assert status == 401 and error["code"] == "invalid_api_key" and error["type"] == "authentication_error"
    busy = shapes.from_hub_error(ServiceUnavailable("no healthy replica"))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert _error(busy)[1]["code"] == "no_healthy_replica"
    bad = shapes.from_hub_error(shapes.BadRequest("no", param="messages", code="invalid_value"))
    assert _error(bad) == (
        400,
        {"message": "no", "type": "invalid_request_error", "param": "messages", "code": "invalid_value"},
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"content": "x"}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": True}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 5000}, "max_completion_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "top_p": -1}, "top_p"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": 1.5}, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": 1}, "stream"),
    ],
)
def test_chat_requests_are_checked_before_a_replica_sees_them(body: dict[str, Any], param: str) -> None:
    with pytest.raises(shapes.BadRequest) as refused:
        shapes.check_chat(body, 4096)
    assert refused.value.param == param


def test_good_requests_pass_the_checks() -> None:
    shapes.check_chat(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "max_tokens": 4096, "stop": "\n"},
        4096,
    )
    shapes.check_completion({"prompt": ["a", "b"], "temperature": 0.5, "seed": 3}, 4096)
    shapes.check_embedding({"input": "one", "encoding_format": "base64"}, 2)
    for refused, check in (
        ({"prompt": []}, lambda b: shapes.check_completion(b, 10)),
        ({"input": ["a", "b", "c"]}, lambda b: shapes.check_embedding(b, 2)),
        ({"input": "a", "encoding_format": "int8"}, lambda b: shapes.check_embedding(b, 2)),
    ):
        with pytest.raises(shapes.BadRequest):
            check(refused)


def test_meter_reads_the_usage_of_a_streams_last_event() -> None:
    meter = Meter()
    chunk = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
    meter.read_events(chunk * 3)
    meter.read_events(b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\ndata: [DONE]\n\n')
    assert meter.tokens == (7, 3)
    counted = Meter()
    counted.read_events(chunk * 5 + b'data: {"choices":[{"finish_reason":"length"}]}\n\n')
    assert counted.tokens == (0, 5)  # no usage sent: one event per token, less the closing one


def test_renamer_replaces_the_engines_name_for_the_model() -> None:
    rename = renamer("/data/compute/models/3-abc", "alice/bot")
    assert rename(b'{"model":"/data/compute/models/3-abc","x":1}') == b'{"model":"alice/bot","x":1}'
    assert rename(b'{"model":"other"}') == b'{"model":"other"}'


def test_relay_takes_turns_among_replicas() -> None:
    relay = Relay(timeout=5)
    urls = ("http://a", "http://b", "http://c")
    firsts = [relay.order(1, urls)[0] for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c"] * 2
    assert sorted(relay.order(1, urls)) == sorted(urls)  # every replica once, to retry on
    assert relay.order(2, urls)[0] == "http://a"  # each endpoint has its own turn
