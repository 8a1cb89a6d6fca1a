"""A TCP proxy handing each new connection to the next of several backends in turn: what a
Kubernetes Service (such as CloudNativePG's ``-ro``) does in front of several replicas."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading


class RoundRobinProxy:
    def __init__(self, backend_ports: list[int]) -> None:
        self._backends = itertools.cycle(backend_ports)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                try:
                    server = socket.create_connection(("127.0.0.1", next(self._backends)))
                except OSError:
                    client.close()
                    continue
                for source, target in ((client, server), (server, client)):
                    threading.Thread(target=_pipe, args=(source, target), daemon=True).start()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for end in (source, target):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
