"""A real S3-compatible server for tests: moto in server mode on an ephemeral loopback port."""

from __future__ import annotations

import socket

from moto.server import ThreadedMotoServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> MotoServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def credentials(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "region": "us-east-1", "access_key": "test", "secret_key": "test"}
