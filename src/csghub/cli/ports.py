"""Listening ports for `csghub serve`, checked before anything is announced.

A taken port is a setting to change, not a crash: the message names the port and how to pick another.
"""

from __future__ import annotations

import errno
import socket


class PortUnavailable(Exception):
    """The port cannot be listened on; the message names it and the setting that changes it."""


def _explain(host: str, port: int, exc: OSError, setting: str) -> PortUnavailable:
    if exc.errno == errno.EADDRINUSE:
        return PortUnavailable(f"port {port} is in use; set {setting}")
    return PortUnavailable(f"cannot listen on {host}:{port} ({exc.strerror or exc}); set {setting}")


def bind_http(host: str, port: int) -> socket.socket:
    """The HTTP server's bound socket (uvicorn serves on it); port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _explain(host, port, exc, "CSGHUB_PORT or --port") from None
    return sock


def check_free(host: str, port: int) -> None:
    """Raise PortUnavailable unless every address of `host` can listen on `port` (the SSH server's).

    The SSH server binds later, inside the app's start-up; probing with the same options it uses
    (address reuse, listen) turns a taken port into one line before the hub announces itself.
    """
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port} ({exc.strerror}); set CSGHUB_HOST or --host") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
                probe.listen(1)
            except OSError as exc:
                raise _explain(host, port, exc, "CSGHUB_SSH_PORT or --ssh-port") from None
