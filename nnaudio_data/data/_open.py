"""Open a shard URL as a readable binary stream, streaming (nothing is downloaded first); open a
local path or object URL for writing. :func:`url_kind` is the one rule that sorts URLs into these
kinds, for every caller (reading, globs, the index beside the shards, the writer's output).

=====================  ============================================================================
``/path``, ``file://``  a local file
``http(s)://``          urllib, with retries that resume at the byte offset (:mod:`._remote`)
``pipe:CMD``            the stdout of a shell command; a non-zero exit status raises at the end, a
                        stalled or slow command is stopped (the retry's ``timeout``, ``min_rate``)
``s3://``, ``gs://``..  fsspec (with its backend: s3fs, gcsfs, ...), with the same retries
=====================  ============================================================================

Errors are :class:`SampleError` with reason "missing_shard" (no such file, HTTP 404/410),
"network" (transient errors past the retry budget, other HTTP errors, a read or a command slower
than ``Retry.min_rate`` or silent for ``Retry.timeout``), "shard_changed" (an HTTP object
replaced while a read resumed) or "pipe" (the command failed); a missing fsspec backend is an ImportError, as it is a setup problem, not a bad shard.
"""
from __future__ import annotations

import io
import os
import select
import subprocess
import tempfile
import time
from typing import IO, Any, Dict, List, Literal, Optional, cast
from urllib.parse import unquote

from ._errors import SampleError
from ._objstore import filesystem, fsspec_opener, require_bucket
from ._remote import Pace, ResumingReader, Retry, http_opener

BUFFER = 1 << 20  # read-ahead of remote streams, bytes


class PipeStream(io.RawIOBase):
    """stdout of ``pipe:CMD``; a non-zero exit status raises ``SampleError(url, None, "pipe", ...)``
    when the stream ends, or when it is closed if the command had already exited by itself (a
    command still running at close is stopped by the closed pipe: not an error). A command that
    writes nothing for ``timeout`` seconds, or less than ``min_rate`` bytes/s over ``timeout``
    seconds of waiting on it, is stopped: ``SampleError(url, None, "network", ...)``.

    Args:
        url (str): ``pipe:`` followed by a shell command.
        timeout (float): seconds to wait for output, and for the command to exit once its output
            is closed. Default 60.
        min_rate (float): bytes/s the command must average while its reader waits. Default 1024.
    """

    def __init__(self, url: str, timeout: float = 60.0, min_rate: float = 1024.0):
        super().__init__()
        self.url, self.timeout, self.min_rate, self._checked = url, timeout, min_rate, False
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(url[5:], shell=True, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0)
        self._stdout = cast(io.FileIO, self.proc.stdout)  # unbuffered: one read(2) per call
        self._buf, self._pos = b"", 0
        self._pace = Pace(timeout)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._checked:
            return 0
        if self._pos == len(self._buf):
            start = time.monotonic()
            if not select.select([self._stdout], [], [], self.timeout)[0]:
                self._stall(f"no output for {self.timeout:g} s")
            self._buf, self._pos = self._stdout.read(BUFFER) or b"", 0
            rate = self._pace.tick(len(self._buf), time.monotonic() - start)
            if rate is not None and rate < self.min_rate:
                self._stall(f"output at {rate:.3g} bytes/s over {self.timeout:g} s, below min_rate={self.min_rate:g}")
            if not self._buf and len(b):
                self._check(at_end=True)
                return 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def _stall(self, why: str) -> None:
        try:
            self._check(at_end=False)  # stops the command
        except SampleError:
            pass  # it exited meanwhile: the stall is the error to report
        raise SampleError(self.url, None, "network", f"command stopped: {why}")

    def _check(self, at_end: bool) -> None:
        if self._checked:
            return
        self._checked = True
        exited_by_itself = at_end or self.proc.poll() is not None
        self._stdout.close()
        if not exited_by_itself:  # closed early: its output is no longer wanted
            self.proc.kill()
        try:
            status = self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-500:].decode("utf-8", "replace").strip()
        self._stderr.close()
        if status != 0 and exited_by_itself:
            raise SampleError(self.url, None, "pipe", f"command exited with status {status}"
                              + (f": {tail}" if tail else ""))

    def close(self) -> None:
        if not self.closed:
            try:
                self._check(at_end=False)
            finally:
                super().close()


UrlKind = Literal["local", "http", "pipe", "fsspec"]
_KIND_OF_SCHEME = {"": "local", "file": "local", "http": "http", "https": "http"}  # any other: fsspec


def _scheme(url: str) -> str:
    """The scheme before the first ``://``, lower-cased; "" when there is none."""
    return url.partition("://")[0].lower() if "://" in url else ""


def url_kind(url: str) -> UrlKind:
    """Which opener a shard URL goes to: the one rule every caller uses (reading, listing, globs,
    the index beside the shards, the writer's output).

    ========================================  ==========  ====================================
    URL                                       kind        local path
    ========================================  ==========  ====================================
    ``pipe:CMD`` (lower case, checked first)  ``pipe``
    no ``://`` (``a.tar``, ``/d/a.tar``)      ``local``   the URL itself
    ``file://PATH`` (scheme in any case)      ``local``   ``PATH``, percent-decoded
    ``://PATH`` (empty scheme)                ``local``   the URL itself
    ``http://``, ``https://`` (any case)      ``http``
    any other ``SCHEME://`` (``s3``, ``gs``)  ``fsspec``
    ========================================  ==========  ====================================

    The scheme is what precedes the first ``://``, compared in lower case; a Windows drive letter
    (``C:/d/a.tar``) has no ``://`` and is a local path.

    Example:
        >>> [url_kind(u) for u in ("d/a.tar", "FILE:///a.tar", "HTTPS://h/a.tar", "pipe:cat a.tar", "s3://b/a.tar")]
        ['local', 'local', 'http', 'pipe', 'fsspec']
    """
    if url.startswith("pipe:"):
        return "pipe"
    return cast(UrlKind, _KIND_OF_SCHEME.get(_scheme(url), "fsspec"))


