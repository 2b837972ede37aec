"""A loopback HTTP server for the tests: binds 127.0.0.1 only, logs each request, and shuts itself
down after ``stop_after`` seconds even if a test hangs."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Type


@contextmanager
def loopback_server(handler: Type[BaseHTTPRequestHandler], stop_after: float = 120.0) -> Iterator[ThreadingHTTPServer]:
    """A running server with ``lock`` and ``requests`` (a list the handler appends to)."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.lock, srv.requests = threading.Lock(), []  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    stopper = threading.Timer(stop_after, srv.shutdown)
    stopper.daemon = True
    stopper.start()
    try:
        yield srv
    finally:
        stopper.cancel()
        srv.shutdown()
        srv.server_close()


def url(server: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{path}"


def server_fixture(handler: Type[BaseHTTPRequestHandler], stop_after: float = 120.0):
    """A module-scoped pytest fixture ``server`` running ``handler`` (see :func:`loopback_server`)."""
    import pytest

    @pytest.fixture(scope="module")
    def server() -> Iterator[ThreadingHTTPServer]:
        with loopback_server(handler, stop_after) as srv:
            yield srv

    return server
