"""Strangers cannot exhaust the hub's memory or connections: every body is bounded per route before
authentication (413), JSON nesting is bounded (400), headers are bounded (431), and slow clients are
cut off (408). Large uploads keep working (test_git_http, test_hf_client, test_xet)."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.conftest import LiveHubFactory, start_hub
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub
from tests.support.raw_http import RawAnswer, chunk_frame, connect, head, read_answer, send_until_answered

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MiB = 1024 * 1024
# Each stranger below could make the hub hold hundreds of MiB if bodies were read whole or inflated at once.
GROWTH_BOUND = 128 * MiB
CLIENT_TIMEOUT = 3
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LFS = {"Content-Type": "application/vnd.git-lfs+json", "Accept": "application/vnd.git-lfs+json"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """One hub for the module, with a short client timeout so slow clients are cut off quickly."""
    started = start_hub(tmp_path_factory.mktemp("bounds") / "data", {"CSGHUB_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT)})
    yield started
    started.stop()


@pytest.fixture(scope="module")
def repo(hub: LiveHub) -> tuple[str, str]:
    user, token = hub.user()
    create_repo(hub.url, token, f"{user}/private", private=True)
    return f"{user}/private", token


def _endless(hub: LiveHub, method: str, path: str, headers: dict[str, str]) -> RawAnswer:
    return send_until_answered(hub.url, head(method, path, headers), chunk_frame(), cap=256 * MiB, deadline=30)


def _assert_refused(answer: RawAnswer, status: int, code: str, *, sent_below: int) -> None:
    assert answer.status == status, answer
    assert answer.json()["code"] == code
    assert answer.headers.get("connection") == "close"
    assert answer.sent < sent_below, f"the server read {answer.sent} bytes before refusing"


# Each route class that reads a body whole, and its bound.
ENDLESS_WITHOUT_CREDENTIALS = [
    ("POST", "/{repo}.git/info/lfs/objects/batch", LFS, 4 * MiB),
    ("POST", "/{repo}.git/info/lfs/locks/verify", LFS, 4 * MiB),
    ("POST", "/lfs/complete/some-upload", JSON, 4 * MiB),
    ("POST", "/login", FORM, 16 * 1024),
    ("POST", "/join", FORM, 16 * 1024),
    ("POST", "/api/v1/auth/login", JSON, 16 * 1024),
    ("POST", "/api/repos/create", JSON, MiB),
    ("POST", "/api/models/{repo}/preupload/main", JSON, MiB),
    ("POST", "/api/models/{repo}/paths-info/main", JSON, MiB),
    ("POST", "/api/validate-yaml", JSON, MiB),
    ("POST", "/api/v1/organizations", JSON, MiB),
    ("POST", "/hf/api/models/{repo}/discussions", JSON, MiB),
    ("POST", "/collections/new", FORM, MiB),
    ("POST", "/{repo}/edit/main", FORM, 2 * MiB),  # the portal's file editor
    ("POST", "/xet/v1/telemetry", JSON, MiB),
]


@pytest.mark.parametrize(("method", "path", "headers", "limit"), ENDLESS_WITHOUT_CREDENTIALS)
def test_endless_body_without_credentials_is_refused_at_its_route_bound(
    hub: LiveHub, repo: tuple[str, str], method: str, path: str, headers: dict[str, str], limit: int
) -> None:
    answer = _endless(hub, method, path.format(repo=repo[0]), headers)
    # The answer comes once the bound is passed: what the kernel buffers on the way is all the slack.
    _assert_refused(answer, 413, "TooLarge", sent_below=limit + 8 * MiB)
    assert str(limit) in answer.json()["error"]
    assert answer.seconds < 15


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/models/{repo}/raw/big.bin", 64 * MiB),  # file content in JSON, read into memory
        ("/api/v1/models/{repo}/commit/main", 64 * MiB),
        ("/api/models/{repo}/commit/main", 50 * 1024 * MiB),  # streamed to disk
        ("/lfs/objects/" + "a" * 64 + "/10", 10),  # the size the upload link names
        ("/xet/v1/shards", 64 * MiB),
    ],
)
def test_declared_length_over_the_bound_is_refused_before_any_byte(
    hub: LiveHub, repo: tuple[str, str], path: str, limit: int
) -> None:
    with connect(hub.url) as sock:
        sock.sendall(head("POST", path.format(repo=repo[0]), {"Content-Length": str(limit + 1)}, chunked=False))
        data = b"".join(iter(lambda: sock.recv(65536), b""))  # until the server closes
    assert data.startswith(b"HTTP/1.1 413"), data
    assert b'"code":"TooLarge"' in data and str(limit).encode() in data


def test_streamed_body_past_its_bound_is_refused_while_streaming(hub: LiveHub, repo: tuple[str, str]) -> None:
    """A route that reads its body itself (here the raw file API, 64 MiB) is cut off at its bound."""
    start = head("PUT", f"/api/v1/models/{repo[0]}/raw/big.bin", {**JSON, "Authorization": f"Bearer {repo[1]}"})
    answer = send_until_answered(hub.url, start, chunk_frame(), cap=256 * MiB)
    _assert_refused(answer, 413, "TooLarge", sent_below=72 * MiB)
    assert answer.sent > 64 * MiB
    assert str(64 * MiB) in answer.json()["error"]


def test_body_within_the_bound_still_reaches_the_route(hub: LiveHub) -> None:
    content = "---\nlicense: mit\n---\n" + "# notes\n" * 100_000  # 800 KB, under the 1 MiB JSON bound
    with api(hub.url) as client:
        r = client.post("/api/validate-yaml", json={"content": content})
    assert r.status_code == 200, r.text
    assert r.json() == {"errors": [], "warnings": []}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/repos/create", JSON),  # read_json
        ("/api/validate-yaml", JSON),
        ("/api/models/{repo}/preupload/main", JSON),
        ("/{repo}.git/info/lfs/objects/batch", LFS),
        ("/{repo}.git/info/lfs/objects/batch", {"Content-Type": "text/plain"}),  # parsed as JSON all the same
        ("/api/v1/models/{repo}/raw/deep.json", JSON),  # a streamed route: read_json's own check
    ],
)
def test_deep_nesting_is_a_400_not_a_recursion_error(
    hub: LiveHub, repo: tuple[str, str], path: str, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {repo[1]}"}, timeout=60) as client:
        r = client.post(path.format(repo=repo[0]), content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "InvalidArgument"
    assert "nests deeper than 64" in r.json()["error"]


def test_sixteen_mib_header_is_refused_with_431(hub: LiveHub) -> None:
    start = b"GET /api/whoami-v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: "
    answer = send_until_answered(hub.url, start, b"a" * 65536, cap=16 * MiB, deadline=30)
    _assert_refused(answer, 431, "RequestHeaderFieldsTooLarge", sent_below=8 * MiB)
    with api(hub.url) as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_headers_sent_slowly_are_cut_off(hub: LiveHub) -> None:
    start = b"GET /api/whoami-v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    answer = send_until_answered(hub.url, start, b"X-Slow: 1\r\n", pause=0.5, deadline=CLIENT_TIMEOUT + 20)
    assert answer.status == 408, answer
    assert answer.json()["code"] == "RequestTimeout"
    assert CLIENT_TIMEOUT - 0.5 < answer.seconds < CLIENT_TIMEOUT + 10


def test_idle_connection_is_closed(hub: LiveHub) -> None:
    began = time.monotonic()
    with connect(hub.url) as sock:
        data = b"".join(iter(lambda: sock.recv(65536), b""))  # blocks until the server gives up on us
    assert data.startswith(b"HTTP/1.1 408"), data
    assert time.monotonic() - began < CLIENT_TIMEOUT + 10


def test_small_body_sent_slowly_is_cut_off(hub: LiveHub) -> None:
    start = head("POST", "/api/v1/auth/login", {**JSON, "Content-Length": "4000"}, chunked=False)
    answer = send_until_answered(hub.url, start, b" ", pause=0.5, deadline=CLIENT_TIMEOUT + 20)
    assert answer.status == 408, answer
    assert answer.json()["code"] == "RequestTimeout"
    assert answer.sent < 100


def test_stalled_upload_is_cut_off_and_changes_nothing(hub: LiveHub) -> None:
    user, token = hub.user()
    create_repo(hub.url, token, f"{user}/stall")
    with api(hub.url, token) as client:
        before = client.get(f"/api/models/{user}/stall").json()["sha"]
    start = head(
        "POST",
        f"/api/models/{user}/stall/commit/main",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    line = b'{"key": "header", "value": {"summary": "stalled"}}\n'
    first = b"%x\r\n" % len(line) + line + b"\r\n"
    # One chunk, then silence: the frame after it is never due within the deadline.
    answer = send_until_answered(hub.url, start + first, b"", deadline=CLIENT_TIMEOUT + 20)
    assert answer.status == 408, answer
    assert answer.json()["code"] == "RequestTimeout"
    with api(hub.url, token) as client:
        assert client.get(f"/api/models/{user}/stall").json()["sha"] == before


def test_strangers_streaming_endless_bodies_keep_memory_bounded(hub: LiveHub, repo: tuple[str, str]) -> None:
    assert hub.process is not None
    server = psutil.Process(hub.process.pid)
    targets = [
        ("POST", f"/{repo[0]}.git/info/lfs/objects/batch", LFS),
        ("POST", "/login", FORM),
        ("POST", "/api/v1/auth/login", JSON),
        ("POST", "/api/repos/create", JSON),
        ("POST", f"/api/models/{repo[0]}/preupload/main", JSON),
        ("POST", "/api/validate-yaml", JSON),
    ]
    answers: list[RawAnswer] = []
    start = peak = server.memory_info().rss
    stop = threading.Event()

    def stranger(index: int) -> None:
        for round_ in range(6):
            method, path, headers = targets[(index + round_) % len(targets)]
            answers.append(_endless(hub, method, path, headers))

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.02):
            peak = max(peak, server.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    strangers = [threading.Thread(target=stranger, args=(i,)) for i in range(6)]
    for thread in strangers:
        thread.start()
    for thread in strangers:
        thread.join(timeout=120)
    stop.set()
    sampler.join()
    assert len(answers) == 36
    assert all(a.status == 413 for a in answers), [a for a in answers if a.status != 413]
    # Growth, not the absolute size: the idle hub's size depends on what it imports, not on these bodies.
    assert peak - start < GROWTH_BOUND, f"RSS grew {(peak - start) / MiB:.0f} MiB (from {start / MiB:.0f} MiB)"
    with api(hub.url) as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_bodies_held_at_once_share_one_memory_budget(live_hub_factory: LiveHubFactory) -> None:
    """Each body under its own bound, but together over max_body_memory: the next one gets 503, and
    the budget comes back when the held bodies are done."""
    bounds = {"CSGHUB_MAX_JSON_BODY": 2 * MiB, "CSGHUB_MAX_INLINE_BODY": 2 * MiB, "CSGHUB_MAX_BODY_MEMORY": 4 * MiB}
    small = live_hub_factory({key: str(value) for key, value in bounds.items()})
    half = chunk_frame(512 * 1024)
    holders = [connect(small.url) for _ in range(2)]
    try:
        for sock in holders:  # 1.5 MiB each, unfinished: the hub holds them while it waits for the rest
            sock.sendall(head("POST", "/api/repos/create", JSON) + half * 3)
        refused = _endless(small, "POST", "/api/repos/create", JSON)
        assert refused.status == 503, refused
        assert refused.json()["code"] == "Overloaded"
        assert refused.headers.get("retry-after") == "5"
        for sock in holders:  # finish both bodies: the route gets them whole, answers, and lets go
            sock.sendall(b"0\r\n\r\n")
            done = read_answer(sock, time.monotonic() + 30)
            assert done.status == 400, done
            assert done.json()["error"] == "Request body is not valid JSON"
    finally:
        for sock in holders:
            sock.close()
    with api(small.url) as client:
        r = client.post("/api/repos/create", content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}', headers=JSON)
    assert r.status_code == 401, r.text


def _gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    return b"".join(packer.compress(block) for _ in range(size // MiB)) + packer.flush()


def test_gzip_bombs_to_git_http_keep_memory_bounded(hub: LiveHub) -> None:
    """git clients may gzip their request; a small body that inflates a thousandfold is inflated a
    step at a time into git, never whole."""
    user, token = hub.user()
    create_repo(hub.url, token, f"{user}/public")
    bomb = _gzip_of_zeros(512 * MiB)  # about 500 KB on the wire
    assert hub.process is not None
    server = psutil.Process(hub.process.pid)
    start = peak = server.memory_info().rss
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.01):
            peak = max(peak, server.memory_info().rss)

    def bomber(answers: list[httpx.Response]) -> None:
        with httpx.Client(base_url=hub.url, timeout=60) as client:
            answers.append(
                client.post(
                    f"/{user}/public.git/git-upload-pack",
                    content=bomb,
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/x-git-upload-pack-request"},
                )
            )

    answers: list[httpx.Response] = []
    sampler = threading.Thread(target=sample)
    sampler.start()
    bombers = [threading.Thread(target=bomber, args=(answers,)) for _ in range(6)]
    for thread in bombers:
        thread.start()
    for thread in bombers:
        thread.join(timeout=120)
    stop.set()
    sampler.join()
    assert len(answers) == 6
    # git refuses the garbage in its own protocol; the hub itself stays small and answers.
    assert all(a.headers["content-type"] == "application/x-git-upload-pack-result" for a in answers), answers
    # Growth, not the absolute size: the idle hub's size depends on what it imports, not on these bodies.
    assert peak - start < GROWTH_BOUND, f"RSS grew {(peak - start) / MiB:.0f} MiB (from {start / MiB:.0f} MiB)"
    with api(hub.url) as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_uploads_from_those_who_may_not_write_are_refused_before_their_bytes(hub: LiveHub) -> None:
    """Uploads stream to disk and file content in JSON is read into memory, so who may write is settled
    before the first byte is read."""
    owner, owner_token = hub.user()
    create_repo(hub.url, owner_token, f"{owner}/open")
    _, stranger_token = hub.user()
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    cases = [
        (f"/api/v1/models/{owner}/open/upload_file", {}, 401),
        (f"/api/v1/models/{owner}/open/upload_file", {"Authorization": f"Bearer {stranger_token}"}, 403),
        (f"/{owner}/open/upload/main", {}, 403),  # the portal: no session
        (f"/{owner}/open/upload/main", {"Cookie": "csghub_session=forged"}, 401),  # a plain form, no script
        # File content inside JSON, read into memory: the same rule.
        (f"/api/v1/models/{owner}/open/raw/big.bin", {"Content-Type": "application/json"}, 401),
        (f"/api/v1/models/{owner}/open/commit/main", {"Authorization": f"Bearer {stranger_token}"}, 403),
    ]
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n'
    opening = b"%x\r\n" % len(part) + part + b"\r\n"  # then file bytes without end
    for path, credentials, status in cases:
        start = head("POST", path, {**multipart, **credentials}) + opening
        answer = send_until_answered(hub.url, start, chunk_frame(), cap=256 * MiB, deadline=30)
        assert answer.status == status, (path, answer)
        assert answer.sent < 16 * MiB and answer.seconds < 10, (path, answer.sent, answer.seconds)
