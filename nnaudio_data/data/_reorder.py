"""Reordering stages: a seeded shuffle buffer, length bucketing to cut padding, and the equal-count
cut or top-up of equal batches (:func:`equalise`).

All are stream stages ``stage(src, ...) -> Iterator`` over any items, holding at most a bounded
window in memory, and deterministic given their ``torch.Generator``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

import torch

from .._checks import check_arg


def shuffle_buffer(src: Iterable[Any], size: int, generator: torch.Generator,
                   initial: int = 100) -> Iterator[Any]:
    """Yield the items of ``src`` in an order mixed within a buffer of up to ``size`` items.

    The first item comes out once ``initial`` items are buffered, not ``size`` (as webdataset's
    ``shuffle(bufsize, initial)``): while the buffer is below ``size``, two items are read for each
    one yielded, so it grows to ``size`` as the stream goes on. Each yield takes a uniformly drawn
    item of the buffer; the rest drains in random order at the end. The order is a function of
    ``src``'s order and ``generator`` alone. ``size`` <= 1 passes items through unchanged.

    Args:
        src: the items.
        size (int): the largest buffer.
        generator (torch.Generator): every draw comes from it.
        initial (int): items buffered before the first is yielded (at most ``size``), >= 1.
            Default 100.

    Example:
        >>> out = list(shuffle_buffer(range(10), 4, torch.Generator().manual_seed(0)))
        >>> sorted(out) == list(range(10)), out != list(range(10))
        (True, True)
    """
    check_arg(not isinstance(initial, bool) and isinstance(initial, int) and not initial < 1, "initial",
              "an int >= 1", initial)
    if size <= 1:
        yield from src
        return
    initial = min(initial, size)
    items, end = iter(src), object()
    buf: List[Any] = []
    for item in items:
        buf.append(item)
        if len(buf) < size:
            more = next(items, end)
            if more is not end:
                buf.append(more)
        if len(buf) >= initial:
            j = int(torch.randint(len(buf), (1,), generator=generator))
            buf[j], buf[-1] = buf[-1], buf[j]
            yield buf.pop()
    for j in torch.randperm(len(buf), generator=generator).tolist():
        yield buf[j]


def _length(item: Any) -> int:
    if isinstance(item, dict):
        return int(item["length"]) if "length" in item else int(item["waveform"].shape[-1])
    return int(item.shape[-1])


def bucket_by_length(src: Iterable[Any], window: int, key: Optional[Callable[[Any], int]] = None,
                     generator: Optional[torch.Generator] = None,
                     batch_size: Optional[int] = None) -> Iterator[Any]:
    """Group items of similar length: sort each window of ``window`` items by length.

    A DataLoader cutting this stream into batches of ``batch_size`` (pick ``window`` a multiple
    of it) then batches clips of similar duration, so padding shrinks. With ``batch_size`` and a
    ``generator`` the batch-sized runs of a window are also shuffled, so training does not see
    short clips first in every window.

    Args:
        src: items (sample dicts with "length" or "waveform", or tensors (..., T)).
        window (int): items sorted together, >= 1.
        key (callable, optional): length of an item; default its "length" / last dimension.
        generator (torch.Generator, optional): shuffles runs when ``batch_size`` is given.
        batch_size (int, optional): run length for that shuffle.

    Example:
        >>> xs = [torch.zeros(n) for n in (5, 1, 4, 2, 3, 6)]
        >>> [x.shape[-1] for x in bucket_by_length(xs, window=3)]
        [1, 4, 5, 2, 3, 6]
    """
    check_arg(not window < 1, "window", ">= 1", window)
    key = key or _length
    buf: List[Any] = []
    for item in src:
        buf.append(item)
        if len(buf) == window:
            yield from _runs(sorted(buf, key=key), generator, batch_size)
            buf = []
    yield from _runs(sorted(buf, key=key), generator, batch_size)


def _runs(items: List[Any], generator: Optional[torch.Generator], batch_size: Optional[int]) -> Iterator[Any]:
    if generator is None or not batch_size:
        yield from items
        return
    full = len(items) // batch_size
    runs = [items[i * batch_size:(i + 1) * batch_size] for i in range(full)]
    for j in torch.randperm(full, generator=generator).tolist():
        yield from runs[j]
    yield from items[full * batch_size:]  # a partial run stays last, keeping batches aligned


def equalise(items: Iterable[Dict[str, Any]], target: int, expected: int, stats: Any,
             again: Callable[[], Iterable[Dict[str, Any]]],
             empty: Optional[Callable[[], Exception]] = None) -> Iterator[Dict[str, Any]]:
    """Stream stage: deliver exactly ``target`` items. Cut the stream short (``stats.dropped`` +=
    the ``expected`` share less what was delivered or rejected), or top it up from ``again()``
    passes (the whole rank's share: a worker may own no clip) with items marked ``__repeat__``.
    A pass that yields nothing raises ``empty()`` (the rank has no valid clip at all).

    Example:
        >>> from nnaudio_data.data._progress import LoaderStats
        >>> s = LoaderStats(); out = list(equalise(({"i": i} for i in range(3)), 5, 3, s, lambda: [{"i": 9}]))
        >>> [x["i"] for x in out], [x.get("__repeat__", False) for x in out][-1]
        ([0, 1, 2, 9, 9], True)
    """
    n = 0
    for item in items:
        if n == target:
            # skips that are not samples of ``expected``: clips past a stale index, and errors of a
            # whole shard (no key: an empty or missing shard, a pipe's exit status)
            unplanned = getattr(stats, "unplanned", 0)
            stats.dropped += max(0, expected - n - stats.total_skipped + unplanned)
            return
        n += 1
        yield item
    while n < target:
        before = n
        for item in again():
            if n == target:
                break
            item["__repeat__"] = True
            n += 1
            yield item
        if n == before:
            if empty is not None:
                raise empty()
            raise RuntimeError(f"equal batches: this rank has no valid clip to repeat and owes "
                               f"{target - n} more; its shards hold no readable clip")
