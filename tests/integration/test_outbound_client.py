"""The outbound client against a tiny HTTP server of the test's own on 127.0.0.1: refused unless allowed,
every redirect hop checked, credentials kept to their host, and DNS rebinding caught at connection."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from csghub.net.client import git_connection_config, upstream_client
from csghub.net.guard import AddressRules, OutboundRefused, check_url

PUBLIC = "93.184.216.34"


@dataclass
class Seen:
    connections: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization header)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, seen: Seen) -> None:
        self.seen = seen
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> Any:
        self.seen.connections += 1
        return super().get_request()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.requests.append((self.path, self.headers.get("Authorization", "")))
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/loop":
            self.send_response(307)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"hello from " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, Seen]]:
    seen = Seen()
    httpd = _Server(seen)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def names(mapping: dict[str, str], **options: Any) -> AddressRules:
    """Rules whose resolver answers from `mapping` (test names that no real DNS knows)."""
    return AddressRules(resolve=lambda host, port: [mapping[host]], **options)


def test_client_refuses_loopback_without_allow(server: tuple[int, Seen]) -> None:
    port, seen = server
    with upstream_client(AddressRules()) as client, pytest.raises(OutboundRefused, match="loopback"):
        client.get(f"http://127.0.0.1:{port}/x")
    assert seen.connections == 0


def test_client_connects_when_allowed(server: tuple[int, Seen]) -> None:
    port, seen = server
    with upstream_client(AddressRules(allow_hosts=["127.0.0.1"]), token="tok") as client:
        response = client.get(f"http://127.0.0.1:{port}/x")
    assert response.text == "hello from /x"
    assert seen.requests == [("/x", "Bearer tok")]


def test_client_connects_to_the_address_it_checked(server: tuple[int, Seen]) -> None:
    """`hub.test` exists only in the rules' resolver: the connection can only reach the server if the
    backend connects to the address it resolved and checked, not to what the system would resolve."""
    port, seen = server
    with upstream_client(names({"hub.test": "127.0.0.1"}, allow_hosts=["hub.test"])) as client:
        assert client.get(f"http://hub.test:{port}/named").text == "hello from /named"
    assert seen.requests == [("/named", "")]


def test_client_refuses_redirect_to_refused_address_at_the_hop(server: tuple[int, Seen]) -> None:
    port, seen = server
    rules = names({"hub.test": "127.0.0.1"}, allow_hosts=["hub.test"])
    with upstream_client(rules) as client, pytest.raises(OutboundRefused, match="loopback"):
        client.get(f"http://hub.test:{port}/to/http://127.0.0.1:{port}/secret")
    assert [path for path, _ in seen.requests] == [f"/to/http://127.0.0.1:{port}/secret"]


def test_client_refuses_redirect_to_name_resolving_to_loopback(server: tuple[int, Seen]) -> None:
    """A hop to a name is checked where the name is resolved: when its connection opens."""
    port, seen = server
    rules = names({"hub.test": "127.0.0.1", "evil.test": "127.0.0.1"}, allow_hosts=["hub.test"])
    with upstream_client(rules) as client, pytest.raises(OutboundRefused, match=r"evil\.test"):
        client.get(f"http://hub.test:{port}/to/http://evil.test:{port}/secret")
    assert [path for path, _ in seen.requests] == [f"/to/http://evil.test:{port}/secret"]


def test_client_refuses_redirect_to_other_scheme(server: tuple[int, Seen]) -> None:
    port, _seen = server
    with upstream_client(AddressRules(allow_hosts=["127.0.0.1"])) as client, pytest.raises(OutboundRefused):
        client.get(f"http://127.0.0.1:{port}/to/file:///etc/passwd")


def test_client_drops_authorization_when_redirect_changes_host(server: tuple[int, Seen]) -> None:
    port, seen = server
    rules = names({"a.test": "127.0.0.1", "b.test": "127.0.0.1"}, allow_hosts=["a.test", "b.test"])
    with upstream_client(rules, token="tok") as client:
        same = client.get(f"http://a.test:{port}/to//same")
        other = client.get(f"http://a.test:{port}/to/http://b.test:{port}/other")
    assert same.text == "hello from /same" and other.text == "hello from /other"
    assert seen.requests == [
        ("/to//same", "Bearer tok"),
        ("/same", "Bearer tok"),
        (f"/to/http://b.test:{port}/other", "Bearer tok"),
        ("/other", ""),
    ]


def test_client_stops_after_five_redirects(server: tuple[int, Seen]) -> None:
    port, seen = server
    with (
        upstream_client(AddressRules(allow_hosts=["127.0.0.1"])) as client,
        pytest.raises(OutboundRefused, match="redirects"),
    ):
        client.get(f"http://127.0.0.1:{port}/loop")
    assert len(seen.requests) == 6  # the request and five hops


def test_client_catches_dns_rebinding(server: tuple[int, Seen]) -> None:
    """The name answers a public address when the URL is checked (a source saved), then loopback: the
    connection is checked again and refused, and the loopback server never sees it."""
    port, seen = server
    answers = iter([PUBLIC, "127.0.0.1", "127.0.0.1"])
    rules = AddressRules(resolve=lambda host, port: [next(answers)])
    check_url(f"http://rebind.test:{port}/", rules)
    with upstream_client(rules) as client, pytest.raises(OutboundRefused, match=r"127.0.0.1"):
        client.get(f"http://rebind.test:{port}/")
    assert seen.connections == 0


def test_client_every_connection_checks_again(server: tuple[int, Seen]) -> None:
    """Rebinding between two connections of one client: the second connection is refused."""
    port, seen = server
    answers = iter(["127.0.0.1", "10.0.0.1"])  # one lookup per connection
    rules = AddressRules(allow_hosts=["127.0.0.1"], resolve=lambda host, port: [next(answers)])
    with upstream_client(rules) as client:
        assert client.get(f"http://flip.test:{port}/one", headers={"Connection": "close"}).status_code == 200
        with pytest.raises(OutboundRefused, match=r"10.0.0.1"):
            client.get(f"http://flip.test:{port}/two")
    assert seen.requests == [("/one", "")]


def test_client_reports_unreachable_as_httpx_error() -> None:
    with (
        upstream_client(AddressRules(allow_hosts=["127.0.0.1"]), timeout=2) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("http://127.0.0.1:1/")


def test_git_config_ignores_proxies_and_refuses_redirects(server: tuple[int, Seen], tmp_path: Path) -> None:
    """The real git with git_connection_config: a proxy in the environment is not used (the server is
    reached directly) and a redirect is not followed (the server sees the one request)."""
    port, seen = server
    url = f"http://127.0.0.1:{port}/to//elsewhere"  # redirects to the same server: following would show
    plain = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "ls-remote", url], env=plain, capture_output=True, text=True, timeout=60)
    assert "/elsewhere/info/refs?service=git-upload-pack" in [p for p, _ in seen.requests], "git alone follows"
    seen.requests.clear()
    proxied = {**plain, "http_proxy": "http://127.0.0.1:1", "HTTP_PROXY": "http://127.0.0.1:1"}
    env = {**proxied, **git_connection_config(url, AddressRules(allow_hosts=["127.0.0.1"]))}
    done = subprocess.run(["git", "ls-remote", url], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "port 1" not in done.stderr, done.stderr
    assert [path for path, _ in seen.requests] == ["/to//elsewhere/info/refs?service=git-upload-pack"]


def test_git_config_pins_git_to_the_checked_address(server: tuple[int, Seen], tmp_path: Path) -> None:
    """`hub.test` exists only in the rules' resolver: git reaches the server only through the pin."""
    port, seen = server
    url = f"http://hub.test:{port}/org/repo"
    rules = names({"hub.test": "127.0.0.1"}, allow_hosts=["hub.test"])
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    pinned = {**env, **git_connection_config(url, rules)}
    subprocess.run(["git", "ls-remote", url], env=pinned, capture_output=True, text=True, timeout=60)
    # The tiny server is no git server (git makes what it can of its answer); reaching it is the point.
    assert seen.requests[0][0] == "/org/repo/info/refs?service=git-upload-pack"
    unpinned = subprocess.run(["git", "ls-remote", url], env=env, capture_output=True, text=True, timeout=60)
    assert unpinned.returncode != 0 and "hub.test" in unpinned.stderr
