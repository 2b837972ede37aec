"""One worker's pass: the epoch plan walked for one epoch, or epoch after epoch (``endless``).

A pass of one worker, for one epoch: its part of the plan (:mod:`._assign`; under batches by duration
its batches, :mod:`._batches`), the rest of a resumed epoch less what the state consumed, the
stream (:mod:`._stream`), the equal-count cut or top-up (:func:`~.reorder.equalise`), and tags
(:mod:`._progress`). An endless pass (``endless=True``) walks epochs ``e, e + 1, ...`` back to back,
each epoch tagged as a pass of its own (its counts and its record are that epoch's). The deal of
batches (or chunks) to workers goes on from one epoch to the next, so workers stay in step (a
worker may get nothing in one epoch and its turn in the next); a worker that gets nothing for
:data:`IDLE_EPOCHS` epochs in a row ends (a stream of nothing would never yield).
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

from ._batches import Assembly, BatchPlan, assemble, extents, group
from ._errors import EmptyEpochError, ErrorPolicy
from ._progress import LoaderStats, tag_stream
from ._reorder import equalise
from ._resume import Consumed
from ._assign import Slice, epoch_order, equal_targets, plan, sliced, worker_id, worker_part
from ._stream import clips, empty_error, names, not_empty
from ._windows import unit_lengths

if TYPE_CHECKING:
    from ._dataset import ShardedAudioDataset

IDLE_EPOCHS = 16  # an endless worker given no clip for this many epochs in a row ends


def run_pass(ds: "ShardedAudioDataset", epoch: int, tracked: bool, chunk: int,
             resume: Optional[Consumed]) -> Iterator[Any]:
    """This worker's pass from ``epoch``: items (or, under batches by duration, lists of items)."""
    rank, world = ds._world()
    w, workers = worker_id()
    turn, idle = [0], 0  # turn: batches (or chunks) the earlier epochs of this pass dealt: this
    for e in (itertools.count(epoch) if ds.endless else [epoch]):  # epoch's deal goes on from there
        policy = ErrorPolicy(ds.on_error)
        policy.stats = stats = LoaderStats()
        part = None if resume is None else resume.of_epoch(e)
        mine = epoch_items(ds, e, rank, world, (w - turn[0]) % workers, workers, chunk, part, policy, turn)
        items = tag_stream(mine, stats, w, e, tracked, ds._inbox, ds._record.add)
        outs: Iterator[Any] = group(items) if ds.max_samples is not None else items
        n = 0
        for n, out in enumerate(outs, 1):
            yield out
        idle = 0 if n else idle + 1
        if idle == IDLE_EPOCHS:
            return


