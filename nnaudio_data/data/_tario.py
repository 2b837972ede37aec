"""Read a tar shard as samples: members grouped by key, as WebDataset writes them.

A lean reader, not ``tarfile``: it parses 512-byte headers (ustar, GNU long names, pax paths),
reads the members of the samples it is asked for and skips the rest (``seek`` on files, read and
drop on pipes), so a worker that owns every k-th sample of a shard decodes only those. Members
``dir/name.ext1.ext2`` group under key ``dir/name`` with extension ``ext1.ext2`` (lower-cased);
a sample ends where the key changes.

Errors, each a :class:`SampleError` given to the policy: ``truncated`` (the stream ends inside a
member or a header; only the sample being read is lost, those before it are kept; a stream that ends
after a member without the end-of-archive blocks is read as ``tarfile`` reads it, to its end),
``bad_tar`` (a header checksum fails, a gzip stream not named ``.tar.gz``/``.tgz``, a member size
past :data:`MAX_MEMBER`; a size past the end of a local file is ``truncated``; member sizes never
size an allocation beyond the bytes present), ``empty_shard`` (no member at all), ``stale_index`` (a sample past the
count the index gives), ``stale_index_missing`` (one the index promises that the shard lacks),
``duplicate_key`` (a key seen earlier in the shard, or an extension repeated within a sample: the
later one is rejected), ``too_large`` (the members read from one sample would hold more than
``max_sample_bytes``, :data:`MAX_SAMPLE_BYTES` unless raised: decided from the headers, before
the bytes are read, so a compressed shard that expands to gigabytes is never held). When
several readers share a shard (each keeping every k-th sample), only the owner of the sample an
error hits reports it.
"""
from __future__ import annotations

import gzip
import io
import os
import re
from typing import IO, AbstractSet, Callable, Dict, Iterator, Optional, Set, Tuple, Union, cast

from ._errors import ErrorPolicy, SampleError
from ._memberview import MemberView, file_path

_BLOCK = 512
_NAME = re.compile(r"^((?:.*/|)[^./][^/]*?)\.([^/]*)$")
_PAX_LENGTH = re.compile(rb"(\d{1,12}) ")


def _octal(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU) for sizes >= 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


MAX_MEMBER = 1 << 31  # bytes: a member larger than this (2 GiB) is "bad_tar", never read
# bytes the members read from one sample may hold, unless the dataset's max_sample_bytes says
# otherwise: past it the sample is "too_large" (512 MiB: 46 minutes of 48 kHz stereo 16-bit WAV,
# 100 minutes of 44.1 kHz mono)
MAX_SAMPLE_BYTES = 512 << 20
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
    where = file_path(f) if view is not None and _remaining(f) is not None else ""
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


def split_name(name: str) -> Optional[Tuple[str, str]]:
    """``"dir/a.flac"`` -> ``("dir/a", "flac")``; None for a name without an extension.

    Example:
        >>> split_name("x/clip_01.seg.flac"), split_name("README")
        (('x/clip_01', 'seg.flac'), None)
    """
    m = _NAME.match(name)
    return None if m is None else (m.group(1), m.group(2).lower())


class Grouping:
    """The one rule that groups a shard's members into samples, in tar order: a member with an
    extension starts a new sample when its key differs from the current sample's, or when the
    current sample already holds its extension (a repeated key is a new sample). Read by
    :func:`tar_samples` and by ``count_samples``, which count the same samples.

    Example:
        >>> g = Grouping()
        >>> [g.add(n) for n in ("a.flac", "a.cls", "README", "b.flac", "b.flac")]
        [('a', 'flac', True), ('a', 'cls', False), None, ('b', 'flac', True), ('b', 'flac', True)]
        >>> g.index, g.key, sorted(g.exts)
        (2, 'b', ['flac'])
    """

    def __init__(self) -> None:
        self.index, self.key, self.exts = -1, None, set()  # type: Tuple[int, Optional[str], Set[str]]

    def add(self, name: str) -> Optional[Tuple[str, str, bool]]:
        """Place member ``name``: its (key, extension, whether it starts a sample), or None when it
        has no extension (it belongs to no sample)."""
        parts = split_name(name)
        if parts is None:
            return None
        key, ext = parts
        new = key != self.key or ext in self.exts
        if new:
            self.index, self.key, self.exts = self.index + 1, key, set()
        self.exts.add(ext)
        return key, ext, new


