"""Private torch and soundfile APIs on the hot path, each behind a capability probe, with a
fallback to the public path. The one place to look when a torch or soundfile release changes them.

- ``_memfd_shared`` / ``_new_shared``: a storage born in shared memory, an anonymous memory file
  (``os.memfd_create``, mapped by ``UntypedStorage._new_shared_fd_cpu``, as torch maps the
  descriptors it receives) or as ``default_collate`` allocates it
  (``Tensor._typed_storage()._new_shared``), probed by :func:`has_memfd` / :func:`has_new_shared`;
  :mod:`nnaudio_data._sharedmem` chooses between them and ``torch.zeros`` (one more copy, by the
  DataLoader when it sends the batch).
- :func:`shared_fd`: the descriptor behind a shared batch, so that clips are written with
  ``os.pwrite`` (``UntypedStorage._share_fd_cpu_``). Fallback: None, and the caller assigns the
  clips through the mapping.
- :func:`read_unknown_length`: all frames of a file whose length libsndfile does not know, a
  streamed FLAC (``soundfile._snd.sf_readf_float`` on ``SoundFile._file``). Fallback:
  ``SoundFile.read`` in blocks.

Each probe (``has_*``) runs once per process, on first use, by trying the private call on a tiny
object; a failed probe selects the fallback for that process and says so, once, in a
:class:`FallbackWarning` naming the call, the error and what the fallback costs. Both paths give
equal values (``tests/test_compat.py`` forces each fallback). Tested with torch 2.13 and
soundfile 0.14, the ranges stated in ``pyproject.toml``.
"""
from __future__ import annotations

import functools
import io
import os
import warnings
from typing import TYPE_CHECKING, Any, List, Optional

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    import soundfile as sf

READ_BLOCK = 1 << 16  # frames per read when a file's length is unknown


class FallbackWarning(RuntimeWarning):
    """A private call of the hot path failed its probe here: the public fallback runs instead."""


def _fallback(call: str, error: BaseException, cost: str) -> bool:
    """Announce a failed probe (once per process: the probes are cached) and return False."""
    warnings.warn(f"nnaudio_data: {call} is unavailable in this process ({type(error).__name__}: "
                  f"{error}); falling back: {cost}", FallbackWarning, stacklevel=3)
    return False


@functools.lru_cache(maxsize=None)
def has_new_shared() -> bool:
    """Whether this torch allocates a typed storage straight in shared memory (``_new_shared``)."""
    try:
        t = _new_shared(1)
        if not (t.is_shared() and t.shape == (1,) and t.item() == 0.0):
            raise RuntimeError("the storage it made is not a shared zero")
        return True
    except Exception as e:  # noqa: BLE001  (any failure means: use the public path)
        return _fallback("torch's TypedStorage._new_shared", e, "batches are built in private "
                         "memory and copied into shared memory when sent (one more copy)")


@functools.lru_cache(maxsize=None)
def has_memfd() -> bool:
    """Whether this platform makes anonymous memory files (``os.memfd_create``, Linux) that
    ``posix_fallocate`` fills, and this torch maps one as a shared storage
    (``UntypedStorage._new_shared_fd_cpu``)."""
    try:
        t = _memfd_shared(2)
        fd, _ = t.untyped_storage()._share_fd_cpu_()
        os.pwrite(fd, np.array([1.5], np.float32).tobytes(), 4)
        os.posix_fallocate(fd, 0, 8)  # what _sharedmem.fill_holes calls
        if not (t.is_shared() and t.tolist() == [0.0, 1.5]):
            raise RuntimeError("a memory file written through its descriptor reads back wrong")
        return True
    except Exception as e:  # noqa: BLE001
        if not hasattr(os, "memfd_create"):  # not Linux: no memory files expected, nothing to say
            return False
        return _fallback("a memory-file batch (os.memfd_create + UntypedStorage._new_shared_fd_cpu)", e,
                         "batches are allocated zero-filled in /dev/shm (bound by its size)")


