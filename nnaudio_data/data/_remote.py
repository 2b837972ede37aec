"""A byte stream that survives a flaky network: on a transient error it waits (exponential
backoff), reopens at the byte offset already read, and goes on; after a bounded number of failed
attempts in a row it raises ``SampleError(url, None, "network", ...)``.

Transient: connection reset / refused / dropped (including a body that ends before its
Content-Length), timeouts, HTTP 5xx, 408 and 429. Missing (HTTP 404 / 410, FileNotFoundError):
``SampleError(url, None, "missing_shard", ...)`` at once. Any other HTTP error: "network" at once.
HTTP resumes with a ``Range: bytes=OFFSET-`` request and ``If-Range`` (the first response's ETag
or Last-Modified); when the server ignores Range (answers 200 for the same object), the reopened
stream re-reads and discards the first OFFSET bytes; when the object changed, the read ends as
``SampleError(url, None, "shard_changed")``, never mixing two objects' bytes. A read slower than
``Retry.min_rate`` is a failure as a dropped connection is.
"""
from __future__ import annotations

import http.client
import io
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, Optional, Tuple, cast

from ._errors import SampleError
from .._checks import check_arg

_TRANSIENT_HTTP = (408, 429, 500, 502, 503, 504)
_MISSING_HTTP = (404, 410)
_SKIP_CHUNK = 1 << 20

# opener(offset) -> (stream positioned at offset, total size in bytes or None)
Opener = Callable[[int], Tuple[IO[bytes], Optional[int]]]


