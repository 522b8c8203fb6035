"""HTTP clients and git settings for connections to other servers, with the outbound rules enforced at
every connection.

A name checked once when a URL is saved may resolve elsewhere later (DNS rebinding), so the check runs
again each time a TCP connection is opened, and the connection goes to the very address that passed
(TLS still verifies the certificate against the host name). Redirects are followed here, hop by hop,
each hop's URL checked, and credentials never follow a redirect to another host. No proxy from the
environment is used: a proxy would make the connection on our behalf, out of reach of the check.
"""

from __future__ import annotations

import typing

import httpcore
import httpx

from csghub.net.guard import AddressRules, OutboundRefused, check_url_form, resolve_checked, split_url

MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 30.0


class GuardedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to addresses the rules allow, resolved and checked at each connection."""

    def __init__(self, rules: AddressRules) -> None:
        self._rules = rules

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Any = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in resolve_checked(host, port, self._rules):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # the next address the name resolved to, as a resolver's client would
        assert error is not None
        raise error


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, rules: AddressRules) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend of its own: its pool is rebuilt with ours, other options default.
        self._pool = httpcore.ConnectionPool(
            # SSL_CERT_FILE / SSL_CERT_DIR are honoured (a private CA for an internal hub); proxies are not.
            ssl_context=httpx.create_ssl_context(trust_env=True),
            max_connections=100,
            max_keepalive_connections=20,
            network_backend=GuardedBackend(rules),
        )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def same_origin(a: str | httpx.URL, b: str | httpx.URL) -> bool:
    return _origin(httpx.URL(a)) == _origin(httpx.URL(b))


class GuardedClient(httpx.Client):
    """An httpx.Client whose redirects are followed by hand: at most MAX_REDIRECTS hops, each URL checked
    against the rules, the Authorization header dropped when a hop leaves the original host."""

    def __init__(self, rules: AddressRules, **kwargs: typing.Any) -> None:
        self._rules = rules
        super().__init__(transport=GuardedTransport(rules), trust_env=False, **kwargs)

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: typing.Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: typing.Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        follow = follow_redirects if isinstance(follow_redirects, bool) else self.follow_redirects
        # Names are resolved and checked by the backend when a connection opens (a kept-alive one was
        # checked when it opened); here only what needs no DNS, so a refusal comes before any connection.
        check_url_form(str(request.url), self._rules)
        response = super().send(request, stream=stream, auth=auth, follow_redirects=False)
        for _hop in range(MAX_REDIRECTS + 1):
            if not (follow and response.is_redirect):
                return response
            response.close()
            if _hop == MAX_REDIRECTS:
                break
            request = _next_hop(request, response)
            check_url_form(str(request.url), self._rules)
            response = super().send(request, stream=stream, auth=auth, follow_redirects=False)
        raise OutboundRefused(f"More than {MAX_REDIRECTS} redirects from {request.url.host}")


def _next_hop(request: httpx.Request, response: httpx.Response) -> httpx.Request:
    url = request.url.join(response.headers["location"])
    method = request.method
    if (response.status_code == 303 and method != "HEAD") or (response.status_code in (301, 302) and method == "POST"):
        method = "GET"
    keep_body = method == request.method
    headers = httpx.Headers(request.headers)
    headers.pop("host", None)
    if not same_origin(url, request.url):
        headers.pop("authorization", None)
        headers.pop("cookie", None)
    if not keep_body:
        for name in ("content-length", "content-type", "transfer-encoding"):
            headers.pop(name, None)
    return httpx.Request(method, url, headers=headers, content=request.content if keep_body else None)


def upstream_client(
    rules: AddressRules,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    base_url: str = "",
    follow_redirects: bool = True,
) -> GuardedClient:
    """A client for another server: connections checked against `rules`, `token` sent as a Bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return GuardedClient(
        rules,
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=follow_redirects,
    )


def git_connection_config(url: str, rules: AddressRules, token: str | None = None) -> dict[str, str]:
    """Environment variables for a `git` command that fetches from `url`: git's connection is pinned to the
    address checked now (http.curloptResolve), redirects and protocols other than http(s) are refused,
    and the token goes in an Authorization header through GIT_CONFIG_* (never in the URL or argv)."""
    _scheme, host, port = split_url(url)
    address = resolve_checked(host, port, rules)[0]
    pinned = f"[{address}]" if ":" in address else address
    options = [
        ("http.curloptResolve", f"{host}:{port}:{pinned}"),
        ("http.followRedirects", "false"),
        ("protocol.allow", "never"),
        ("protocol.https.allow", "always"),
        ("protocol.http.allow", "always"),
        # No proxy: it would connect on our behalf to whatever the name resolves to there.
        ("http.proxy", ""),
    ]
    if token:
        options.append(("http.extraHeader", f"Authorization: Bearer {token}"))
    env = {"GIT_CONFIG_COUNT": str(len(options)), "GIT_TERMINAL_PROMPT": "0"}
    for index, (key, value) in enumerate(options):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env
