"""url_kind: the one rule that sorts shard URLs into local / http / pipe / fsspec, checked against the
rules the three former copies applied (written out below as a table), and each kind end to end:
reading, globs, the index lookup and the writer's output."""
import functools
import http.server
import io
import threading
from urllib.parse import unquote

import fsspec
import numpy as np
import pytest
import soundfile as sf
from braceexpand import braceexpand
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.data import SampleError, expand_urls, open_shard, write_index
from nnaudio_data.data._index import default_index_url, read_index
from nnaudio_data.data._remote import ResumingReader
from nnaudio_data.data._open import PipeStream, local_path, url_kind
from nnaudio_data.authoring._writer import write_shards

DATA = np.random.default_rng(3).bytes(50_000)


def _scheme(u):
    return u.partition("://")[0]


# The former rules, as one table: the first row whose test holds gives the kind and the local path.
# Sources: sources.local_path and open_shard's dispatch (pipe: first, then the scheme before the
# first "://", lower-cased: "" or file -> local, http/https -> http, anything else -> fsspec).
OLD_RULES = [
    ("starts with 'pipe:' (case-sensitive)", lambda u: u.startswith("pipe:"), "pipe", lambda u: None),
    ("no '://' at all", lambda u: "://" not in u, "local", lambda u: u),
    ("scheme 'file', any case", lambda u: _scheme(u).lower() == "file", "local", lambda u: unquote(u[7:])),
    ("scheme http or https, any case", lambda u: _scheme(u).lower() in ("http", "https"), "http", lambda u: None),
    ("empty scheme ('://x')", lambda u: _scheme(u) == "", "local", lambda u: u),
    ("any other scheme", lambda u: True, "fsspec", lambda u: None),
]


def table_kind(url):
    for _, test, kind, path in OLD_RULES:
        if test(url):
            return kind, path(url)
    raise AssertionError("the last row matches every URL")


def old_is_remote(url):
    """objstore.is_remote as it was (the listing and writer copy)."""
    if "://" not in url or url.startswith("pipe:"):
        return False
    return url.partition("://")[0].lower() not in ("file", "http", "https")


PREFIXES = ["", "pipe:", "PIPE:", "Pipe:", "pipe://", "file://", "FILE://", "File://", "file:", "file:/",
            "http://", "HTTP://", "https://", "HtTpS://", "http:/", " http://", "http ://", "s3://", "S3://",
            "gs://", "memory://", "az://", "s3+x://", "my-scheme://", "://", "C:\\", "C:/", "c://", "/", "./",
            "../", "~/", "\\\\server\\share\\"]
BODY = st.lists(st.sampled_from(list("ab0/.:_- %2\\*?[]{},é") + ["://", "%20", "{0..2}", "{a,b}", "file://", "s3://"]),
                max_size=12).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(prefix=st.sampled_from(PREFIXES), body=BODY)
def test_url_kind_follows_the_former_rules(prefix, body):
    url = prefix + body
    kind, path = table_kind(url)
    assert url_kind(url) == kind
    assert local_path(url) == path
    # the listing / writer copy agreed everywhere except the empty scheme, which reads as local
    assert (kind == "fsspec") == old_is_remote(url) or _scheme(url) == ""
    if "://" not in url and not url.startswith("pipe:"):  # the glob copy's "local" test
        assert kind == "local" and path == url


@settings(max_examples=60, deadline=None, database=None)
@given(prefix=st.sampled_from(PREFIXES), body=BODY)
def test_each_expansion_of_a_brace_pattern_has_its_own_kind(prefix, body):
    try:
        urls = list(braceexpand(prefix + body))
    except Exception:  # noqa: BLE001  (an unbalanced pattern is braceexpand's error, not ours)
        return
    for u in urls:
        assert url_kind(u) == table_kind(u)[0]


@pytest.fixture
def shard(tmp_path):
    path = tmp_path / "a b-0.tar"
    path.write_bytes(DATA)
    return path


