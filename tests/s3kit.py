"""A real S3-compatible server for the tests (moto's server mode on 127.0.0.1, dummy credentials),
and a TCP proxy in front of it that logs each request's Range and can cut one response short."""
from __future__ import annotations

import re
import socket
import threading
from typing import Dict, List, Optional, Sequence, Tuple

_REQUEST = re.compile(rb"^(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.[01]\r?$", re.M)
_RANGE = re.compile(rb"^range:\s*bytes=(\d+)-", re.I | re.M)


def start_moto() -> Tuple[object, str]:
    """(server, endpoint URL) of a moto S3 server on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def storage_options(endpoint: str, **extra) -> Dict[str, object]:
    return {"key": "testing", "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}, **extra}


class CuttingProxy:
    """Forwards 127.0.0.1:port to ``upstream``; logs (method, path, range start or None) of every
    request; the responses to the GETs of a path containing ``cut_path`` numbered in
    ``cut_requests`` (1-based) are cut after ``cut_after`` bytes (the connection closed mid-body)."""

    def __init__(self, upstream: str, cut_path: Optional[str] = None, cut_requests: Sequence[int] = (),
                 cut_after: int = 0):
        host, port = upstream.rsplit("//", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.cut_path, self.cut_requests, self.cut_after = cut_path, set(cut_requests), cut_after
        self.requests: List[Tuple[str, str, Optional[int]]] = []
        self.cuts, self._gets, self._lock = 0, 0, threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        up = socket.create_connection(self.upstream)
        budget: List[Optional[int]] = [None]  # bytes left before the cut, for the response now due

        def client_to_server() -> None:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    for m in _REQUEST.finditer(data):
                        method, path = m.group(1).decode(), m.group(2).decode()
                        r = _RANGE.search(data, m.end())
                        start = int(r.group(1)) if r else None
                        with self._lock:
                            self.requests.append((method, path, start))
                            if method == "GET" and self.cut_path and self.cut_path in path:
                                self._gets += 1
                                if self._gets in self.cut_requests:
                                    budget[0] = self.cut_after
                    up.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    up.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        threading.Thread(target=client_to_server, daemon=True).start()
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                if budget[0] is not None:
                    if len(data) >= budget[0]:
                        conn.sendall(data[:budget[0]])
                        self.cuts += 1
                        break  # cut: close both ends mid-body
                    budget[0] -= len(data)
                conn.sendall(data)
        except OSError:
            pass
        finally:
            for s in (conn, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
