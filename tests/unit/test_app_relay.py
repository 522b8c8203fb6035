"""What an app on a replica gets of a request's headers (never the hub's credentials), and the answer's
body rewritten as it streams."""

from __future__ import annotations

from csghub.transport.app_relay import Replacer, request_headers


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


def _through(replacer: Replacer, body: bytes, cuts: list[int]) -> bytes:
    out, start = [], 0
    for cut in [*cuts, len(body)]:
        out.append(replacer.feed(body[start:cut]))
        start = cut
    return b"".join(out) + replacer.end()


def test_replacer_rewrites_every_occurrence_however_the_body_is_cut() -> None:
    pairs = [(b"http://h/apps/o/n/", b"http://h/apps/o/n/~c/"), (b'http://h/apps/o/n"', b'http://h/apps/o/n/~c"')]
    body = b'{"root": "http://h/apps/o/n", "file": "http://h/apps/o/n/f.png", "other": "http://h/apps/o/n2/x"}'
    expected = (
        b'{"root": "http://h/apps/o/n/~c", "file": "http://h/apps/o/n/~c/f.png", "other": "http://h/apps/o/n2/x"}'
    )
    for first in range(len(body) + 1):
        for second in range(first, len(body) + 1, 7):
            assert _through(Replacer(pairs), body, [first, second]) == expected


def test_replacer_holds_back_only_a_possible_start_so_events_go_out_at_once() -> None:
    replacer = Replacer([(b"http://h/apps/o/n/", b"http://h/apps/o/n/~c/")])
    assert replacer.feed(b"data: one\n\n") == b"data: one\n\n"
    assert replacer.feed(b"data: http://h/ap") == b"data: "
    assert replacer.feed(b"ps/o/n/x\n\n") == b"http://h/apps/o/n/~c/x\n\n"
    assert replacer.end() == b""
