"""Open a shard URL as a readable binary stream, streaming (nothing is downloaded first).

=====================  ============================================================================
``/path``, ``file://``  a local file
``http(s)://``          urllib, with retries that resume at the byte offset (:mod:`.remote`)
``pipe:CMD``            the stdout of a shell command; a non-zero exit status raises at the end
``s3://``, ``gs://``..  fsspec (with its backend: s3fs, gcsfs, ...), with the same retries
=====================  ============================================================================

Errors are :class:`SampleError` with reason "missing_shard" (no such file, HTTP 404/410),
"network" (transient errors past the retry budget, other HTTP errors) or "pipe" (the command
failed); a missing fsspec backend is an ImportError, as it is a setup problem, not a bad shard.
"""
from __future__ import annotations

import io
import subprocess
import tempfile
from typing import IO, Any, Dict, Optional, cast
from urllib.parse import unquote

from .errors import SampleError
from .objstore import fsspec_opener
from .remote import ResumingReader, Retry, http_opener

BUFFER = 1 << 20  # read-ahead of remote streams, bytes


class PipeStream(io.RawIOBase):
    """stdout of ``pipe:CMD``; a non-zero exit status raises ``SampleError(url, None, "pipe", ...)``
    when the stream ends, or when it is closed if the command had already exited by itself (a
    command still running at close is stopped by the closed pipe: not an error).

    Args:
        url (str): ``pipe:`` followed by a shell command.
        timeout (float): seconds to wait for the command to exit once its output is closed.
    """

    def __init__(self, url: str, timeout: float = 60.0):
        super().__init__()
        self.url, self.timeout, self._checked = url, timeout, False
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(url[5:], shell=True, stdout=subprocess.PIPE, stderr=self._stderr)
        self._stdout = cast(io.BufferedReader, self.proc.stdout)  # stdout=PIPE, default buffering

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._checked:
            return 0
        n = self._stdout.readinto(b)
        if n == 0 and len(b):
            self._check(at_end=True)
        return n

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


def local_path(url: str) -> Optional[str]:
    """The file path of a local shard URL (a path or ``file://``); None for any other scheme.

    Example:
        >>> local_path("file:///data/a%20b.tar"), local_path("d/a.tar"), local_path("pipe:cat a.tar")
        ('/data/a b.tar', 'd/a.tar', None)
    """
    if url.startswith("pipe:"):
        return None
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "file":
        return unquote(url[7:])
    return url if scheme == "" else None


def open_shard(url: str, retry: Optional[Retry] = None,
               storage_options: Optional[Dict[str, Any]] = None) -> IO[bytes]:
    """Open ``url`` for reading bytes.

    Args:
        url (str): a local path, ``file://PATH``, ``http(s)://...``, ``pipe:COMMAND``, or an
            fsspec URL (``s3://``, ``gs://``, ``memory://``, ...).
        retry (Retry, optional): attempts, backoff and timeout for remote reads. Default
            ``Retry()``: 5 attempts in a row, backoff 0.5 s doubling up to 30 s, timeout 60 s.
        storage_options (dict, optional): fsspec URLs only: passed to the backend (see
            :mod:`.objstore`).

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
    if url.startswith("pipe:"):
        return cast(IO[bytes], PipeStream(url, retry.timeout))  # a binary stream; typeshed's IO is nominal
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        raw = ResumingReader(url, http_opener(url, retry.timeout), retry)
        return io.BufferedReader(raw, BUFFER)
    if scheme not in ("", "file"):
        raw = ResumingReader(url, fsspec_opener(url, storage_options), retry)
        return io.BufferedReader(raw, BUFFER)
    path = local_path(url)
    if path is None:  # unreachable: the scheme is "" or "file" here
        raise ValueError(f"url: not a local path: {url!r}")
    try:
        return open(path, "rb")
    except OSError as e:
        raise SampleError(url, None, "missing_shard", f"{type(e).__name__}: {e.strerror or e}") from None
