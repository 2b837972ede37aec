"""Group a tar shard's members into samples, each error named (a stream stage).

:func:`tar_samples` reads the members (:mod:`._tar`) of the samples it is asked for, grouped by
:mod:`._grouping`'s rule, and gives each error to the policy as a :class:`SampleError`:
``truncated`` / ``bad_tar`` (from the tar stream: only the sample being read is lost, those before
it are kept), ``empty_shard`` (no member at all), ``stale_index`` (a sample past the count the
index gives), ``stale_index_missing`` (one the index promises that the shard lacks),
``duplicate_key`` (a key seen earlier in the shard, or an extension repeated within a sample: the
later one is rejected), ``too_large`` (the members read from one sample would hold more than
``max_sample_bytes``, :data:`MAX_SAMPLE_BYTES` unless raised: decided from the headers, before
the bytes are read, so a compressed shard that expands to gigabytes is never held). When
several readers share a shard (each keeping every k-th sample), only the owner of the sample an
error hits reports it.
"""
from __future__ import annotations

from typing import IO, AbstractSet, Callable, Dict, Iterator, Optional, Set, Tuple, cast

from ._errors import ErrorPolicy, SampleError
from ._grouping import Grouping, split_name
from ._tar import TruncatedAtBoundary, tar_members, viewable

# bytes the members read from one sample may hold, unless the dataset's max_sample_bytes says
# otherwise: past it the sample is "too_large" (512 MiB: 46 minutes of 48 kHz stereo 16-bit WAV,
# 100 minutes of 44.1 kHz mono)
MAX_SAMPLE_BYTES = 512 << 20


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
            (default :data:`MAX_SAMPLE_BYTES`, None: no bound but :data:`~._tar.MAX_MEMBER`). A sample
            past it is rejected ("too_large") as soon as a header says so: what it held is
            dropped, the rest of its bytes are skipped, never held.
        views (callable, optional): ``views(index)`` true: the audio member of that sample, in a
            local uncompressed shard, comes as a :class:`~._memberview.MemberView` (read later
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

    local = views is not None and audio is not None and bool(viewable(f))

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
