"""Who reads what: shards split across ``torch.distributed`` ranks, then across DataLoader workers.

A *slice* ``(shard, step, start)`` is the samples of one shard whose index ``i`` in it satisfies
``i % step == start``. The split is two-level so that a rank's share never depends on its worker
count: the epoch's shard list is cut into one part per rank, then each rank's part into one part
per worker, by :func:`assign`. With at least as many slices as parts, whole slices are dealt out
(balanced by size when sizes are known, largest first, else round robin); with fewer, every part
takes one slice and parts sharing a slice keep every k-th sample of it. Either way every sample
lands in exactly one part.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple, overload

import torch

from .._seed import generator


class Slice(NamedTuple):
    """Samples ``i`` of shard number ``shard`` (in the dataset's URL list) with ``i % step == start``."""

    shard: int
    step: int = 1
    start: int = 0

    @overload
    def size(self, sizes: Sequence[int]) -> int: ...

    @overload
    def size(self, sizes: Optional[Sequence[int]]) -> Optional[int]: ...

    def size(self, sizes: Optional[Sequence[int]]) -> Optional[int]:
        """Samples in the slice, or None when the shard size is unknown."""
        return None if sizes is None else len(range(self.start, sizes[self.shard], self.step))


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> List[int]:
    """Shard order for an epoch: identity, or a permutation drawn from (seed, epoch) alone, so that
    every rank and worker computes the same one."""
    if not shuffle:
        return list(range(n))
    return torch.randperm(n, generator=generator(seed, epoch, 0, 0, "shard_order")).tolist()


def assign(slices: Sequence[Slice], parts: int, sizes: Optional[Sequence[int]] = None) -> List[List[Slice]]:
    """Cut ``slices`` into ``parts`` lists that hold every sample exactly once.

    Example:
        >>> assign([Slice(0), Slice(1), Slice(2)], 2)
        [[Slice(shard=0, step=1, start=0), Slice(shard=2, step=1, start=0)], [Slice(shard=1, step=1, start=0)]]
        >>> assign([Slice(0)], 2)
        [[Slice(shard=0, step=2, start=0)], [Slice(shard=0, step=2, start=1)]]
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    m = len(slices)
    if m == 0:
        return [[] for _ in range(parts)]
    if m < parts:
        out = []
        for p in range(parts):
            s = slices[p % m]
            k = len(range(p % m, parts, m))  # parts sharing this slice
            out.append([Slice(s.shard, s.step * k, s.start + s.step * (p // m))])
        return out
    if sizes is None or parts == 1:
        return [list(slices[p::parts]) for p in range(parts)]
    out = [[] for _ in range(parts)]
    load = [0] * parts
    for s in sorted(slices, key=lambda s: -s.size(sizes)):  # stable: ties keep epoch order
        p = min(range(parts), key=lambda q: (load[q], q))
        out[p].append(s)
        load[p] += s.size(sizes)
    return out


def rank_world(explicit: Optional[Tuple[int, int]] = None) -> Tuple[int, int]:
    """(rank, world size): ``explicit`` if given, else the initialised process group, else the
    RANK / WORLD_SIZE environment variables torchrun sets, else (0, 1)."""
    if explicit is not None:
        return explicit
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if "WORLD_SIZE" in os.environ:
        return int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    return 0, 1


def worker_id() -> Tuple[int, int]:
    """(worker id, workers) of the DataLoader worker running this code; (0, 1) in the main process."""
    info = torch.utils.data.get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


def plan(n_shards: int, order: Sequence[int], world: int, workers: int,
         sizes: Optional[Sequence[int]], mix: bool = False) -> Dict[Tuple[int, int], List[Slice]]:
    """Slices of every (rank, worker) for one epoch, from the shard ``order`` of that epoch; within
    a rank by :func:`assign`, or by :func:`interleave` when ``mix`` (needs ``sizes``)."""
    if len(order) != n_shards:
        raise ValueError(f"order must list {n_shards} shards, got {len(order)}")
    if mix and sizes is None:
        raise ValueError("plan: mix=True (equal batches) needs the shard sizes, got sizes=None")
    ranks = split_ranks([Slice(i) for i in order], world, sizes)
    def split(part: List[Slice]) -> List[List[Slice]]:
        return interleave(part, workers, sizes) if mix and sizes is not None else assign(part, workers, sizes)
    return {(r, w): part for r, rank_slices in enumerate(ranks) for w, part in enumerate(split(rank_slices))}


def rank_totals(n_shards: int, sizes: Sequence[int], seed: int, epoch: int, shuffle: bool, world: int) -> List[int]:
    """Samples in each rank's share of an epoch's plan, by the ``sizes`` it plans with.

    Example:
        >>> rank_totals(2, [1, 100], seed=0, epoch=0, shuffle=False, world=3)
        [34, 34, 33]
    """
    slots = plan(n_shards, epoch_order(n_shards, seed, epoch, shuffle), world, 1, sizes)
    return [sum(s.size(sizes) for s in slots[(r, 0)]) for r in range(world)]


def split_ranks(slices: Sequence[Slice], world: int, sizes: Optional[Sequence[int]]) -> List[List[Slice]]:
    """Cut the epoch's shards into one part per rank. With sizes unknown, by :func:`assign`. With
    sizes known, whole shards balanced by size when that leaves the rank totals within
    ``max(1, total // (20 * world))`` of each other (equal batches then lose at most 5 %);
    otherwise (fewer shards than ranks, or very uneven sizes such as 1 and 100) the samples
    themselves are dealt by :func:`interleave`, so rank
    totals differ by at most one and equal batches drop or repeat almost nothing. Each rank then
    reads every shard, seeking past (or, on a pipe, reading and dropping) the others' samples.

    Example:
        >>> [sum(s.size([1, 100]) for s in part) for part in split_ranks([Slice(0), Slice(1)], 3, [1, 100])]
        [34, 34, 33]
    """
    if sizes is None or world == 1:
        return assign(slices, world, sizes)
    if len(slices) >= world:
        whole = assign(slices, world, sizes)
        loads = [sum(s.size(sizes) for s in part) for part in whole]
        if max(loads) - min(loads) <= max(1, sum(loads) // (20 * world)):
            return whole
    return interleave(slices, world, sizes)


def interleave(slices: Sequence[Slice], workers: int, sizes: Sequence[int]) -> List[List[Slice]]:
    """Deal the samples of ``slices``, taken as one stream in order, to ``workers`` in turn: worker
    ``w`` gets stream positions ``p`` with ``p % workers == w``. Each worker's count then depends
    only on the stream's length, which equal batches need (each worker reads every shard of the
    rank, skipping the bytes of the samples it does not own).

    Example:
        >>> interleave([Slice(0), Slice(1)], 2, sizes=[3, 2])
        [[Slice(shard=0, step=2, start=0), Slice(shard=1, step=2, start=1)], [Slice(shard=0, step=2, start=1), Slice(shard=1, step=2, start=0)]]
    """
    out: List[List[Slice]] = [[] for _ in range(workers)]
    pos = 0
    for s in slices:
        for w in range(workers):
            out[w].append(Slice(s.shard, s.step * workers, s.start + s.step * ((w - pos) % workers)))
        pos += s.size(sizes)
    return out


def owned(n: int, workers: int, w: int, chunk: int = 1) -> int:
    """How many of stream positions ``0 .. n-1`` worker ``w`` of ``workers`` owns when positions
    are dealt in chunks of ``chunk``: positions ``p`` with ``(p // chunk) % workers == w``.

    Example:
        >>> [owned(20, 2, w, 8) for w in range(2)], [owned(20, 1, 0, 8)]
        ([12, 8], [20])
    """
    full, rest = divmod(n, chunk * workers)
    return full * chunk + min(chunk, max(0, rest - w * chunk))


def dealer(share: Sequence[Slice], sizes: Sequence[int], workers: int, w: int, chunk: int = 1,
           done: Optional[Callable[[int, int], bool]] = None) -> Dict[int, Callable[[int], bool]]:
    """Worker ``w``'s samples of a rank's ``share`` under equal batches: the share's samples taken
    as one stream in order (less those ``done(shard, i)`` says a resumed epoch consumed), dealt to
    the workers in chunks of ``chunk`` positions, as :func:`owned` counts them. With ``chunk`` the
    batch size, every worker but one yields whole batches, so a rank yields the same batches
    whatever its worker count. Samples past a shard's size (a stale index, rejected unread) go to
    the worker of their turn. Returns shard -> ``keep(i)``.

    Example:
        >>> keep = dealer([Slice(0), Slice(1)], [3, 2], 2, 1, chunk=2)
        >>> [i for i in range(3) if keep[0](i)], [i for i in range(2) if keep[1](i)]
        ([2], [0])
    """
    out: Dict[int, Callable[[int], bool]] = {}
    pos = 0
    for s in share:
        n = sizes[s.shard]
        keep: Callable[[int], bool]
        if done is None:
            def dealt(i: int, s: Slice = s, base: int = pos, n: int = n) -> bool:
                if i % s.step != s.start:
                    return False
                turn = base + (i - s.start) // s.step if i < n else (i - s.start) // s.step * chunk
                return (turn // chunk) % workers == w
            keep = dealt
            pos += s.size(sizes)
        else:  # a resume: deal what is left, position by position
            mine = set()
            for i in range(s.start, n, s.step):
                if not done(s.shard, i):
                    if (pos // chunk) % workers == w:
                        mine.add(i)
                    pos += 1
            def left(i: int, s: Slice = s, mine: Set[int] = mine, n: int = n,
                     done: Callable[[int, int], bool] = done) -> bool:
                past = i >= n and i % s.step == s.start and ((i - s.start) // s.step) % workers == w \
                    and not done(s.shard, i)
                return i in mine or past
            keep = left
        out[s.shard] = _chain(out.get(s.shard), keep)
    return out


def _chain(first: Optional[Callable[[int], bool]], then: Callable[[int], bool]) -> Callable[[int], bool]:
    """A shard can appear in a rank's share once per slice: keep what either slice keeps."""
    return then if first is None else (lambda i: first(i) or then(i))


def equal_targets(per_rank: Sequence[int], workers: int, policy: str) -> Tuple[int, List[int]]:
    """Samples every rank delivers under equal batches, and how that splits over its workers.

    ``policy`` "drop" takes the smallest rank's count, "wrap" the largest. The per-worker split
    depends only on the rank total and the worker count (as :func:`interleave` does), so every
    rank yields the same number of samples from each worker, hence the same batches in the same
    order; and each worker only cuts ("drop") or only tops up ("wrap").

    Example:
        >>> equal_targets([10, 7], 2, "drop"), equal_targets([10, 7], 2, "wrap")
        ((7, [4, 3]), (10, [5, 5]))
    """
    total = min(per_rank) if policy == "drop" else max(per_rank)
    return total, [len(range(w, total, workers)) for w in range(workers)]


class Part(NamedTuple):
    """One worker's part of an epoch plan for one pass: the ``slices`` it opens, ``keep[shard](i)``
    for the samples it reads, and under equal batches the items it yields (``target``) and the
    planned samples it reads (``expected``: what it does not deliver or reject is dropped)."""

    slices: List[Slice]
    keep: Dict[int, Callable[[int], bool]]
    target: int = 0
    expected: int = 0


def worker_part(share: List[Slice], slices: List[Slice], sizes: Optional[Sequence[int]], workers: int, w: int,
                total: Optional[int] = None, chunk: int = 1, done: Optional[Callable[[int, int], bool]] = None,
                taken: int = 0, own: Optional[int] = None, dropped: int = 0) -> Part:
    """Worker ``w``'s :class:`Part` of its rank's ``share``, less the samples ``done(shard, i)``
    says a resumed epoch consumed.

    Without equal batches (``total`` None): its ``slices`` (:func:`plan`). With equal batches,
    ``total`` the rank's target: the share dealt in chunks (:func:`dealer`); a rank's record
    (``taken`` items consumed) deals the rest to this pass's workers, whatever their count; a
    worker's own record (``own`` items, as StatefulDataLoader restores one per worker) keeps the
    deal it was saved with. ``dropped``: what the record's batches already counted as dropped
    (taken off what this pass may drop).

    Example:
        >>> p = worker_part([Slice(0)], [Slice(0)], [5], 2, 1, total=5, chunk=2)
        >>> [i for i in range(5) if p.keep[0](i)], p.target, p.expected
        ([2, 3], 2, 2)
    """
    def fresh(k: int) -> Callable[[int], bool]:
        return lambda i: done is None or not done(k, i)
    if total is None:
        return Part(slices, {s.shard: sliced(s, fresh(s.shard)) for s in slices})
    assert sizes is not None  # equal batches plan with sizes
    n_done = 0 if done is None else sum(1 for s in share for i in range(s.start, sizes[s.shard], s.step)
                                        if done(s.shard, i))
    rank_size = sum(s.size(sizes) for s in share) - dropped
    if own is not None:
        keep = {k: _both(f, fresh(k)) for k, f in dealer(share, sizes, workers, w, chunk).items()}
        return Part(share, keep, owned(total, workers, w, chunk) - own, owned(rank_size, workers, w, chunk) - n_done)
    keep = dealer(share, sizes, workers, w, chunk, done if taken else None)
    return Part(share, keep, owned(total - taken, workers, w, chunk), owned(rank_size - n_done, workers, w, chunk))


def sliced(s: Slice, also: Optional[Callable[[int], bool]] = None) -> Callable[[int], bool]:
    """``keep(i)`` for the samples of slice ``s`` (that ``also`` keeps)."""
    return lambda i: i % s.step == s.start and (also is None or also(i))


def _both(a: Callable[[int], bool], b: Callable[[int], bool]) -> Callable[[int], bool]:
    return lambda i: a(i) and b(i)
