"""A loopback TCP relay that lets only the first N bytes from the client through, then holds the rest.

Crash tests kill the hub while a real client (git, git-lfs) is part-way through a request. Holding
the client's bytes at a chosen offset puts the server at a chosen point of the upload, every time,
without timing guesses: the test waits for the server's own progress (a temp file reaching a size),
then kills it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class ByteGate:
    def __init__(self, target_port: int, budget: int) -> None:
        self.target_port = target_port
        self.budget = budget  # client bytes let through, over all connections; the rest waits
        self.sent = 0
        self._cond = threading.Condition()
        self._closed = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, gated: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while data:
                    allowed = self._take(len(data)) if gated else len(data)
                    if allowed < 0:
                        return
                    sink.sendall(data[:allowed])
                    data = data[allowed:]
        if gated:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
        else:  # the server went away (killed): so does the client's connection, even mid-upload
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

    def _take(self, wanted: int) -> int:
        """How many of `wanted` bytes may pass now (blocking while none may); -1 once closed."""
        with self._cond:
            while not self._closed and self.sent >= self.budget:
                self._cond.wait()
            if self._closed:
                return -1
            allowed = min(wanted, self.budget - self.sent)
            self.sent += allowed
            return allowed

    def open_fully(self) -> None:
        with self._cond:
            self.budget = 1 << 62
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@contextlib.contextmanager
def byte_gate(target_port: int, budget: int) -> Iterator[ByteGate]:
    gate = ByteGate(target_port, budget)
    try:
        yield gate
    finally:
        gate.close()