@functools.lru_cache(maxsize=None)
def has_share_fd() -> bool:
    """Whether this torch and platform give the descriptor of a shared CPU storage (``_share_fd_cpu_``)."""
    try:
        fd, _ = torch.zeros(1).untyped_storage()._share_fd_cpu_()
        if not isinstance(fd, int):
            raise TypeError(f"it returned a {type(fd).__name__}, not a descriptor")
        return True
    except Exception as e:  # noqa: BLE001
        return _fallback("torch's UntypedStorage._share_fd_cpu_", e, "clips are written through the "
                         "batch's mapping (one page fault per 4 KiB page) instead of its descriptor")


@functools.lru_cache(maxsize=None)
def has_sf_readf() -> bool:
    """Whether soundfile exposes libsndfile's read loop (``_snd.sf_readf_float`` on ``SoundFile._file``)."""
    try:
        import soundfile as sf
        from soundfile import _ffi, _snd
        buf = io.BytesIO()
        sf.write(buf, np.zeros((2, 1), np.float32), 8000, format="WAV", subtype="FLOAT")
        buf.seek(0)
        with sf.SoundFile(buf) as f:
            out = np.empty((2, 1), np.float32)
            if int(_snd.sf_readf_float(f._file, _ffi.from_buffer("float[]", out), 2)) != 2:
                raise RuntimeError("it did not read the 2 frames written")
            return True
    except Exception as e:  # noqa: BLE001
        return _fallback("soundfile's _snd.sf_readf_float", e, "streams of unknown length are read "
                         "by SoundFile.read in blocks, NaN-filled to count the last one")


def _memfd_shared(n: int) -> Tensor:
    fd = os.memfd_create("nnaudio_data-batch", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, 4 * n)
        new_shared_fd: Any = getattr(torch.UntypedStorage, "_new_shared_fd_cpu")
        storage = new_shared_fd(fd, 4 * n)  # maps a duplicate of fd
    finally:
        os.close(fd)
    return torch.empty(0, dtype=torch.float32).set_(storage, 0, (n,), (1,))


def _new_shared(n: int) -> Tensor:
    storage = torch.empty(0, dtype=torch.float32)._typed_storage()._new_shared(n)
    return torch.empty(0, dtype=torch.float32).new(storage)


def shared_fd(t: Tensor) -> Optional[int]:
    """The file descriptor behind a CPU tensor already in shared memory under the
    "file_descriptor" strategy, or None (not shared, or no such API here). Nothing is copied."""
    if not t.is_shared() or not has_share_fd():
        return None
    try:
        fd, _ = t.untyped_storage()._share_fd_cpu_()
    except (AttributeError, RuntimeError):
        return None
    return int(fd)


def read_unknown_length(f: sf.SoundFile) -> np.ndarray:
    """All remaining frames of an open file whose length libsndfile does not know, as float32 (T, C).

    soundfile's own ``read()`` sizes its output from the reported length (SF_COUNT_MAX here), so
    both paths read blocks of :data:`READ_BLOCK` frames until an empty one. The public path has one
    more catch: soundfile seeks to the end of each block it read, and libsndfile cannot seek to the
    end of a stream of unknown length, so the last block raises after its frames were decoded into
    the buffer; they are counted by a NaN fill (integer PCM never decodes to NaN; a float stream
    with NaN samples would end at the first one, then rejected as ``non_finite`` on the fast path).
    """
    parts: List[np.ndarray] = []
    private = has_sf_readf()
    if private:
        from soundfile import _ffi, _snd
    while True:
        if private:
            buf = np.empty((READ_BLOCK, f.channels), np.float32)
            n = int(_snd.sf_readf_float(f._file, _ffi.from_buffer("float[]", buf), READ_BLOCK))
            last = False
        else:
            buf = np.full((READ_BLOCK, f.channels), np.nan, np.float32)
            try:
                n, last = len(f.read(READ_BLOCK, dtype="float32", always_2d=True, out=buf)), False
            except RuntimeError:  # soundfile's seek past the final block failed: the stream ended
                filled = ~np.isnan(buf[:, 0])
                n, last = (READ_BLOCK if filled.all() else int(np.argmin(filled))), True
        if n > 0:
            parts.append(buf[:n])
        if n <= 0 or last:
            return np.concatenate(parts) if parts else np.zeros((0, f.channels), np.float32)
