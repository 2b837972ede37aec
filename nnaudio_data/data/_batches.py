"""Batches by duration: the epoch plan's batches when ``max_samples`` (or ``max_duration``) is set.

Planned, not streamed. From the shard sizes and each clip's ``[frames, rate]`` in the index
(:mod:`._index`; over a windowed index, each window's, from its recording's row:
:func:`~.windows.unit_lengths`), every rank computes every rank's batches for the epoch (:class:`BatchPlan`): its
share of the plan (:func:`~.split.plan`), taken as one stream in order, cut into windows of
``bucket`` clips (the whole share without ``bucket``: no sorting, batches in stream order), each
window sorted by length and packed greedily so that a batch's clip count times its longest clip
(padding included, at the dataset's ``sr``) stays within ``max_samples``; a window's batches are
then drawn in an order seeded from (seed, epoch, rank). A clip longer than the budget on its own is
a batch of one.

Under equal batches every rank yields the same number of batches: the smallest rank's count
("drop": the samples of its batches past that count are counted dropped, never read) or the
largest ("wrap": a rank repeats its own batches from its first). Batch ``b`` goes to worker
``b % num_workers`` (after a resume, the ``j``-th batch left to worker ``j % num_workers``): the
DataLoader takes one batch from each worker in turn, so a rank hands its batches out in plan order,
whatever its worker count. A clip rejected when read leaves its batch smaller; a batch left empty
is, under equal batches, one repeated clip of the rank (so that no rank falls a batch short), else
not yielded. Each batch's number travels in its clips' tags (:mod:`._progress`): a resume skips the
batches a state consumed, and the samples it settled.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

import torch

from .._checks import check_arg
from .._seed import generator
from ._resample import resampled_length
from ._assign import Slice

Pos = Tuple[int, int]  # (shard number, sample index in the shard)
NEEDS_LENGTHS = ("max_samples / max_duration plan batches with each clip's length, from the shard index's "
                 "'lengths' field; {where} has none (it was written by an older version, or by "
                 "write_index / count=True, which count headers only): rebuild the index with "
                 "`nnaudio-data shard SRC OUT` (which records every clip's frames and rate), or batch by "
                 "count (batch_size=, with bucket= to cut padding)")


def budget(max_samples: Optional[int], max_duration: Optional[float], sr: int, shuffle: Any) -> Optional[int]:
    """The samples (at ``sr``) a batch may hold, padding included, from ``max_samples`` or
    ``max_duration`` seconds (at most one); None: batches by count. Checked: a clip buffer
    (``shuffle=N``) would reorder the clips the plan batches, so it is refused with them.

    Example:
        >>> budget(None, 2.5, 16000, True), budget(None, None, 16000, 100)
        (40000, None)
    """
    if max_samples is not None and max_duration is not None:
        raise ValueError(f"max_samples and max_duration: give one, got {max_samples!r} and {max_duration!r}")
    if max_duration is not None:
        ok = isinstance(max_duration, (int, float)) and not isinstance(max_duration, bool) and max_duration * sr >= 1
        check_arg(ok, "max_duration", f"seconds holding at least one sample at sr={sr}", max_duration)
        max_samples = int(max_duration * sr)
    if max_samples is None:
        return None
    check_arg(isinstance(max_samples, int) and not isinstance(max_samples, bool) and max_samples >= 1,
              "max_samples", "None or an int >= 1", max_samples)
    check_arg(shuffle is True or shuffle is False or shuffle in (0, 1), "shuffle",
              "a bool with max_samples / max_duration (batches are planned; shuffle=True draws shard "
              "order and each bucket's batch order)", shuffle)
    return max_samples


def extents(lengths: Sequence[Sequence[Sequence[int]]], sr: int, offset: int, length: Optional[int]) -> List[List[int]]:
    """Each clip's padded length at ``sr`` as the dataset cuts it (``length`` when fixed, else its
    resampled frames less ``offset``), per shard, from the index's ``[frames, rate]`` pairs.

    Example:
        >>> extents([[[800, 8000], [441, 44100]]], 16000, 100, None)
        [[1500, 60]]
    """
    if length is not None:
        return [[length] * len(rows) for rows in lengths]
    return [[max(0, resampled_length(f, r, sr) - offset) for f, r in rows] for rows in lengths]


def pack(positions: Sequence[Pos], extent: Callable[[Pos], int], max_samples: int, window: Optional[int],
         gen: Optional[torch.Generator] = None) -> List[List[Pos]]:
    """Cut ``positions`` into batches whose size times longest ``extent`` is at most
    ``max_samples``: windows of ``window`` positions sorted by extent (None: one window, unsorted),
    packed greedily in order; with ``gen``, each window's batches in a drawn order.

    Example:
        >>> ext = {(0, i): n for i, n in enumerate([5, 1, 4, 2, 9])}.get
        >>> pack([(0, i) for i in range(5)], ext, 8, window=5)
        [[(0, 1), (0, 3)], [(0, 2)], [(0, 0)], [(0, 4)]]
    """
    out: List[List[Pos]] = []
    step = window or max(1, len(positions))
    for start in range(0, len(positions), step):
        chunk = list(positions[start:start + step])
        if window:
            chunk.sort(key=extent)  # stable: equal lengths keep stream order
        batches: List[List[Pos]] = []
        cur: List[Pos] = []
        longest = 0
        for p in chunk:
            grown = max(longest, extent(p))
            if cur and grown * (len(cur) + 1) > max_samples:
                batches.append(cur)
                cur, grown = [], extent(p)
            cur.append(p)
            longest = grown
        if cur:
            batches.append(cur)
        if gen is not None and window and len(batches) > 1:
            batches = [batches[j] for j in torch.randperm(len(batches), generator=gen).tolist()]
        out += batches
    return out


class BatchPlan:
    """Every rank's batches of one epoch (see the module docstring), from the ranks' ``shares``.

    Args:
        shares: each rank's slices (:func:`~.split.plan` with one worker per rank).
        sizes, ext: shard sizes; each clip's extent (:func:`extents`).
        max_samples (int), bucket (int | None): the budget and the sorting window.
        seed, epoch (int): the draw of each window's batch order.
        equal (bool), remainder (str): equal batches, "drop" or "wrap".
    """

    def __init__(self, shares: Sequence[Sequence[Slice]], sizes: Sequence[int], ext: Sequence[Sequence[int]],
                 max_samples: int, bucket: Optional[int], seed: int, epoch: int, equal: bool, remainder: str):
        def extent(p: Pos) -> int:
            return ext[p[0]][p[1]]
        self.streams = [[(s.shard, i) for s in share for i in range(s.start, sizes[s.shard], s.step)]
                        for share in shares]
        self.batches = [pack(stream, extent, max_samples, bucket, generator(seed, epoch, r, 0, "batches"))
                        for r, stream in enumerate(self.streams)]
        counts = [len(b) for b in self.batches]
        self.target: Optional[int] = (min(counts) if remainder == "drop" else max(counts)) if equal else None

    def count(self, rank: int) -> int:
        """Batches ``rank`` yields (before empty batches are left out, without equal batches)."""
        return len(self.batches[rank]) if self.target is None else self.target

    def dropped(self, rank: int) -> int:
        """Samples of ``rank``'s batches past the equal count (never read)."""
        return sum(len(b) for b in self.batches[rank][self.count(rank):])

    def deal(self, rank: int, workers: int, w: int, consumed: Set[int], own: bool) -> List[Tuple[int, List[Pos], bool]]:
        """Worker ``w``'s batches: ``(number, positions, repeat)``, less the ``consumed`` ones; a
        rank's record deals what is left afresh, a worker's own record (``own``) keeps its deal.

        Example:
            >>> plan = BatchPlan([[Slice(0)]], [4], [[1, 1, 1, 1]], 2, None, 0, 0, False, "drop")
            >>> plan.deal(0, 2, 1, set(), False)
            [(1, [(0, 2), (0, 3)], False)]
        """
        mine = self.batches[rank]
        left = [b for b in range(self.count(rank)) if b not in consumed]
        picked = [b for b in left if b % workers == w] if own else left[w::workers]
        return [(b, mine[b % len(mine)], b >= len(mine)) for b in picked]