def local_path(url: str) -> Optional[str]:
    """The file path of a ``local`` URL (see :func:`url_kind`); None for any other kind.

    Example:
        >>> local_path("file:///data/a%20b.tar"), local_path("d/a.tar"), local_path("pipe:cat a.tar")
        ('/data/a b.tar', 'd/a.tar', None)
    """
    if url_kind(url) != "local":
        return None
    return unquote(url[7:]) if _scheme(url) == "file" else url


def open_shard(url: str, retry: Optional[Retry] = None,
               storage_options: Optional[Dict[str, Any]] = None) -> IO[bytes]:
    """Open ``url`` for reading bytes.

    Args:
        url (str): a local path, ``file://PATH``, ``http(s)://...``, ``pipe:COMMAND``, or an
            fsspec URL (``s3://``, ``gs://``, ``memory://``, ...).
        retry (Retry, optional): attempts, backoff and timeout for remote reads. Default
            ``Retry()``: 5 attempts in a row, backoff 0.5 s doubling up to 30 s, timeout 60 s.
        storage_options (dict, optional): fsspec URLs only: passed to the backend (see
            :mod:`._objstore`).

    Returns:
        a readable binary stream; close it when done (for ``pipe:`` this checks the exit status).

    Raises:
        SampleError: reasons "missing_shard", "network", "pipe" (see the module docstring).
        ImportError: an fsspec URL whose backend is not installed.

    Example:
        >>> with open_shard("pipe:printf abc") as f:
        ...     f.read()
        b'abc'
    """
    retry = retry or Retry()
    kind = url_kind(url)
    if kind == "pipe":
        return cast(IO[bytes], PipeStream(url, retry.timeout, retry.min_rate))  # a binary stream; typeshed's IO is nominal
    if kind != "local":
        opener = http_opener(url, retry.timeout) if kind == "http" else fsspec_opener(url, storage_options)
        return io.BufferedReader(ResumingReader(url, opener, retry), BUFFER)
    path = cast(str, local_path(url))
    try:
        return open(path, "rb")
    except OSError as e:
        raise SampleError(url, None, "missing_shard", f"{type(e).__name__}: {e.strerror or e}") from None


class _Renamed(io.FileIO):
    """A local file written under a hidden temporary name (``.NAME.PID.partial``, which no
    ``*.tar`` glob matches) and renamed to ``path`` when closed: a reader never sees it half
    written. A process killed before ``close`` leaves only the temporary file; a closed stream is
    renamed whatever its caller went through, so a caller that must not publish after an error
    does not close (the shard writer closes a complete tar and writes the index last)."""

    def __init__(self, path: str):
        head, tail = os.path.split(path)
        self.final = path
        super().__init__(os.path.join(head, f".{tail}.{os.getpid()}.partial"), "wb")

    def close(self) -> None:
        if not self.closed:
            super().close()
            os.replace(str(self.name), self.final)


def open_output(url: str, storage_options: Optional[Dict[str, Any]] = None) -> IO[bytes]:
    """A writable binary stream to a ``local`` path (written under a temporary name, renamed
    into place when closed) or an ``fsspec`` object URL (uploaded when closed); ValueError for
    ``http`` and ``pipe`` URLs, which cannot be written."""
    path = local_path(url)
    if path is not None:
        return cast(IO[bytes], io.BufferedWriter(_Renamed(path)))
    fs, inner = filesystem(_writable(url, "url"), storage_options)
    return cast(IO[bytes], fs.open(inner, "wb"))


def list_output(url: str, storage_options: Optional[Dict[str, Any]] = None) -> List[str]:
    """The names (last path components) of what an output folder or object prefix holds; [] when
    it does not exist."""
    path = local_path(url)
    if path is not None:
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
    fs, inner = filesystem(_writable(url, "out"), storage_options)
    try:
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(inner, detail=False))
    except FileNotFoundError:
        return []


def remove_output(url: str, storage_options: Optional[Dict[str, Any]] = None) -> None:
    """Delete one file or object written earlier."""
    path = local_path(url)
    if path is not None:
        os.remove(path)
    else:
        fs, inner = filesystem(_writable(url, "url"), storage_options)
        fs.rm(inner)


def write_text(url: str, text: str, storage_options: Optional[Dict[str, Any]] = None) -> None:
    """Write ``text`` (UTF-8) to a local path or an object URL."""
    with open_output(url, storage_options) as f:
        f.write(text.encode("utf-8"))


def make_dirs(url: str, storage_options: Optional[Dict[str, Any]] = None) -> None:
    """Create a local output folder; an object-store prefix needs none, but its bucket must exist."""
    path = local_path(url)
    if path is not None:
        os.makedirs(path, exist_ok=True)
    else:
        require_bucket(_writable(url, "out"), storage_options)


def _writable(url: str, name: str) -> str:
    if url_kind(url) != "fsspec":
        raise ValueError(f"{name} must be a local path or an object-store URL (s3://...), "
                         f"not a {url_kind(url)} URL: {url!r}")
    return url
