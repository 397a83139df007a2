"""A loopback TCP proxy that can cut a connection mid-response, to drop a download half-way."""

from __future__ import annotations

import socket
import threading
from typing import Iterator
from contextlib import contextmanager


class CuttingProxy:
    """Forwards 127.0.0.1:port to `target_port`; the first connection whose responses pass
    `cut_after` bytes is closed there (once), as a network drop would."""

    def __init__(self, target_port: int, cut_after: int):
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._closing = False

    def serve(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, response: bool) -> None:
        passed = 0
        try:
            while data := source.recv(256 * 1024):
                if response:
                    with self._lock:
                        cut = self.cuts == 0 and passed + len(data) > self.cut_after
                        if cut:
                            self.cuts += 1
                    if cut:
                        target.sendall(data[: self.cut_after - passed])
                        break
                    passed += len(data)
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._closing = True
        self._listener.close()


@contextmanager
def cutting_proxy(target_port: int, cut_after: int) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(target_port, cut_after)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
