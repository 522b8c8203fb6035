"""What a notebook's Jupyter server gets of a request's headers: never the hub's credentials."""

from __future__ import annotations

from csghub.transport.app_relay import request_headers


def test_relayed_headers_drop_the_hub_credentials_and_hop_by_hop_headers() -> None:
    raw = [
        (b"Host", b"hub.example"),
        (b"Authorization", b"Bearer hub-token"),
        (b"Cookie", b"csghub_session=s3cret; _xsrf=abc; csghub_csrf=t; username-x=y"),
        (b"Origin", b"https://hub.example"),
        (b"Connection", b"keep-alive"),
        (b"Content-Type", b"application/json"),
        (b"X-XSRFToken", b"abc"),
    ]
    assert request_headers(raw) == [
        ("cookie", "_xsrf=abc; username-x=y"),
        ("content-type", "application/json"),
        ("x-xsrftoken", "abc"),
    ]


def test_websocket_handshake_headers_are_left_to_the_relay_client() -> None:
    raw = [
        (b"Sec-WebSocket-Key", b"k"),
        (b"Sec-WebSocket-Protocol", b"v1.kernel.websocket.jupyter.org"),
        (b"Cookie", b"csghub_session=s"),
    ]
    assert request_headers(raw, websocket=True) == []
    assert request_headers([(b"Sec-WebSocket-Key", b"k")]) == [("sec-websocket-key", "k")]
