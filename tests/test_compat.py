"""nnaudio_data._compat: each private torch / soundfile call has a probe and a public fallback, and
both paths give equal values. The fallback is forced by replacing the probe (inherited by the
forked DataLoader worker), the real parts run as they are: real worker processes, real
shared memory, real libsndfile."""
import io
import os
import struct

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.multiprocessing as tmp
from torch.utils.data import DataLoader

from clipkit import Batches, mixed_clips
from nnaudio_data import _compat
from nnaudio_data import _sharedmem
from nnaudio_data._sharedmem import INLINE_BYTES
from nnaudio_data._collate import collate_audio
from nnaudio_data.data import decode_audio


def test_the_private_paths_are_available_in_the_tested_range():
    """torch 2.13 / soundfile 0.14 (pyproject's tested range) on Linux take the fast paths."""
    assert _compat.has_new_shared() and _compat.has_share_fd() and _compat.has_sf_readf()
    assert _compat.has_memfd() == hasattr(os, "memfd_create")
    x = _sharedmem.new_shared_zeros(5)
    assert x.is_shared() and x.tolist() == [0.0] * 5
    if tmp.get_sharing_strategy() == "file_descriptor":
        assert isinstance(_compat.shared_fd(x), int)


def _memfd_name(t):
    """The file behind a shared tensor: "/memfd:..." or "/dev/shm/..." """
    fd, _ = t.untyped_storage()._share_fd_cpu_()
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory files are Linux only")
def test_memfd_batches_start_as_holes_and_fill_holes_allocates_them(monkeypatch):
    """Under "file_descriptor" a batch is a memory file (not in /dev/shm) that reads as zeros and
    holds no page until written; fill_holes allocates every page, zeroed, around what was written.
    Under "file_system" (descriptors are not sent) the public /dev/shm path is taken."""
    page = 4096
    n = 3 * page // 4  # three pages of float32
    x = _sharedmem.new_shared_zeros(n)
    assert _memfd_name(x).startswith("/memfd:nnaudio_data-batch")
    fd = _compat.shared_fd(x)
    assert os.fstat(fd).st_size == 3 * page and os.fstat(fd).st_blocks == 0
    os.pwrite(fd, np.full(10, 2.5, np.float32).tobytes(), 6000)  # inside the second page
    assert os.fstat(fd).st_blocks * 512 == page
    _sharedmem.fill_holes(fd, 0, page)  # the first page
    assert os.fstat(fd).st_blocks * 512 == 2 * page
    _sharedmem.fill_holes(fd, page, 2 * page)  # the second (present: left as it is) and the third
    assert os.fstat(fd).st_blocks * 512 == 3 * page
    want = np.zeros(n, np.float32)
    want[1500:1510] = 2.5
    np.testing.assert_array_equal(x.numpy(), want)
    monkeypatch.setattr(tmp, "get_sharing_strategy", lambda: "file_system")
    assert not _sharedmem.uses_memfd()
    assert _sharedmem.new_shared_zeros(4).is_shared()


def test_fallbacks_are_plain_tensors(monkeypatch):
    monkeypatch.setattr(_compat, "has_new_shared", lambda: False)
    monkeypatch.setattr(_compat, "has_share_fd", lambda: False)
    monkeypatch.setattr(_compat, "has_memfd", lambda: False)
    x = _sharedmem.new_shared_zeros(4)
    assert not x.is_shared() and x.dtype == torch.float32 and x.tolist() == [0.0] * 4
    assert _compat.shared_fd(x) is None
    assert _compat.shared_fd(torch.zeros(3).share_memory_()) is None


@pytest.mark.parametrize("memfd,new_shared,share_fd", [(True, True, True), (False, True, True), (False, False, True),
                                                      (False, True, False), (False, False, False)])