def epoch_items(ds: "ShardedAudioDataset", epoch: int, rank: int, world: int, w: int, workers: int, chunk: int,
                resume: Optional[Consumed], policy: ErrorPolicy, turn: List[int]) -> Iterator[Dict[str, Any]]:
    """This worker's items of one epoch (untagged), less what ``resume`` consumed; ``w`` is its
    place in the deal, and ``turn[0]`` grows by the batches (or chunks) the rank deals."""
    n, equal = len(ds.urls), ds._equal(world)
    order = epoch_order(n, ds.seed, epoch, bool(ds.shuffle))
    share = plan(n, order, world, 1, ds.sizes)[(rank, 0)]  # the whole rank's
    done = None if resume is None else (lambda k, i: (ds.urls[k], i) in resume)
    if ds.max_samples is not None:
        return by_duration(ds, epoch, share, rank, world, w, workers, resume, policy, turn)
    if not equal:
        part = worker_part(share, plan(n, order, world, workers, ds.sizes)[(rank, w)], None, workers, w, done=done)
        items = clips(ds, part.slices, part.keep, policy, epoch, rank, w)
        return not_empty(ds, items, share, epoch, rank, w)
    totals = ds._rank_totals(epoch, world)
    total = equal_targets(totals, 1, ds.remainder)[0]
    if total == 0:
        raise _nothing(ds, epoch, totals)
    taken, own = (0, None) if resume is None else (sum(resume.per_worker.values()), None)
    if resume is not None and resume.scope == "worker" and taken:  # StatefulDataLoader: its own deal
        _same_workers(resume, workers)
        taken, own = 0, resume.per_worker[w]
    part = worker_part(share, share, ds.sizes, workers, w, total, chunk, done, taken, own,
                       0 if resume is None else resume.dropped)
    turn[0] += -(-(total - taken) // chunk)
    again = ErrorPolicy("skip")
    return equalise(clips(ds, share, part.keep, policy, epoch, rank, w), part.target, part.expected, policy.stats,
                    lambda: clips(ds, share, {s.shard: sliced(s) for s in share}, again, epoch, rank, w),
                    lambda: empty_error(ds.urls, share, again, epoch, rank))


def batch_plan(ds: "ShardedAudioDataset", epoch: int, world: int) -> BatchPlan:
    """Every rank's batches by duration for ``epoch`` (see :mod:`._batches`), over the plan's units:
    clips, or the windows a windowed index cuts recordings into, each measured by its own length."""
    sizes, lengths = ds._known_sizes(), ds._known_lengths()
    order = epoch_order(len(ds.urls), ds.seed, epoch, bool(ds.shuffle))
    slots = plan(len(ds.urls), order, world, 1, sizes)
    ext = extents(unit_lengths(lengths, ds.windows), ds.clip.sr, ds.clip.offset, ds.clip.length)  # per unit
    assert ds.max_samples is not None
    return BatchPlan([slots[(r, 0)] for r in range(world)], sizes, ext, ds.max_samples, ds.bucket, ds.seed, epoch,
                     ds._equal(world), ds.remainder)


def by_duration(ds: "ShardedAudioDataset", epoch: int, share: List[Slice], rank: int, world: int, w: int,
                workers: int, resume: Optional[Consumed], policy: ErrorPolicy,
                turn: List[int]) -> Iterator[Dict[str, Any]]:
    """This worker's batches by duration of one epoch, as items marked with their batch; ``share``
    is the rank's part of the epoch's plan."""
    bp = batch_plan(ds, epoch, world)
    sizes = ds._known_sizes()
    if bp.target == 0:
        raise _nothing(ds, epoch, [len(b) for b in bp.batches])
    own = resume is not None and resume.scope == "worker" and bool(resume.batches)
    if resume is not None and own:
        _same_workers(resume, workers)
    done = (lambda k, i: False) if resume is None else (lambda k, i: (ds.urls[k], i) in resume)
    if bp.target is not None and not bp.batches[rank]:  # "wrap" with nothing of its own to repeat
        raise empty_error(ds.urls, share, ErrorPolicy("skip"), epoch, rank)
    consumed = set() if resume is None else resume.batches
    mine = bp.deal(rank, workers, w, consumed, own)
    turn[0] += bp.count(rank) - len(consumed)
    fresh = [(b, [p for p in ps if not done(*p)], False) for b, ps, rep in mine if not rep]
    order_of = {p: q for q, p in enumerate(bp.streams[rank])}
    spare = _spare(ds, share, epoch, rank, w) if bp.target is not None else None
    last, dropped = (bp.count(rank) - 1, bp.dropped(rank)) if bp.target is not None else (-1, 0)

    stats = policy.stats
    assert isinstance(stats, LoaderStats)  # (run_pass gives every pass one)

    def released(number: int) -> None:
        if number == last:
            stats.dropped += dropped

    wanted = {p for _, ps, _ in fresh for p in ps}
    keep = _keep(share, sizes, wanted, workers, w, done)
    out = assemble(clips(ds, share, keep, policy, epoch, rank, w), Assembly(fresh, order_of, spare), released)
    rounds: Dict[int, List[Any]] = {}
    for b, ps, rep in mine:  # "wrap": repeats, one read of the shards per round of the rank's batches
        if rep:
            rounds.setdefault(b // len(bp.batches[rank]), []).append((b, ps, True))
    again = ErrorPolicy("skip")
    for job in rounds.values():
        want = {p for _, ps, _ in job for p in ps}
        more = clips(ds, share, _keep(share, sizes, want, workers, w, None, past=False), again, epoch, rank, w)
        out = itertools.chain(out, assemble(more, Assembly(job, order_of, spare), released))
    return out if bp.target is not None else not_empty(ds, out, share, epoch, rank, w)


def _keep(share: List[Slice], sizes: List[int], wanted: set, workers: int, w: int, done: Any,
          past: bool = True) -> Dict[int, Any]:
    """shard -> ``keep(i)``: the ``wanted`` positions, and (``past``) samples past a shard's size
    (a stale index: rejected unread) by turn, as :func:`~.split.dealer` deals them."""
    out: Dict[int, Any] = {}
    for s in share:
        n = sizes[s.shard]

        def keep(i: int, s: Slice = s, n: int = n, prev: Any = out.get(s.shard)) -> bool:
            if (s.shard, i) in wanted or (prev is not None and prev(i)):
                return True
            return past and i >= n and i % s.step == s.start and ((i - s.start) // s.step) % workers == w \
                and not (done is not None and done(s.shard, i))
        out[s.shard] = keep
    return out


def _spare(ds: "ShardedAudioDataset", share: List[Slice], epoch: int, rank: int, w: int) -> Any:
    """The clip an empty batch takes under equal batches: the rank's first valid clip, read once
    when first needed; EmptyEpochError when the rank has none."""
    held: List[Dict[str, Any]] = []

    def get() -> Dict[str, Any]:
        if not held:
            scan = ErrorPolicy("skip")
            first = next(iter(clips(ds, share, {s.shard: sliced(s) for s in share}, scan, epoch, rank, w)), None)
            if first is None:
                raise empty_error(ds.urls, share, scan, epoch, rank)
            held.append(first)
        return dict(held[0])
    return get


def _same_workers(resume: Consumed, workers: int) -> None:
    if resume.workers not in (None, workers):
        raise ValueError(f"resuming equal batches from per-worker states needs the same num_workers "
                         f"as the saved state ({resume.workers}), got {workers}")


def _nothing(ds: "ShardedAudioDataset", epoch: int, totals: List[int]) -> EmptyEpochError:
    return EmptyEpochError(f"epoch {epoch}: equal batches give every rank 0 clips (remainder="
                           f"{ds.remainder!r}, clips per rank {totals}, shards {names(ds.urls, range(len(ds.urls)))})")
