"""The access log of a live hub, in both formats and off: one line per request naming its request id
(the one the answer carries), user, route template, path, status and bytes, and never a token; error
bodies carry the request id; libraries' INFO chatter stays out of the log unless asked for."""

from __future__ import annotations

import json
import re
import secrets
import socket
from collections.abc import Iterator

import httpx
import pytest

from csghub.services.identity import accounts, tokens
from tests.conftest import LiveHubFactory, start_hub
from tests.support.clients import create_repo
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MODEL_INFO = "/api/{type_plural}/{namespace}/{name}"
TEXT_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00) (?P<id>\S+) (?P<client>\S+) (?P<user>\S+) "
    r'"(?P<method>[A-Z]+) (?P<target>\S+)" (?P<route>\S+) (?P<status>\d{3}) '
    r"in=(?P<bytes_in>\d+) out=(?P<bytes_out>\d+) (?P<ms>[\d.]+)ms$"
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    started = start_hub(tmp_path_factory.mktemp("access-log") / "data")  # access_log = "text", the default
    yield started
    started.stop()


def _log_lines(hub: LiveHub) -> list[str]:
    assert hub.log_path is not None
    return hub.log_path.read_text(errors="replace").splitlines()


def _lines_naming(hub: LiveHub, ids: list[str], *, each: int = 1) -> dict[str, list[str]]:
    """The log's lines per request id, once every id has its line."""
    found: dict[str, list[str]] = {}

    def complete() -> bool:
        lines = _log_lines(hub)
        found.clear()
        found.update({rid: [line for line in lines if rid in line] for rid in ids})
        return all(len(named) >= each for named in found.values())

    wait_until(complete, "an access log line for every request", timeout=10, poll=0.02)
    return found


def test_text_line_per_request_with_user_route_path_status_and_bytes(hub: LiveHub) -> None:
    user, token = hub.user()
    repo = f"{user}/logged-{secrets.token_hex(3)}"
    create_repo(hub.url, token, repo, private=True)
    auth = {"Authorization": f"Bearer {token}"}
    answers = [
        httpx.get(f"{hub.url}/api/models/{repo}", headers={**auth, "X-Request-ID": f"t-{secrets.token_hex(6)}"}),
        httpx.get(f"{hub.url}/api/models/{repo}?token=hf_leaked_{user}", headers={"X-Request-ID": "anon-one"}),
        httpx.post(f"{hub.url}/api/repos/create", headers=auth, content=b"{not json"),
        httpx.get(f"{hub.url}/api/models", params={"search": user}),
    ]
    assert [a.status_code for a in answers] == [200, 401, 400, 200]
    ids = [a.headers["x-request-id"] for a in answers]
    assert ids[1] == "anon-one" and len(set(ids)) == 4
    lines = _lines_naming(hub, ids)
    assert all(len(named) == 1 for named in lines.values()), lines  # one line per request, no more

    parsed = [TEXT_LINE.match(lines[rid][0]) for rid in ids]
    assert all(parsed), lines
    first, anonymous, bad, listing = (m.groupdict() for m in parsed if m is not None)
    assert first["user"] == user and first["client"] == "127.0.0.1"
    assert (first["method"], first["route"], first["status"]) == ("GET", MODEL_INFO, "200")
    assert first["target"] == f"/api/models/{repo}"
    assert int(first["bytes_out"]) == len(answers[0].content) and first["bytes_in"] == "0"
    assert anonymous["user"] == "-" and anonymous["status"] == "401"
    assert anonymous["target"] == f"/api/models/{repo}?token=***"
    assert int(bad["bytes_in"]) == len(b"{not json") and bad["status"] == "400" and bad["method"] == "POST"
    assert listing["target"] == f"/api/models?search={user}"
    assert all(float(m["ms"]) >= 0 for m in (first, anonymous, bad, listing))
    assert not any(f"hf_leaked_{user}" in line for line in _log_lines(hub))
    assert not any(token in line for line in _log_lines(hub))


def test_error_bodies_and_headers_carry_the_request_id(hub: LiveHub) -> None:
    _user, token = hub.user()
    auth = {"Authorization": f"Bearer {token}"}
    missing = httpx.get(f"{hub.url}/api/models/nobody-{secrets.token_hex(3)}/nothing", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{24}", missing.headers["x-request-id"])
    unsafe = httpx.get(f"{hub.url}/api/models/x/y", headers={**auth, "X-Request-ID": "two words"})
    assert unsafe.headers["x-request-id"] != "two words"
    assert unsafe.json()["request_id"] == unsafe.headers["x-request-id"]
    kept = httpx.post(f"{hub.url}/api/repos/create", headers={**auth, "X-Request-ID": "trace-42"}, json={})
    assert kept.status_code == 400 and kept.json()["request_id"] == "trace-42"
    assert kept.headers["x-request-id"] == "trace-42"
    _lines_naming(hub, ["trace-42"])


def _knock_ssh(hub: LiveHub) -> None:
    """A connection to the SSH port that closes at once: asyncssh notes it at INFO."""
    with socket.create_connection(("127.0.0.1", hub.ssh_port), timeout=5) as sock:
        sock.sendall(b"SSH-2.0-probe\r\n")
        sock.recv(256)


def test_json_lines_and_library_chatter_kept_at_warning(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory({"CSGHUB_ACCESS_LOG": "json", "CSGHUB_LOG_LEVEL": "info"})
    user, token = hub.user()
    answers = [
        httpx.get(f"{hub.url}/api/models", headers={"Authorization": f"Bearer {token}"}),
        httpx.get(f"{hub.url}/no/such/page/{secrets.token_hex(2)}", headers={"Accept": "application/json"}),
    ]
    ids = [a.headers["x-request-id"] for a in answers]
    lines = _lines_naming(hub, ids)
    records = [json.loads(lines[rid][0]) for rid in ids]
    assert records[0]["user"] == user and records[0]["route"] == "/api/{type_plural}"
    assert records[0]["status"] == 200 and records[0]["bytes_out"] == len(answers[0].content)
    assert records[1]["user"] == "-" and records[1]["status"] == answers[1].status_code
    assert records[1]["route"] == "unmatched" and records[1]["status"] == 404
    for record in records:
        assert set(record) == {
            "time", "request_id", "client", "user", "method", "route", "path", "status", "bytes_in", "bytes_out",
            "duration_ms",
        }  # fmt: skip
    _knock_ssh(hub)
    httpx.get(f"{hub.url}/api/models", headers={"X-Request-ID": "after-knock"})
    _lines_naming(hub, ["after-knock"])
    assert not any("asyncssh" in line for line in _log_lines(hub))


def test_access_log_and_metrics_off(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory(
        {
            "CSGHUB_ACCESS_LOG": "off",
            "CSGHUB_METRICS_ENABLED": "false",
            "CSGHUB_LOG_LEVEL": "info",
            "CSGHUB_LOG_LIBRARIES": "asyncssh",
        }
    )
    name = f"root{secrets.token_hex(3)}"
    accounts.create_user(hub.hub, name, email=f"{name}@example.com", password="a-long-password-1", is_admin=True)
    admin = tokens.create_token(hub.hub, name, scope="read")[0]
    answer = httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {admin}", "X-Request-ID": "m-off"})
    assert answer.status_code == 404 and answer.headers["x-request-id"] == "m-off"
    _knock_ssh(hub)  # asked for: asyncssh's INFO lines are kept
    wait_until(lambda: any("asyncssh" in line for line in _log_lines(hub)), "asyncssh's INFO line", timeout=10)
    assert not any("m-off" in line for line in _log_lines(hub))
