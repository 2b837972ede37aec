"""Read a tar stream as members: a lean reader for WebDataset shards, every size field bounded.

Not ``tarfile``: it parses 512-byte headers (ustar, GNU long names, pax paths) and reads only the
members it is asked for, skipping the rest (``seek`` on files, read and drop on pipes), so a worker
that owns every k-th sample of a shard reads only those; a member of a local uncompressed shard
may instead come as a :class:`~._memberview.MemberView`, read later where it lies. Which members
make one sample is :mod:`._grouping`'s rule; the samples, and their errors, are :mod:`._tar_samples`'.

Hostile fields are bounded before they size anything: a member size past :data:`MAX_MEMBER` is
``bad_tar``, never read; a size past the end of a local file is ``truncated``; an extended header
(GNU long name, pax) past 1 MiB is ``bad_tar``; member sizes never size an allocation beyond the
bytes present (reads come in chunks). Errors, each a :class:`SampleError`: ``truncated`` (the
stream ends inside a member or a header; a stream that ends after a member without the
end-of-archive blocks is read as ``tarfile`` reads it, to its end), ``bad_tar`` (a header checksum
fails, a gzip stream not named ``.tar.gz``/``.tgz``, a size as above). A break between members
(:class:`TruncatedAtBoundary`) leaves every member before it whole.
"""
from __future__ import annotations

import gzip
import io
import os
import re
from typing import IO, Callable, Iterator, Optional, Tuple, Union, cast

from ._errors import SampleError
from ._grouping import split_name
from ._memberview import MemberView, file_path

_BLOCK = 512
_PAX_LENGTH = re.compile(rb"(\d{1,12}) ")


def _octal(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU) for sizes >= 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


MAX_MEMBER = 1 << 31  # bytes: a member larger than this (2 GiB) is "bad_tar", never read
_CHUNK = 1 << 20
_GZIP = b"\x1f\x8b"


class TruncatedAtBoundary(SampleError):
    """The stream breaks between members: it ends in or before a header, or a header is unusable
    (a checksum that fails, an extended header too large or not records). Every sample before the
    header is complete; the one being read is, when it holds audio (else it is the one lost)."""


