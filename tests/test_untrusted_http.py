"""Untrusted servers: an endless index, a body trickled a byte at a time, an object replaced while a
read resumes. A real HTTP server on 127.0.0.1 misbehaves on purpose; every loop of it is bounded."""
import io
import socket
import time
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
import soundfile as sf
import webdataset as wds

import nnaudio_data as nd
import nnaudio_data.data._index as index_module
from nnaudio_data.data._remote import Retry
from httpkit import server_fixture, url
from bounds import hang_limit

# Limits, each explained.
TRICKLE_S = 40.0      # seconds the server trickles before it stops by itself; the reader must give
#                       up long before (its bound: 2 windows of 1 s, pauses of 0.01 s)
ENDLESS_BYTES = 16 << 20  # the "endless" index body stops here (a bound for the server, not the test)
MAX_REQUESTS = 100    # the server refuses more: no test can loop forever against it
FAST = Retry(attempts=2, backoff=0.01, max_backoff=0.05, timeout=1.0)


def make_tar(prefix: str, n: int = 12) -> bytes:
    buf = io.BytesIO()
    with wds.TarWriter(buf) as w:
        for i in range(n):
            wav = io.BytesIO()
            sf.write(wav, np.full(4000, (i + 1) / 40), 8000, format="WAV", subtype="PCM_16")
            w.write({"__key__": f"{prefix}{i:03d}", "wav": wav.getvalue()})
    return buf.getvalue()


OLD, NEW = make_tar("old"), make_tar("new")


class Handler(BaseHTTPRequestHandler):
    """``/endless/index.json``: a body that does not end (until ENDLESS_BYTES); ``/trickle/T``: a
    tar sent one byte every 50 ms (until TRICKLE_S); ``/replaced/T``: OLD (ETag "old"), cut
    mid-body on the first request, then NEW (ETag "new"), honouring Range and If-Range. ``T``
    makes a path unique per test."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests.append((self.path, dict(self.headers)))
            n_before = sum(1 for p, _ in srv.requests[:-1] if p == self.path)
            if len(srv.requests) > MAX_REQUESTS:
                return self.send_error(429)
        mode = self.path.strip("/").split("/")[0]
        try:
            if self.path.endswith("index.json") and mode != "endless":
                self.send_error(404)  # no index beside the shards
            elif mode == "endless":
                self._endless()
            elif mode == "trickle":
                self._trickle()
            elif mode == "replaced":
                self._replaced(n_before)
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the tests expect

    def _endless(self):
        self.send_response(200)
        self.end_headers()  # no Content-Length: the body ends when the connection closes
        self.wfile.write(b'{"format": "nnaudio_data.index/1", "shards": {')
        chunk = b'"x.tar": 1, ' * 8192
        for _ in range(ENDLESS_BYTES // len(chunk)):
            self.wfile.write(chunk)
        self.close_connection = True

    def _trickle(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(OLD)))
        self.end_headers()
        deadline = time.monotonic() + TRICKLE_S
        for b in OLD:
            if time.monotonic() > deadline:
                break
            self.wfile.write(bytes([b]))
            self.wfile.flush()
            time.sleep(0.05)
        self.close_connection = True

    def _replaced(self, n_before: int):
        body, etag = (OLD, '"old"') if n_before == 0 else (NEW, '"new"')
        rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        start = int(rng.split("=")[1].split("-")[0]) if rng and (if_range is None or if_range == etag) else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        # the first answer is cut mid-body (a clean FIN): the client resumes with a Range request
        self.wfile.write(body[start:] if n_before else body[:len(body) // 2])
        self.wfile.flush()
        if n_before == 0:
            self.connection.shutdown(socket.SHUT_WR)
        self.close_connection = True


server = server_fixture(Handler, stop_after=300)


def test_endless_index_is_refused_at_its_cap(server, monkeypatch):
    """Regression: an index.json answered with an endless body was read whole at construction
    (6 GB resident after 200 s). Past MAX_INDEX_BYTES it is a clear error (a small cap here)."""
    monkeypatch.setattr(index_module, "MAX_INDEX_BYTES", 1 << 20)
    with hang_limit("an endless index", 120):
        with pytest.raises(ValueError, match="MAX_INDEX_BYTES"):
            nd.ShardedAudioDataset(url(server, "endless/a.tar"), sr=8000, index=url(server, "endless/index.json"),
                                   retry=FAST)


def test_trickling_server_is_a_network_skip(server, tmp_path):
    """Regression: a server sending a byte every 0.5 s kept a read alive as long as it trickled
    (each socket read returned within its timeout, so no retry fired). The read as a whole must
    average min_rate bytes/s: it gives up within its retry budget and the shard is a skip."""
    from shardkit import write_shards

    local = write_shards(str(tmp_path), [2], index=False)
    ds = nd.ShardedAudioDataset([url(server, "trickle/a.tar"), *local], sr=8000, on_error="skip", retry=FAST)
    start = time.monotonic()
    with hang_limit("a trickling server", 3 * TRICKLE_S):
        keys = [it["key"] for it in ds]
    assert time.monotonic() - start < TRICKLE_S / 2, "still reading while the server trickled"
    assert keys == ["k0_0", "k0_1"] and ds.stats.skipped == {"network": 1}


def test_object_replaced_during_resume_is_not_spliced(server):
    """Regression: resuming after a dropped connection asked for a byte range of whatever the URL
    then held: the new object's bytes were delivered under the old one (foreign clips). The
    resume sends If-Range; a changed object ends the shard as a "shard_changed" skip."""
    ds = nd.ShardedAudioDataset(url(server, "replaced/a.tar"), sr=8000, on_error="skip", retry=FAST)
    with hang_limit("a replaced object", 120):
        keys = [it["key"] for it in ds]
    assert keys and all(k.startswith("old") for k in keys), keys
    assert ds.stats.skipped == {"shard_changed": 1}
    with server.lock:
        resumed = [h for p, h in server.requests if p == "/replaced/a.tar"][1]
    assert resumed.get("If-Range") == '"old"' and resumed.get("Range", "").startswith("bytes=")