@pytest.fixture
def http_root(tmp_path):
    """(base URL, folder) of a real HTTP server on 127.0.0.1 serving ``folder``."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_local_kind_opens_the_file(shard):
    for url in (str(shard), "file://" + str(shard).replace(" ", "%20"), "FILE://" + str(shard).replace(" ", "%20")):
        assert url_kind(url) == "local"
        with open_shard(url) as f:
            assert isinstance(f, io.BufferedReader) and isinstance(f.raw, io.FileIO) and f.read() == DATA


def test_empty_scheme_is_read_as_a_local_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SampleError) as info:
        open_shard("://nope.tar")
    assert info.value.reason == "missing_shard" and "FileNotFoundError" in info.value.detail
    assert expand_urls("://nope.tar") == ["://nope.tar"]  # not sent to an object store listing


def test_http_kind_resumes_through_the_retrying_reader(http_root):
    base, root = http_root
    (root / "s.tar").write_bytes(DATA)
    for url in (f"{base}/s.tar", base.replace("http", "HTTP") + "/s.tar"):
        assert url_kind(url) == "http"
        with open_shard(url) as f:
            assert isinstance(f.raw, ResumingReader) and f.read() == DATA


def test_http_index_beside_the_shards(http_root, tmp_path):
    base, root = http_root
    (root / "a-0.tar").write_bytes(DATA)
    write_index([str(root / "a-0.tar")], str(root / "index.json"))
    where = default_index_url([f"{base}/a-0.tar"])
    assert where == f"{base}/index.json"
    assert read_index(where) == {"a-0.tar": 0}  # random bytes: no tar member


def test_pipe_kind_runs_the_command(shard):
    url = f"pipe:cat '{shard}'"
    assert url_kind(url) == "pipe" and default_index_url([url]) is None
    with open_shard(url) as f:
        assert isinstance(f, PipeStream) and f.read() == DATA


def test_fsspec_kind_reads_and_globs_a_store():
    fs = fsspec.filesystem("memory")
    for i in range(3):
        fs.pipe(f"/nnaudio-kind/s-{i}.tar", DATA)
    try:
        assert url_kind("memory://nnaudio-kind/s-0.tar") == "fsspec"
        with open_shard("memory://nnaudio-kind/s-0.tar") as f:
            assert isinstance(f.raw, ResumingReader) and f.read() == DATA
        found = expand_urls("memory://nnaudio-kind/s-*.tar")  # listed by the store (its own path form)
        assert [u.rsplit("/", 1)[1] for u in found] == [f"s-{i}.tar" for i in range(3)]
        assert all(url_kind(u) == "fsspec" and open_shard(u).read() == DATA for u in found)
    finally:
        fs.rm("/nnaudio-kind", recursive=True)


def test_local_globs_plain_and_file_urls(tmp_path):
    for i in range(3):
        (tmp_path / f"g-{i}.tar").write_bytes(DATA)
    want = [str(tmp_path / f"g-{i}.tar") for i in range(3)]
    assert expand_urls(str(tmp_path / "g-*.tar")) == want
    assert expand_urls(f"file://{tmp_path}/g-[0-2].tar") == want
    assert expand_urls(f"file://{tmp_path}/g-{{0..1}}.tar") == [f"file://{tmp_path}/g-{i}.tar" for i in range(2)]
    with pytest.raises(ValueError, match="matches no file"):
        expand_urls(f"file://{tmp_path}/none-*.tar")


@pytest.fixture
def wavs(tmp_path):
    for i in range(4):
        buf = io.BytesIO()
        sf.write(buf, np.zeros(400), 8000, format="WAV", subtype="PCM_16")
        (tmp_path / "src" / "c").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / "c" / f"{i}.wav").write_bytes(buf.getvalue())
    return tmp_path / "src"


def test_writer_output_file_url_is_the_local_folder(wavs, tmp_path):
    out = tmp_path / "out dir"
    summary = write_shards(wavs, "file://" + str(out).replace(" ", "%20"), progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "shard-000000.tar"]
    assert read_index(str(out / "index.json")) == summary.shards == {"shard-000000.tar": 4}


@pytest.mark.parametrize("out", ["http://127.0.0.1:9/out", "pipe:cat > x"])
def test_writer_output_that_cannot_be_written_is_a_named_error(wavs, tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"out must be a local path or an object-store URL .*not a (http|pipe) URL"):
        write_shards(wavs, out, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # nothing made locally


def test_write_index_takes_local_kinds_only(shard, tmp_path):
    (tmp_path / "b-0.tar").write_bytes(b"")
    url = "file://" + str(tmp_path / "i%20x.json")
    assert write_index([str(tmp_path / "b-0.tar")], url) == url
    assert read_index(str(tmp_path / "i x.json")) == {"b-0.tar": 0}
    for bad in ("pipe:cat > i.json", "s3://b/index.json", "http://h/index.json"):
        with pytest.raises(ValueError, match="path must be a local file"):
            write_index([str(tmp_path / "b-0.tar")], bad)