def _read_exact(f: IO[bytes], n: int, present: bool = False) -> bytes:
    """``n`` bytes, or fewer only at the end of the stream. Reads in chunks, so what it holds never
    exceeds the bytes actually present, whatever ``n`` a header claims (raw pipes and gzip streams
    may also return short reads); ``present``: a local file holds the ``n`` bytes (checked), read
    at once, without the chunks' second copy."""
    if n <= _CHUNK or present:
        data = f.read(n)
        if data is None or len(data) == n or not data:
            return data or b""
        parts, got = [data], len(data)
    else:
        parts, got = [], 0
    while got < n:
        chunk = f.read(min(_CHUNK, n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _skip(f: IO[bytes], n: int, seekable: bool) -> int:
    if seekable:
        f.seek(n, 1)
        return n
    got = 0
    while got < n:
        chunk = f.read(min(_CHUNK, n - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def _padded(f: IO[bytes], padded: int, seekable: bool, left: Optional[int], size: int) -> bool:
    """Skip a member's padding; whether the stream held all of it (a cut inside the padding of
    the last member read is a cut after that member)."""
    got = _skip(f, padded, seekable)
    return got == padded and (left is None or left >= size + padded)


def _seekable(f: IO[bytes]) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _remaining(f: IO[bytes]) -> Optional[int]:
    """Bytes left in a regular local file (None for any other stream: pipes, HTTP, gzip)."""
    if not isinstance(f, (io.BufferedReader, io.FileIO)):
        return None
    try:
        return os.fstat(f.fileno()).st_size - f.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def viewable(f: IO[bytes]) -> str:
    """The path of ``f`` when its members can be viewed where they lie (a regular local file, not
    decompressed on the fly), else ""."""
    return file_path(f) if _remaining(f) is not None else ""


def pax_path(data: bytes) -> Optional[str]:
    r"""The ``path`` of pax extended-header data ("" when it has none), its records
    (``"%d %s=%s\n" % (length, key, value)``) read by their length prefix, as ``tarfile`` reads
    them: a value may hold anything, newlines and ``"9 path="`` included. The last ``path``
    record wins. None when the data is not a list of such records.

    Example:
        >>> pax_path(b"28 comment=x\n9 path=y\n text\n11 path=ok\n")
        'ok'
        >>> pax_path(b"99 path=short\n") is None
        True
    """
    pos, path = 0, ""
    while pos < len(data) and data[pos] != 0:  # NUL padding may follow the last record
        m = _PAX_LENGTH.match(data, pos)
        if m is None:
            return None
        end = pos + int(m.group(1))
        if end > len(data) or end <= m.end() or data[end - 1] != 0x0A:
            return None
        key, eq, value = data[m.end():end - 1].partition(b"=")
        if not eq:
            return None
        if key == b"path":
            path = value.decode("utf-8", "replace")
        pos = end
    return path


def tar_members(f: IO[bytes], url: str, want: Callable[[str, int], bool],
                view: Optional[Callable[[str], bool]] = None
                ) -> Iterator[Tuple[str, Union[None, bytes, MemberView]]]:
    """Yield ``(name, data)`` for each regular member; ``data`` is None where ``want(name, size)``
    (``size``: the member's bytes, as its header says) is false
    (the bytes were skipped), a :class:`MemberView` (the bytes skipped, read later where they
    lie) where ``view(name)`` is true and ``f`` is a regular local file. Raises :class:`SampleError` "truncated" (:class:`TruncatedAtBoundary`
    when the stream ends in or before a header) or "bad_tar" (a checksum that fails, a gzip stream
    that was not opened as one, a member size past :data:`MAX_MEMBER`). A stream that simply ends
    after a member, without the end-of-archive blocks, ends the shard as ``tarfile`` does."""
    seekable = _seekable(f)
    where = viewable(f) if view is not None else ""
    long_name: Optional[str] = None
    first = True
    while True:
        head = _read_exact(f, _BLOCK)
        if first and head[:2] == _GZIP:
            raise SampleError(url, None, "bad_tar", "gzip-compressed tar: give it a .tar.gz or .tgz "
                              "name to have it decompressed, or decompress it")
        if not head:
            return  # no member (the caller reports an empty shard), or no end-of-archive blocks
        first = False
        if len(head) < _BLOCK:
            raise TruncatedAtBoundary(url, None, "truncated", "stream ends inside a tar header")
        if head.count(0) == _BLOCK:
            return
        try:
            ok = _octal(head[148:156]) == sum(head[:148]) + 256 + sum(head[156:])
            size, kind = _octal(head[124:136]), head[156:157]
        except ValueError:
            ok = False
        if not ok:  # what came before is whole: the break is between members
            raise TruncatedAtBoundary(url, None, "bad_tar", "not a tar header (checksum mismatch)")
        name = head[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        if head[257:262] == b"ustar" and head[345] != 0:
            name = head[345:500].split(b"\0", 1)[0].decode("utf-8", "replace") + "/" + name
        padded, left = -size % _BLOCK, _remaining(f)
        if kind in (b"L", b"x"):  # the header of the member that follows: a break here is between members
            if size > _CHUNK:
                raise TruncatedAtBoundary(url, None, "bad_tar", f"extended header {name!r} claims {size} bytes")
            data = _read_exact(f, size)
            if len(data) < size or not _padded(f, padded, seekable, left, size):
                raise TruncatedAtBoundary(url, None, "truncated", f"stream ends inside the header of {name!r}")
            if kind == b"L":
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "replace")
            else:
                path = pax_path(data)
                if path is None:
                    raise TruncatedAtBoundary(url, None, "bad_tar", f"pax header {name!r} is not a list of "
                                              f"length-prefixed records")
                long_name = path or long_name
            continue
        if long_name is not None:
            name, long_name = long_name, None
        regular = kind in (b"0", b"\0", b"7")
        wanted = regular and want(name, size)  # a new sample may begin here: errors below are its own
        # a member of no sample (not a file, or a name without an extension) breaks between samples
        broken = SampleError if regular and split_name(name) is not None else TruncatedAtBoundary
        if size > MAX_MEMBER:
            raise broken(url, name, "bad_tar", f"member {name!r} claims {size} bytes, more than "
                         f"the {MAX_MEMBER} a shard member may hold")
        if left is not None and size > left:
            raise broken(url, name, "truncated", f"member {name!r} claims {size} bytes, "
                         f"{left} are left in the file")
        if not wanted:
            skipped = _skip(f, size + padded, seekable)
            if skipped < size:
                raise broken(url, name, "truncated", f"stream ends inside member {name!r}")
            if regular:
                yield name, None
            if skipped < size + padded or (left is not None and left < size + padded):
                raise TruncatedAtBoundary(url, None, "truncated", f"stream ends after member {name!r}")
            continue
        if where and view is not None and view(name):  # (left is known: the member's bytes are there)
            at = f.tell()
            _skip(f, size, seekable)
            yield name, MemberView(where, at, size)
            if not _padded(f, padded, seekable, left, size):
                raise TruncatedAtBoundary(url, None, "truncated", f"stream ends after member {name!r}")
            continue
        data = _read_exact(f, size, present=left is not None)
        if len(data) < size:
            raise SampleError(url, name, "truncated", f"stream ends inside member {name!r}")
        yield name, data
        if not _padded(f, padded, seekable, left, size):  # the member is whole: cut after it
            raise TruncatedAtBoundary(url, None, "truncated", f"stream ends after member {name!r}")


def open_tar(f: IO[bytes], url: str) -> IO[bytes]:
    """``f``, decompressed when ``url`` names a gzip-compressed tar (``.tar.gz``, ``.tgz``)."""
    path = url.split("?", 1)[0].lower()
    if path.endswith((".tar.gz", ".tgz")):
        return cast(IO[bytes], gzip.GzipFile(fileobj=f, mode="rb"))
    return f
