"""open_shard over HTTP against a real loopback server that misbehaves on purpose."""
import io
import socket
import struct
import tarfile
import time
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
import soundfile as sf
import webdataset as wds
from webdataset.tariterators import group_by_keys, tar_file_expander

from nnaudio_data.data import SampleError, decode_audio, open_shard
from nnaudio_data.data._remote import Retry
from httpkit import server_fixture, url

FAST = Retry(attempts=3, backoff=0.01, max_backoff=0.05, timeout=5.0)
PAYLOAD = np.random.default_rng(0).bytes(3_000_000)  # > the 1 MiB read buffer: several reads
MAX_REQUESTS = 200  # the server refuses more: no test can loop forever against it


def make_tar() -> bytes:
    buf = io.BytesIO()
    with wds.TarWriter(buf) as w:
        for i in range(20):
            wav = io.BytesIO()
            sf.write(wav, np.full(8000, i / 40), 8000, format="WAV", subtype="PCM_16")
            w.write({"__key__": f"clip{i:03d}", "wav": wav.getvalue(), "cls": i})
    return buf.getvalue()


TAR = make_tar()


class Handler(BaseHTTPRequestHandler):
    """Paths: /ok/NAME, /drop-once/NAME (closes mid-body on the first request),
    /reset-once/NAME (TCP reset mid-body once), /norange-drop-once/NAME (also ignores Range),
    /always-drop/NAME, /fail (503 always), /stall-once/NAME (no answer past the timeout once),
    /stall-mid/NAME (the body stops at its middle, every time, and the connection stays open),
    anything else 404. NAME is "bin" (PAYLOAD) or "tar" (TAR)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests.append((self.path, self.headers.get("Range")))
            n_before = sum(1 for p, _ in server.requests[:-1] if p == self.path)
            if len(server.requests) > MAX_REQUESTS:
                return self.send_error(429)
        mode, _, name = self.path.strip("/").partition("/")
        if mode == "fail":
            return self.send_error(503)
        body = {"bin": PAYLOAD, "tar": TAR}.get(name)
        if body is None or mode not in ("ok", "drop-once", "reset-once", "norange-drop-once",
                                        "always-drop", "stall-once", "stall-mid"):
            return self.send_error(404)
        if mode == "stall-once" and n_before == 0:
            time.sleep(0.6)  # past the client's timeout
        start = 0
        rng = self.headers.get("Range")
        if rng and mode != "norange-drop-once":
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if mode == "stall-mid":
            self.wfile.write(body[start:max(start, len(body) // 2)])
            self.wfile.flush()
            time.sleep(2.0)  # far past the client's timeout
            self.close_connection = True
            return
        failing = mode == "always-drop" or (mode.endswith("once") and mode != "stall-once" and n_before == 0)
        if failing:
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.wfile.flush()
            if mode == "reset-once":  # linger 0: the close aborts the connection (RST)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:  # a clean end of stream (FIN) short of Content-Length
                self.connection.shutdown(socket.SHUT_WR)
            self.close_connection = True
            return
        self.wfile.write(body[start:])


server = server_fixture(Handler, stop_after=120)


def requests_for(server, path):
    with server.lock:
        return [r for r in server.requests if r[0] == "/" + path]


def test_streams_all_bytes(server):
    with open_shard(url(server, "ok/bin"), FAST) as f:
        first = f.read(1000)
        rest = f.read()
    assert first + rest == PAYLOAD


@pytest.mark.parametrize("mode", ["drop-once", "reset-once"])
def test_dropped_connection_resumes_with_range(server, mode):
    with open_shard(url(server, f"{mode}/bin"), FAST) as f:
        got = f.read()
    assert got == PAYLOAD
    reqs = requests_for(server, f"{mode}/bin")
    assert len(reqs) == 2 and reqs[0][1] is None
    assert reqs[1][1] is not None and int(reqs[1][1].split("=")[1].rstrip("-")) > 0  # resumed, not restarted


def test_server_ignoring_range_is_reread_and_skipped(server):
    with open_shard(url(server, "norange-drop-once/bin"), FAST) as f:
        assert f.read() == PAYLOAD
    assert len(requests_for(server, "norange-drop-once/bin")) == 2


def test_stalled_server_times_out_then_succeeds(server):
    with open_shard(url(server, "stall-once/bin"), Retry(attempts=3, backoff=0.01, timeout=0.3)) as f:
        assert f.read() == PAYLOAD


def test_always_failing_server_gives_up_quickly(server):
    t = time.perf_counter()
    with pytest.raises(SampleError) as info:
        open_shard(url(server, "fail"), FAST)
    assert time.perf_counter() - t < 3
    err = info.value
    assert (err.url, err.key, err.reason) == (url(server, "fail"), None, "network")
    assert "3 attempts" in err.detail and "503" in err.detail
    assert len(requests_for(server, "fail")) == 3


def test_connection_dropping_every_time_gives_up_mid_read(server):
    f = open_shard(url(server, "always-drop/bin"), FAST)
    with pytest.raises(SampleError) as info:
        f.read()
    f.close()
    assert info.value.reason == "network" and "attempts failed at byte" in info.value.detail


def test_missing_shard_is_named(server):
    with pytest.raises(SampleError) as info:
        open_shard(url(server, "ok/nothing-here.tar"), FAST)
    assert info.value.reason == "missing_shard" and "404" in info.value.detail
    assert len(requests_for(server, "ok/nothing-here.tar")) == 1  # not retried


def test_refused_connection_is_network_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SampleError) as info:
        open_shard(f"http://127.0.0.1:{port}/x.tar", FAST)
    assert info.value.reason == "network"


@pytest.mark.parametrize("mode", ["ok", "drop-once"])
def test_webdataset_reads_a_tar_over_http(server, mode):
    with open_shard(url(server, f"{mode}/tar"), FAST) as f:
        samples = list(group_by_keys(tar_file_expander([{"url": url(server, f"{mode}/tar"), "stream": f}])))
    assert [s["__key__"] for s in samples] == [f"clip{i:03d}" for i in range(20)]
    for i, s in enumerate(samples):
        assert int(s["cls"]) == i
        x, sr = decode_audio(s["wav"], url(server, f"{mode}/tar"), s["__key__"])
        assert sr == 8000 and np.allclose(x, i / 40, atol=1e-4)


def test_tarfile_stream_mode_over_http(server):
    with open_shard(url(server, "drop-once/tar"), FAST) as f, tarfile.open(fileobj=f, mode="r|*") as tar:
        names = [m.name for m in tar]
    assert len(names) == 40 and names[:2] == ["clip000.cls", "clip000.wav"]


def test_dataset_gives_up_on_a_stalled_read(server):
    """Regression: a server stalling mid-body blocked for ~5 minutes with the defaults, and the
    dataset had no argument to change that. The default gives up within 60 s in all; here a short
    Retry turns the stalled shard into a counted "network" skip, keeping the clips before it."""
    import nnaudio_data as nd

    assert nd.ShardedAudioDataset(url(server, "ok/tar"), sr=8000).retry.worst_case() <= 60
    quick = Retry(attempts=2, backoff=0.01, max_backoff=0.01, timeout=0.3)
    ds = nd.ShardedAudioDataset([url(server, "stall-mid/tar"), url(server, "ok/tar")], sr=8000,
                                on_error="skip", retry=quick, silence=None)
    t = time.perf_counter()
    keys = [it["key"] for it in ds]
    assert time.perf_counter() - t < 30  # a hang would take minutes
    assert ds.stats.skipped == {"network": 1}
    clips = [f"clip{i:03d}" for i in range(20)]
    assert 5 < len(keys) - 20 < 20 and keys == clips[:len(keys) - 20] + clips  # the first half, then all


def test_equal_batches_over_remote_shards_without_index(server):
    """Equal batches need shard sizes; remote shards without an index raise at construction,
    naming the three ways out, instead of failing in every worker at the first batch."""
    import nnaudio_data as nd

    with pytest.raises(ValueError, match="index.json.*index= or count=True.*equal_batches=False"):
        nd.ShardedAudioDataset(url(server, "ok/tar"), sr=8000, rank=0, world_size=2)
    ds = nd.ShardedAudioDataset(url(server, "ok/tar"), sr=8000, rank=0, world_size=2, count=True, retry=FAST)
    assert ds.sizes == [20] and len(ds) == 10
