"""One worker's stream for one pass: its part of the plan -> tar samples -> optional shuffle buffer
-> items -> optional length buckets, and the check that a rank whose worker yields nothing has
a clip at all.

The part (which slices, which samples of each: :class:`~.split.Part`) comes from :mod:`._assign`;
every rejection goes to the pass's :class:`~.errors.ErrorPolicy`; counting and tags are
:mod:`._progress`'s. A sample is a unit of the plan: a clip, or in a windowed shard one window of
a recording (:mod:`._windows`, read by :mod:`._window_stream`).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from .._seed import generator
from ._decode import AUDIO_EXTENSIONS
from ._errors import EmptyEpochError, ErrorPolicy, SampleError
from ._labels import map_labels
from ._reorder import bucket_by_length, shuffle_buffer
from ._samples import READ_EXTENSIONS, make_items
from ._open import PipeStream, open_shard
from ._assign import Slice, sliced
from ._tar import open_tar
from ._tar_samples import tar_samples
from ._window_stream import UnitErrors, expand, window_or_clip
from ._windows import Table

AUDIO_SET = frozenset(AUDIO_EXTENSIONS)


def clips(ds: Any, slices: List[Slice], keep: Dict[int, Callable[[int], bool]], policy: ErrorPolicy,
          epoch: int, rank: int, w: int) -> Iterator[Dict[str, Any]]:
    """The items of ``slices`` that ``keep`` wants, made as ``ds`` (a ShardedAudioDataset) says,
    each shard held to the size the plan gives it (``ds.sizes``), when the plan has sizes."""
    raw = samples(ds.urls, slices, keep, policy, ds.sizes, ds.retry, ds.storage_options, ds.max_sample_bytes,
                  ds.windows)
    if ds.shuffle is not True and ds.shuffle > 1:
        raw = shuffle_buffer(raw, int(ds.shuffle), generator(ds.seed, epoch, rank, w, "shuffle"))
    items = map_labels(make_items(raw, ds.clip, policy, ds.seed, epoch, window_or_clip), ds.label_map, policy)
    return bucket_by_length(items, ds.bucket) if ds.bucket and ds.max_samples is None else items


def samples(urls: Sequence[str], slices: List[Slice], keep: Dict[int, Callable[[int], bool]], policy: ErrorPolicy,
            sizes: Optional[Sequence[int]], retry: Any, storage_options: Any,
            max_sample_bytes: Optional[int], windows: Optional[Sequence[Optional[Table]]] = None
            ) -> Iterator[Dict[str, Any]]:
    """Raw samples ``keep[shard](i)`` wants of the shards of ``slices``. With ``sizes`` (the
    plan's: from an index, ``count=True`` or counted for equal batches), every shard is held to
    them, with or without equal batches: each sample they promise is delivered or counted once,
    past a tar break too, and a stale index is counted, never silent loss. A sample whose members
    exceed ``max_sample_bytes`` is a counted "too_large" skip. An error of a whole shard is
    reported by the owner of its sample 0. A windowed shard (``windows[shard]``) is read member by
    member and yields one sample per owned window; its members are held to the index's count."""
    for s in slices:
        url, mine = urls[s.shard], keep[s.shard]
        table = None if windows is None else windows[s.shard]
        try:
            f = open_shard(url, retry, storage_options)
        except SampleError as e:
            if mine(0):
                policy.handle(e)
            continue
        size = None if sizes is None else sizes[s.shard]
        read, errors, views = mine, policy, None
        if table is not None:  # members, for the units of the plan
            read, errors, size, views = table.keep_members(mine), UnitErrors(policy, table, mine), table.members, \
                table.windowed
        try:
            for sample in tar_samples(open_tar(f, url), url, errors, read, READ_EXTENSIONS, size, AUDIO_SET,
                                      max_sample_bytes, views):
                sample["__shard__"] = s.shard
                if table is None:
                    yield sample
                else:
                    yield from expand(sample, table, mine)
            if isinstance(f, PipeStream):  # read to the end (the tar's padding) for the exit status
                _drain(f)
        except SampleError as e:
            if mine(0):
                policy.handle(e)
        finally:
            try:
                f.close()  # a pipe: checks the command's exit status
            except SampleError as e:
                if mine(0):
                    policy.handle(e)


def not_empty(ds: Any, items: Iterable[Dict[str, Any]], share: List[Slice], epoch: int, rank: int,
              w: int) -> Iterator[Dict[str, Any]]:
    """Stream stage: pass ``items`` on; when this worker yields none, look through the whole
    rank's share (from the start, to the first valid clip) and raise :class:`EmptyEpochError`
    if the rank has none to deliver."""
    n = 0
    for item in items:
        n += 1
        yield item
    if n == 0:
        scan = ErrorPolicy("skip")
        for _ in clips(ds, share, {s.shard: sliced(s) for s in share}, scan, epoch, rank, w):
            return
        raise empty_error(ds.urls, share, scan, epoch, rank)


def names(urls: Sequence[str], shards: Iterable[int]) -> str:
    """Up to five shard URLs, for a message."""
    out = [urls[i] for i in dict.fromkeys(shards)]
    return ", ".join(out[:5]) + (f" and {len(out) - 5} more" if len(out) > 5 else "")


def empty_error(urls: Sequence[str], share: List[Slice], scan: ErrorPolicy, epoch: int, rank: int) -> EmptyEpochError:
    shards = [s.shard for s in share]
    return EmptyEpochError(f"epoch {epoch}: rank {rank} delivers no clip: none of its "
                           f"{len(set(shards))} shard(s) ({names(urls, shards) or 'none'}) holds a valid "
                           f"clip; skipped: {dict(scan.stats.skipped) or 'nothing'}")


def _drain(f: Any, limit: int = 1 << 20) -> None:
    """Read what is left of a stream, up to ``limit`` bytes (past that, closing stops it)."""
    got = 0
    while got < limit:
        chunk = f.read(1 << 16)
        if not chunk:
            return
        got += len(chunk)