def tar_samples(f: IO[bytes], url: str, policy: ErrorPolicy, keep: Callable[[int], bool],
                exts: Optional[AbstractSet[str]] = None, size: Optional[int] = None,
                audio: Optional[AbstractSet[str]] = None,
                max_bytes: Optional[int] = MAX_SAMPLE_BYTES,
                views: Optional[Callable[[int], bool]] = None) -> Iterator[Dict[str, object]]:
    """Group the members of one shard into samples (a stream stage).

    Args:
        f: the open shard. url (str): its URL, for errors and ``__url__``.
        policy (ErrorPolicy): where rejections go.
        keep (callable): ``keep(index)`` says whether sample number ``index`` of the shard (0-based,
            in tar order) is wanted; the bytes of the others are skipped unread.
        exts (set[str], optional): the extensions to read (others are skipped); None reads all.
        size (int, optional): the sample count an index gives for this shard. Samples past it are
            rejected unread ("stale_index"), and samples it promises that the shard does not hold
            are counted ("stale_index_missing"): the index was written before the shard changed.
        audio (set[str], optional): the extensions of audio members. When the stream ends between
            two members, the sample read last is delivered if it has one of these (it is complete),
            else it is the sample being read, lost as "truncated". None: any member will do.
            Given, only the first audio member of a sample is read (the one an item decodes);
            later ones are skipped unread.
        max_bytes (int, optional): the most bytes the members read from one sample may hold
            (default :data:`MAX_SAMPLE_BYTES`, None: no bound but :data:`MAX_MEMBER`). A sample
            past it is rejected ("too_large") as soon as a header says so: what it held is
            dropped, the rest of its bytes are skipped, never held.
        views (callable, optional): ``views(index)`` true: the audio member of that sample, in a
            local uncompressed shard, comes as a :class:`~.memberview.MemberView` (read later
            where it lies, not counted in ``max_bytes``) instead of its bytes: for window reads
            (:mod:`._window_stream`).

    Yields:
        dicts ``{"__key__", "__url__", "__index__", ext: bytes, ...}``.
    """
    seen: Set[str] = set()
    cur: Dict[str, object] = {}
    group = Grouping()
    wanted = False

    held, held_audio = 0, False

    def want(name: str, nbytes: int) -> bool:
        nonlocal cur, wanted, held, held_audio
        placed = group.add(name)
        if placed is None:
            return False
        key, ext, new = placed
        index = group.index
        if new:  # a new sample starts here
            cur = {"__key__": key, "__url__": url, "__index__": index}
            held, held_audio, wanted = 0, False, keep(index)
            if size is not None and index >= size:
                cur["__stale__"] = size
            if key in seen:
                cur["__dup__"] = True
            seen.add(key)
        last = ext.rsplit(".", 1)[-1]
        if not wanted or "__stale__" in cur or "__too_large__" in cur or (exts is not None and last not in exts):
            return False
        if audio is not None and last in audio:
            if held_audio:  # an item decodes the first audio member only
                return False
            held_audio = True
        if max_bytes is not None and not viewed(name) and held + nbytes > max_bytes:
            for k in [k for k in cur if not k.startswith("__")]:
                del cur[k]  # drop what the sample held: it is rejected whole
            cur["__too_large__"] = (name, held + nbytes, max_bytes)
            return False
        held += nbytes
        return True

    local = views is not None and audio is not None and bool(file_path(f)) and _remaining(f) is not None

    def viewed(name: str) -> bool:  # (called for the sample `want` has just begun)
        return local and views is not None and audio is not None and views(group.index) \
            and name.rsplit(".", 1)[-1].lower() in audio

    pending: Optional[Dict[str, object]] = None
    members = 0
    try:
        for name, data in tar_members(f, url, want, viewed if local else None):
            members += 1
            if pending is not None and pending is not cur:
                yield from _finish(pending, policy)
            pending = cur if wanted else None
            parts = split_name(name) if data is not None else None  # a read member was wanted:
            if parts is not None and pending is not None:             # it has an extension
                pending[parts[1]] = data
    except Exception as e:  # noqa: BLE001  (any failure of the stream is this shard's, named)
        if not isinstance(e, SampleError):  # e.g. a gzip stream that breaks off: EOFError, zlib.error
            reason = "truncated" if isinstance(e, EOFError) else "bad_tar"
            e = SampleError(url, _key(cur), reason, f"{type(e).__name__}: {e}")
        has_audio = audio is None or any(x.rsplit(".", 1)[-1] in audio for x in group.exts)
        whole = isinstance(e, TruncatedAtBoundary) and cur and has_audio
        if pending is not None and (whole or pending is not cur):  # complete before the break
            yield from _finish(pending, policy)
        # Lost: the sample after a whole one, or the one being read (sample 0 if none began).
        # Readers sharing the shard all meet the error; the owner of that sample reports it.
        lost = group.index + 1 if whole else max(group.index, 0)
        if keep(lost):  # (past the index's count: not a planned sample, whatever broke it)
            stale = size is not None and lost >= size
            err = SampleError(url, None if whole else _key(cur), "stale_index" if stale else e.reason,
                              e.detail)
            err.index = lost
            policy.handle(err)
        for i in range(lost + 1, size or 0):  # promised by the index, past the break
            if keep(i):
                err = SampleError(url, None, "truncated", f"sample {i} of the {size} the index promises "
                                  f"lies past a break in the shard ({e.reason})")
                err.index = i
                policy.handle(err)
        return
    if pending is not None:
        yield from _finish(pending, policy)
    if members == 0 and keep(0):
        err = SampleError(url, None, "empty_shard", "no member in the tar")
        err.index = 0  # (settled like a sample: a resume does not count it again)
        policy.handle(err)
    for i in range(group.index + 1, size or 0):  # promised by the index, not in the shard
        if keep(i):
            err = SampleError(url, None, "stale_index_missing", f"the index says {size} samples, "
                              f"the shard holds {group.index + 1} (sample {i} is missing)")
            err.index = i
            policy.handle(err)


def _key(sample: Dict[str, object]) -> Optional[str]:
    key = sample.get("__key__")
    return None if key is None else str(key)


def _finish(sample: Dict[str, object], policy: ErrorPolicy) -> Iterator[Dict[str, object]]:
    err = None
    url, key = str(sample["__url__"]), str(sample["__key__"])
    if "__stale__" in sample:
        err = SampleError(url, key, "stale_index", f"the index says {sample['__stale__']} samples, the shard holds more")
    elif "__too_large__" in sample:
        name, need, most = cast(Tuple[str, int, int], sample["__too_large__"])
        err = SampleError(url, key, "too_large", f"member {name!r} takes the sample to {need} bytes, past "
                                                 f"max_sample_bytes={most}")
    elif sample.pop("__dup__", False):
        err = SampleError(url, key, "duplicate_key", "key already seen earlier in this shard")
    if err is None:
        yield sample
        return
    err.index = cast(int, sample["__index__"])
    policy.handle(err)