@dataclass(frozen=True)
class Retry:
    """How hard to try: ``attempts`` failures in a row before giving up, waiting
    ``backoff * 2**k`` seconds (at most ``max_backoff``) before retry k; ``timeout`` seconds
    for a connection or a read to make progress; and the stream must average at least
    ``min_rate`` bytes/s over each ``timeout`` seconds its reader spends waiting on it (a server
    that trickles a byte at a time answers every read in time: each such window is a failure
    too, so a shard's read as a whole gives up within ``2 * worst_case()``). Default:
    5 attempts, backoff 0.5 s doubling up to 30 s, timeout 60 s, min_rate 1024 bytes/s.

    Example:
        >>> [Retry(backoff=0.5).delay(k) for k in range(4)]
        [0.5, 1.0, 2.0, 4.0]
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 60.0
    min_rate: float = 1024.0

    def __post_init__(self):
        check_arg(not self.attempts < 1, "attempts", ">= 1", self.attempts)
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError(f"backoff and max_backoff must be >= 0, got {self.backoff}, {self.max_backoff}")
        check_arg(not self.timeout <= 0, "timeout", "> 0 seconds", self.timeout)
        check_arg(not self.min_rate < 0, "min_rate", ">= 0 bytes/s", self.min_rate)

    def delay(self, k: int) -> float:
        return min(self.backoff * 2 ** k, self.max_backoff)

    def worst_case(self) -> float:
        """Seconds a read that makes no progress at all takes to give up: every attempt waits
        ``timeout``, with the pauses between them.

        Example:
            >>> Retry(attempts=3, backoff=0.5, timeout=15).worst_case()
            46.5
        """
        return self.attempts * self.timeout + sum(self.delay(k) for k in range(self.attempts - 1))


# What ShardedAudioDataset uses unless told: a stalled read gives up within 60 s in all
# (3 x 15 s + 1.5 s of pauses), then the shard is a counted "network" skip.
DATASET_RETRY = Retry(attempts=3, backoff=0.5, max_backoff=30.0, timeout=15.0)


class Pace:
    """A stream's rate as its reader waits for it: bytes read over the seconds spent inside the
    reads (time the consumer spends between reads is not the source's), reported once per
    ``window`` seconds of such waiting.

    Example:
        >>> p = Pace(10)
        >>> p.tick(500, 4.0), p.tick(0, 6.0), p.tick(1, 1.0)
        (None, 50.0, None)
    """

    def __init__(self, window: float):
        self.window, self.got, self.spent = window, 0, 0.0

    def tick(self, n: int, seconds: float) -> Optional[float]:
        """Count ``n`` bytes read in ``seconds``; the rate (bytes/s) of the window when it has
        ended (a new one starts), else None."""
        self.got, self.spent = self.got + n, self.spent + seconds
        if self.spent < self.window:
            return None
        rate = self.got / self.spent
        self.got, self.spent = 0, 0.0
        return rate


class Dropped(ConnectionError):
    """The body ended before the size the server announced."""


def is_transient(e: BaseException) -> bool:
    """Whether retrying ``e`` (after a pause) may succeed."""
    if isinstance(e, urllib.error.HTTPError):
        return e.code in _TRANSIENT_HTTP
    if isinstance(e, urllib.error.URLError):
        return not isinstance(e.reason, str) or "timed out" in e.reason
    return isinstance(e, (ConnectionError, TimeoutError, socket.timeout, http.client.HTTPException))


def _identity(headers: Any) -> Tuple[Optional[str], Optional[str]]:
    """(ETag, Last-Modified) of a response; a weak ETag (``W/...``) says nothing of the bytes."""
    etag = headers.get("ETag")
    return (None if etag is None or etag.startswith("W/") else etag), headers.get("Last-Modified")


def http_opener(url: str, timeout: float) -> Opener:
    """Open ``url`` at an offset with urllib: a Range request, or a re-read that skips the offset.

    A resumed read must come from the object the read began with: the first response's ETag (or
    else its Last-Modified) goes out as ``If-Range``, and a response naming another ETag or
    Last-Modified raises ``SampleError(url, None, "shard_changed")`` instead of splicing its bytes
    in. A server that sends neither cannot be checked.
    """
    first: Dict[str, Tuple[Optional[str], Optional[str]]] = {}

    def same_object(resp: Any) -> None:
        seen = _identity(resp.headers)
        if "id" not in first:
            first["id"] = seen
            return
        etag, modified = first["id"]
        if (etag and seen[0] and seen[0] != etag) or (modified and seen[1] and seen[1] != modified):
            resp.close()
            raise SampleError(url, None, "shard_changed", f"the object changed during the read (ETag "
                              f"{etag} -> {seen[0]}, Last-Modified {modified} -> {seen[1]}): its bytes "
                              f"are not spliced in")

    def open_at(offset: int) -> Tuple[IO[bytes], Optional[int]]:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        etag, modified = first.get("id", (None, None))
        if offset and (etag or modified):
            headers["If-Range"] = cast(str, etag or modified)
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
        same_object(resp)
        length = resp.headers.get("Content-Length")
        if resp.status == 206:
            span = resp.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
            start, total = span.partition(" ")[2].partition("-")[0], span.rpartition("/")[2]
            if start != str(offset):
                resp.close()
                raise SampleError(url, None, "network", f"asked for bytes {offset}-, got {span!r}")
            return resp, int(total) if total.isdigit() else None
        skip = offset  # the server ignored Range: read the start again and drop it
        while skip:
            got = resp.read(min(skip, _SKIP_CHUNK))
            if not got:
                raise Dropped(f"body ended while skipping to byte {offset}")
            skip -= len(got)
        return resp, int(length) if length and length.isdigit() else None

    return open_at


class ResumingReader(io.RawIOBase):
    """A raw, read-only stream over ``opener`` that retries transient errors where it stopped.

    One failure count for the whole read: a stalled try (no progress for ``retry.timeout``) and a
    slow window (``retry.timeout`` seconds of waiting on reads that averaged less than
    ``retry.min_rate`` bytes/s) each add one; it resets once ``min_rate * timeout`` bytes have
    arrived since the last failure, so separate drops in a long shard are survived but a trickle
    is not; ``attempts`` failures end the read: ``SampleError(url, None, "network")``. Each
    failure takes at most two windows, so the read gives up within ``2 * retry.worst_case()``.

    Args:
        url (str): for error messages.
        opener (callable): ``opener(offset) -> (stream, total_size or None)``.
        retry (Retry): attempts, backoff, timeout and min_rate.
        sleep (callable): the pause between attempts (``time.sleep``).
    """

    def __init__(self, url: str, opener: Opener, retry: Retry = Retry(),
                 sleep: Callable[[float], None] = time.sleep):
        super().__init__()
        self.url, self.opener, self.retry, self.sleep = url, opener, retry, sleep
        self.offset, self.retries, self.failures, self.progress = 0, 0, 0, 0
        self.total: Optional[int] = None
        self.stream: Optional[IO[bytes]] = None
        self.pace = Pace(retry.timeout)
        self._with_retries(lambda: 0)  # connect now: a missing shard fails here, not on first read

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        self.stream, total = self.opener(self.offset)
        self.total = total if self.total is None else self.total

    def _with_retries(self, step: Callable[[], int]) -> int:
        while True:
            try:
                if self.stream is None:
                    self._open()
                return step()
            except SampleError:
                raise
            except urllib.error.HTTPError as e:
                if e.code in _MISSING_HTTP:
                    raise SampleError(self.url, None, "missing_shard", f"HTTP {e.code} {e.reason}") from None
                if not is_transient(e):
                    raise SampleError(self.url, None, "network", f"HTTP {e.code} {e.reason}") from None
                self._failed(f"{type(e).__name__}: {e}")
            except FileNotFoundError as e:
                raise SampleError(self.url, None, "missing_shard", str(e)) from None
            except Exception as e:  # noqa: BLE001  (classified below)
                if not is_transient(e):
                    raise SampleError(self.url, None, "network", f"{type(e).__name__}: {e}") from None
                self._failed(f"{type(e).__name__}: {e}")

    def _failed(self, why: str) -> None:
        """Count a failure: give up after ``attempts``, else drop the stream and pause (the next
        step reopens it at the offset reached)."""
        self._drop_stream()
        self.failures, self.progress = self.failures + 1, 0
        if self.failures >= self.retry.attempts:
            raise SampleError(self.url, None, "network", f"{self.failures} attempts failed at byte "
                              f"{self.offset}; last: {why}") from None
        self.retries += 1
        self.sleep(self.retry.delay(self.failures - 1))

    def _read_some(self, b: memoryview) -> int:
        # at most one read of the socket: bytes that arrived before a stall are kept, not lost
        # with the timeout of a read that waits to fill the whole buffer
        # openers return urllib responses, fsspec files, buffered readers: all have readinto,
        # which typing.IO does not declare
        read = getattr(self.stream, "readinto1", None) or getattr(self.stream, "readinto")
        n = read(b)
        if n == 0 and self.total is not None and self.offset < self.total:
            raise Dropped(f"connection closed at byte {self.offset} of {self.total}")
        return n

    def readinto(self, b) -> int:
        if self.closed:
            raise ValueError("I/O operation on a closed stream")
        if len(b) == 0:
            return 0
        start = time.monotonic()
        n = self._with_retries(lambda: self._read_some(memoryview(b)))
        self.offset, self.progress = self.offset + n, self.progress + n
        if self.progress >= self.retry.min_rate * self.retry.timeout:
            self.failures = 0  # real progress since the last failure
        rate = self.pace.tick(n, time.monotonic() - start)
        if rate is not None and rate < self.retry.min_rate:
            self._failed(f"{rate:.3g} bytes/s over {self.retry.timeout:g} s of reads, below "
                         f"min_rate={self.retry.min_rate:g}")
        return n

    def _drop_stream(self) -> None:
        if self.stream is not None:
            try:
                self.stream.close()
            except Exception:  # noqa: BLE001  (the stream is already broken)
                pass
            self.stream = None

    def close(self) -> None:
        self._drop_stream()
        super().close()