def test_worker_batches_equal_on_every_path(monkeypatch, memfd, new_shared, share_fd):
    """In a real forked worker, each combination of fast path and fallback collates the same values
    (padding included) as the main process; small tensors arrive inside the pickle (not shared)."""
    if not memfd:
        monkeypatch.setattr(_compat, "has_memfd", lambda: False)
    if not new_shared:
        monkeypatch.setattr(_compat, "has_new_shared", lambda: False)
    if not share_fd:
        monkeypatch.setattr(_compat, "has_share_fd", lambda: False)
    g = torch.Generator().manual_seed(4)  # and batches past INLINE_BYTES, sent as shared memory
    stereo = [torch.randn(2, 9000, generator=g), torch.randn(2, 5000, generator=g), torch.zeros(2, 0),
              torch.randn(2, 7000, generator=g, dtype=torch.float64), torch.randn(6000, 2, generator=g).T]
    batches = mixed_clips(3) + [[{"waveform": torch.randn(1, 9000 + 500 * i, generator=g)} for i in range(3)],
                                [{"waveform": w} for w in stereo]]
    loader = DataLoader(Batches(batches), batch_size=None, num_workers=1, collate_fn=collate_audio,
                        multiprocessing_context="fork")
    got = list(loader)
    assert len(got) == len(batches)
    for batch, samples in zip(got, batches):
        big = batch.waveform.numel() * 4 > INLINE_BYTES
        assert batch.waveform.is_shared() == big
        if big and memfd and hasattr(os, "memfd_create"):
            assert _memfd_name(batch.waveform).startswith("/memfd:nnaudio_data-batch")
            if share_fd:  # the padding was allocated in the worker: no hole left for the consumer
                fd, size = batch.waveform.untyped_storage()._share_fd_cpu_()  # (before reading it here)
                assert os.fstat(fd).st_blocks * 512 == -(-size // 4096) * 4096
        elif big:
            assert _memfd_name(batch.waveform).startswith("/dev/shm/")
        want = collate_audio(samples)
        assert batch.waveform.dtype == torch.float32 and torch.equal(batch.waveform, want.waveform)
        assert batch.lengths.dtype == torch.int64 and batch.lengths.tolist() == want.lengths.tolist()
        assert not batch.lengths.is_shared()


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory files are Linux only")
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_memfd_batches_rebuild_in_the_main_process_under_every_start_method(method):
    """The worker's memory file reaches the main process (its descriptor passed and mapped there,
    as torch maps any) under spawn and forkserver too (fork: above), values and padding intact."""
    g = torch.Generator().manual_seed(5)
    batches = [[{"waveform": torch.randn(1, 9000 + 700 * i, generator=g)} for i in range(3)]]
    loader = DataLoader(Batches(batches), batch_size=None, num_workers=1, collate_fn=collate_audio,
                        multiprocessing_context=method)
    (batch,) = list(loader)
    assert _memfd_name(batch.waveform).startswith("/memfd:nnaudio_data-batch")
    assert torch.equal(batch.waveform, collate_audio(batches[0]).waveform)


def _streamed_flac(x: np.ndarray, sr: int) -> bytes:
    """FLAC bytes whose STREAMINFO says neither length nor MD5, as a streaming encoder writes them."""
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="FLAC", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    info = struct.unpack_from(">Q", data, 18)[0]  # rate(20) channels(3) bits(5) total samples(36)
    struct.pack_into(">Q", data, 18, info & ~((1 << 36) - 1))
    data[26:42] = bytes(16)
    return bytes(data)


@pytest.mark.parametrize("frames", [1, _compat.READ_BLOCK, 70000])
def test_unknown_length_reads_equal_on_both_paths(monkeypatch, frames):
    """A streamed FLAC decodes to the same samples through libsndfile's loop and through
    soundfile's public read, and both equal the FLAC whose header states its length."""
    x = np.random.default_rng(frames).uniform(-0.99, 0.99, (frames, 2))
    known = io.BytesIO()
    sf.write(known, x, 16000, format="FLAC", subtype="PCM_16")
    want = sf.read(io.BytesIO(known.getvalue()), dtype="float32", always_2d=True)[0]
    data = _streamed_flac(x, 16000)
    with sf.SoundFile(io.BytesIO(data)) as f:
        fast = _compat.read_unknown_length(f)
    monkeypatch.setattr(_compat, "has_sf_readf", lambda: False)
    with sf.SoundFile(io.BytesIO(data)) as f:
        public = _compat.read_unknown_length(f)
    assert fast.dtype == public.dtype == np.float32 and fast.shape == public.shape == (frames, 2)
    np.testing.assert_array_equal(fast, want)
    np.testing.assert_array_equal(public, want)
    got, sr = decode_audio(data)  # the decoder's path, fallback still forced
    np.testing.assert_array_equal(got, want.T)
    assert sr == 16000


def test_a_failed_probe_announces_its_fallback_once(monkeypatch):
    """A private call that fails its probe says so once per process (the probe is cached), naming
    the call, the error and the cost, instead of slowing down silently."""
    import warnings

    def broken(n):
        raise AttributeError("_new_shared went away in this torch")

    monkeypatch.setattr(_compat, "_new_shared", broken)
    _compat.has_new_shared.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert _compat.has_new_shared() is False and _compat.has_new_shared() is False
            x = _sharedmem.new_shared_zeros(3, "plain")
        said = [w for w in seen if issubclass(w.category, _compat.FallbackWarning)]
        assert len(said) == 1 and "_new_shared" in str(said[0].message) and "went away" in str(said[0].message)
        assert "one more copy" in str(said[0].message) and x.tolist() == [0.0] * 3
    finally:
        monkeypatch.undo()
        _compat.has_new_shared.cache_clear()
    assert _compat.has_new_shared()
