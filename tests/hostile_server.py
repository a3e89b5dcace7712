"""A loopback HTTP/1.1 server that answers however a test tells it: drip-fed, endless, truncated, deep."""

from __future__ import annotations

import contextlib
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator

Behaviour = Callable[[str, str], Iterable[bytes]]
"""(method, path) -> the raw bytes to send back, piece by piece (a generator may sleep between pieces)."""


def reply(status: int, body: bytes, headers: dict[str, str] | None = None, *, length: bool = True) -> bytes:
    head = [f"HTTP/1.1 {status} X", "content-type: application/json", "connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length:
        head.append(f"content-length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def drip(status: int, body: bytes, every: float, size: int = 3) -> Iterator[bytes]:
    yield reply(status, b"", {"content-length": str(len(body))}, length=False)
    for start in range(0, len(body), size):
        time.sleep(every)
        yield body[start : start + size]


def endless(status: int = 200) -> Iterator[bytes]:
    yield reply(status, b"", {"transfer-encoding": "chunked"}, length=False)
    chunk = b"[" * 65536
    while True:
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"


@contextlib.contextmanager
def hostile(behaviour: Behaviour) -> Iterator[str]:
    """Serve ``behaviour`` on 127.0.0.1 until the block ends; yields the base URL."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline().decode("latin-1")
            if not line:
                return
            method, path, _ = line.split(" ", 2)
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            with contextlib.suppress(OSError):
                for piece in behaviour(method, path):
                    self.wfile.write(piece)
                    self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join(5)
