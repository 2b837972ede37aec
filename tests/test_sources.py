"""open_shard for local paths, file:// URLs, pipe: commands and fsspec URLs."""
import io
import sys
import time

import fsspec
import numpy as np
import pytest
import webdataset as wds

from nnaudio_data.data import SampleError, open_shard
from nnaudio_data.data._remote import Retry

DATA = np.random.default_rng(1).bytes(200_000)


@pytest.fixture
def shard(tmp_path):
    path = tmp_path / "my shard.tar"
    path.write_bytes(DATA)
    return path


def test_local_path_and_file_url(shard):
    with open_shard(str(shard)) as f:
        assert f.read() == DATA
    with open_shard("file://" + str(shard).replace(" ", "%20")) as f:
        assert f.read() == DATA


def test_missing_local_shard(tmp_path):
    missing = str(tmp_path / "nope.tar")
    with pytest.raises(SampleError) as info:
        open_shard(missing)
    assert (info.value.url, info.value.key, info.value.reason) == (missing, None, "missing_shard")
    assert "FileNotFoundError" in info.value.detail


def test_pipe_streams_command_output(shard):
    url = f"pipe:cat '{shard}'"
    with open_shard(url) as f:
        assert f.read(10) == DATA[:10]
        assert f.read() == DATA[10:]
        assert f.read() == b""


def test_pipe_failure_raises_at_end_with_url_and_stderr(shard):
    url = f"pipe:cat '{shard}'; echo 'disk on fire' >&2; exit 3"
    f = open_shard(url)
    assert f.read(100) == DATA[:100]  # the output before the failure streams normally
    with pytest.raises(SampleError) as info:
        f.read()  # reaches the end: the exit status is checked there
    f.close()
    err = info.value
    assert (err.url, err.reason) == (url, "pipe")
    assert "status 3" in err.detail and "disk on fire" in err.detail


def test_pipe_failure_raises_on_close_when_not_read_to_the_end(shard):
    url = "pipe:printf abc; exit 5"
    f = open_shard(url)
    assert f.read(3) == b"abc"
    time.sleep(0.2)  # let the command finish
    with pytest.raises(SampleError, match="status 5"):
        f.close()
    assert f.closed


def test_pipe_missing_command():
    with pytest.raises(SampleError) as info:
        open_shard("pipe:no-such-command-anywhere-xyz").read()
    assert info.value.reason == "pipe" and "127" in info.value.detail


def test_pipe_closed_early_is_not_an_error():
    """Closing before the end stops an endless writer; its exit status is then no failure."""
    f = open_shard(f"pipe:{sys.executable} -c \"import sys\nwhile True: sys.stdout.buffer.write(b'x' * 65536)\"")
    assert f.read(1000) == b"x" * 1000
    f.close()
    assert f.proc.returncode != 0 and f.proc.poll() is not None  # it ended, and close did not raise


def test_pipe_tar_read_by_webdataset(tmp_path):
    path = tmp_path / "s.tar"
    with wds.TarWriter(str(path)) as w:
        for i in range(5):
            w.write({"__key__": f"k{i}", "txt": f"hello {i}"})
    samples = list(wds.WebDataset(f"pipe:cat {path}", shardshuffle=False))
    assert [s["txt"] for s in samples] == [f"hello {i}".encode() for i in range(5)]
    from webdataset.tariterators import group_by_keys, tar_file_expander
    with open_shard(f"pipe:cat {path}") as f:
        ours = list(group_by_keys(tar_file_expander([{"url": "pipe", "stream": f}])))
    assert [s["txt"] for s in ours] == [s["txt"] for s in samples]


def test_fsspec_memory_url():
    fs = fsspec.filesystem("memory")
    fs.pipe("/nnaudio-test/shard-0.tar", DATA)
    try:
        with open_shard("memory://nnaudio-test/shard-0.tar") as f:
            assert f.read(5) == DATA[:5] and f.read() == DATA[5:]
        with pytest.raises(SampleError) as info:
            open_shard("memory://nnaudio-test/missing.tar", Retry(attempts=2, backoff=0))
        assert info.value.reason == "missing_shard"
    finally:
        fs.rm("/nnaudio-test", recursive=True)


def test_fsspec_missing_backend_or_protocol():
    import importlib.util
    if importlib.util.find_spec("s3fs") is None:
        with pytest.raises(ImportError, match="s3:// URLs need fsspec and its s3 backend"):
            open_shard("s3://bucket/shard-000000.tar")
    with pytest.raises(ValueError, match="nosuchscheme"):
        open_shard("nosuchscheme://bucket/shard.tar")


def test_retry_validation():
    with pytest.raises(ValueError, match="attempts must be >= 1, got 0"):
        Retry(attempts=0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        Retry(timeout=0)
    assert Retry(backoff=1, max_backoff=3).delay(5) == 3


def test_buffered_stream_is_io(shard):
    """Every kind returns a readable io stream usable where a file object is expected."""
    for u in (str(shard), f"pipe:cat '{shard}'"):
        with open_shard(u) as f:
            assert isinstance(f, io.IOBase) and f.readable()