class Assembly(NamedTuple):
    """What one read of a worker's batches needs: the batches (``(number, positions, repeat)``),
    each position's place in the rank's stream, and the spare clip an empty batch takes (or None:
    an empty batch is left out)."""

    batches: List[Tuple[int, List[Pos], bool]]
    order: Dict[Pos, int]
    spare: Optional[Callable[[], Dict[str, Any]]]


def assemble(items: Iterable[Dict[str, Any]], job: Assembly,
             on_release: Callable[[int], None]) -> Iterator[Dict[str, Any]]:
    """Stream stage: ``items`` (the wanted positions, in stream order) -> the items of each batch
    of ``job``, batch after batch in its order, each marked ``__batch__``. A position is settled
    once an item at or past its place has arrived (a reader rejects a sample before it reads the
    next), so at most the items of batches not yet complete are held. ``on_release(number)`` runs
    once a batch's first item is taken, so that the counts it adds ride on that item's tag."""
    slot = {p: k for k, (_, members, _) in enumerate(job.batches) for p in members}
    queue = sorted(slot, key=job.order.__getitem__)
    left = [len(members) for _, members, _ in job.batches]
    got: List[List[Dict[str, Any]]] = [[] for _ in job.batches]
    state = {"next": 0, "j": 0}

    def release(final: bool) -> Iterator[Dict[str, Any]]:
        while state["next"] < len(job.batches) and (final or left[state["next"]] == 0):
            k = state["next"]
            state["next"] += 1
            number, _, repeat = job.batches[k]
            out, got[k] = got[k], []
            if not out and job.spare is not None:
                out = [dict(job.spare(), __repeat__=True)]
            for n, item in enumerate(out):
                item["__batch__"], item["__last__"] = number, n == len(out) - 1
                if repeat:
                    item["__repeat__"] = True
                yield item
                if n == 0:  # counted after the first item: its tag carries the counts (.progress)
                    on_release(number)

    for item in items:
        p = (item["__shard__"], item["__index__"])
        q = job.order.get(p)
        if q is None:
            continue
        j = state["j"]
        while j < len(queue) and job.order[queue[j]] <= q:
            k = slot[queue[j]]
            left[k] -= 1
            if queue[j] == p:
                got[k].append(item)
            j += 1
        state["j"] = j
        yield from release(False)
    yield from release(True)


def group(items: Iterable[Dict[str, Any]]) -> Iterator[List[Dict[str, Any]]]:
    """Stream stage: tagged items -> one list per batch, each ended by the item marked
    ``__last__`` (the mark removed). A batch goes out as soon as its last item comes, before the
    next batch's first is taken from the tag stage, which records an item as it yields it (a
    worker's state then holds whole batches only).

    Example:
        >>> [len(b) for b in group([{"__last__": False}, {"__last__": True}, {"__last__": True}])]
        [2, 1]
    """
    cur: List[Dict[str, Any]] = []
    for item in items:
        last = item.pop("__last__")
        cur.append(item)
        if last:
            yield cur
            cur = []
