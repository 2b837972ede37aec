"""Resume: what a pass consumed, and how a pass starts.

A state (``ds.state_dict()``) is the epoch plan's identity (:mod:`.plan`), the epoch, and the
:class:`Consumed` record of the pass: the samples delivered and the rejections counted with them
(so a resume neither delivers nor counts them again), and the count per worker. One record,
two recorders: ``ds.track(loader)`` records in the main process each batch as it hands it out
(scope "rank": any ``num_workers`` may resume it); inside a worker, the dataset records what that
worker yielded (scope "worker": ``torchdata``'s ``StatefulDataLoader`` saves and restores one
per worker, so it resumes with the same ``num_workers``).

A loaded state is taken by one pass: the next one the main process starts, or the one
:class:`Tracked` starts, which hands it to the pass's workers in a :class:`PassStart` (the copy of
the dataset each worker gets carries it). A plain loop over DataLoader workers cannot take it
once (its workers' copies are made where the main process does not see), and raises.
"""
from __future__ import annotations

import os
from collections import Counter, deque
from typing import TYPE_CHECKING, Any, Deque, Dict, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from torch.utils.data import get_worker_info

from ._plan import check_state
from ._progress import Provenance, hand_over, tags_of

if TYPE_CHECKING:
    from ._dataset import ShardedAudioDataset

STATE_FORMAT = "nnaudio_data.state/1"


class PassStart(NamedTuple):
    """What ``ds.track`` hands to the pass it starts (through the copies its workers get): the
    state it resumes (or None), whether it is tracked, and the chunk equal batches deal to
    workers (the batch size)."""

    resume: Optional[Consumed]
    tracked: bool
    chunk: int


class Tracked:
    """What :meth:`ShardedAudioDataset.track` returns: an iterable over ``batches`` that records
    each batch as consumed as it hands it out. ``len()`` and attributes are the wrapped loader's.

    Starting a pass, it checks the plan across ranks (with the loader's batch count) and hands the
    pass a :class:`PassStart` (the copies its workers get carry it): a loaded state (taken once),
    that the pass is tracked, and that equal batches deal whole batches to workers."""

    records_consumption = True  # DeviceLoader refuses to wrap it (see ShardedAudioDataset.track)

    def __init__(self, dataset: "ShardedAudioDataset", batches: Iterable[Any]):
        self.dataset, self.batches = dataset, batches

    def __iter__(self) -> Iterator[Any]:
        ds = self.dataset
        ds._workers_seen = getattr(self.batches, "num_workers", None) or 1
        size = getattr(self.batches, "batch_size", None)
        ds._verify(size, bool(getattr(self.batches, "drop_last", False)))
        resume, ds._resume = ds._resume, None
        chunk = size if isinstance(size, int) and size > 0 else 1
        ds._handoff, ds._record_epoch = PassStart(resume, True, chunk), resume.epoch if resume is not None else ds.epoch
        window = ds._workers_seen if ds.endless else None
        ds._record = (resume if resume is not None else Consumed(epoch=ds.epoch)).set_window(window)
        try:
            for k, batch in enumerate(self.batches):
                ds._handoff = None  # the pass has started: its workers hold their copy now
                hand_over(batch)  # the counts its tags carry, once (see .progress)
                ds._record.add(tags_of(batch))
                yield batch
        finally:
            ds._handoff = None

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        if name in ("dataset", "batches"):
            raise AttributeError(name)
        return getattr(self.batches, name)


def take_pass(ds: "ShardedAudioDataset") -> Tuple[int, bool, int, Optional["Consumed"]]:
    """(epoch, tracked, chunk, resume) of the pass starting here. A resume is taken once: in
    the main process the one pending (or handed off by ``track``); in a worker the one
    ``track`` handed off when it started this pass's workers (a persistent worker's later
    passes resume nothing)."""
    start, ds._handoff = ds._handoff, None
    if start is not None or get_worker_info() is None or ds._mode_pid != os.getpid():  # a persistent
        ds._mode, ds._mode_pid = start or PassStart(None, False, 1), os.getpid()  # worker keeps it
    epoch, resume = int(ds._cell[0]), None if start is None else start.resume
    tracked, chunk = ds._mode.tracked, ds._mode.chunk
    if get_worker_info() is None and start is None:
        resume, ds._resume = ds._resume, None
    elif start is None and ds._resume is not None:
        raise ValueError("a loaded state resumes through ds.track(loader) (or StatefulDataLoader): "
                         "a plain loop over DataLoader workers cannot take it once")
    return epoch, bool(tracked), max(1, chunk), resume


def state_of(ds: "ShardedAudioDataset") -> Dict[str, Any]:
    """``ds.state_dict()``."""
    scope = "rank" if get_worker_info() is None else "worker"
    if get_worker_info() is None:  # rejections of a tracked pass's workers that delivered nothing
        ds._inbox.total()
        for url, index in ds._inbox.settled:
            ds._record.indices.setdefault(url, set()).add(index)
        ds._record.dropped += ds._inbox.settled_dropped
        ds._inbox.settled.clear()
        ds._inbox.settled_dropped = 0
    epoch = ds._record.epoch if ds._record.window is not None else ds._record_epoch
    return {"format": STATE_FORMAT, "epoch": epoch, "seed": ds.seed,
            "plan": ds._identity(ds._world()[1]), "workers": ds._workers_seen, "scope": scope,
            "consumed": ds._record.state()}


def load_state(ds: "ShardedAudioDataset", state: Dict[str, Any]) -> None:
    """``ds.load_state_dict(state)``."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"state must be a dict with format {STATE_FORMAT!r} from state_dict()")
    if state["seed"] != ds.seed:
        raise ValueError(f"state was saved with seed={state['seed']}, this dataset has seed={ds.seed}")
    check_state(ds._identity(ds._world()[1]), state.get("plan"))
    resume = Consumed.from_state(state["consumed"], int(state["epoch"]))
    resume.set_window((state["workers"] or 1) if ds.endless else None)
    resume.scope, resume.epoch, resume.workers = state.get("scope", "worker"), int(state["epoch"]), state["workers"]
    if get_worker_info() is None:
        ds.set_epoch(resume.epoch)
        ds._resume, ds._record, ds._record_epoch = resume, resume, resume.epoch
    else:  # StatefulDataLoader restores each worker's own state in that worker
        if ds.endless:
            raise ValueError("an endless pass resumes through ds.track(loader): its workers' deal runs on "
                             "across epochs, which per-worker states (StatefulDataLoader) do not restore")
        ds._handoff = PassStart(resume, False, 1)


class Consumed:
    """Samples handed out this epoch: indices per shard URL, and counts per worker. ``scope`` says
    whose: "rank" (every worker's, recorded in the main process by ``track``) or "worker" (one
    worker's own, as ``StatefulDataLoader`` saves and restores them). Under batches by duration,
    also the numbers of the plan's batches handed out (``batches``).

    An endless pass (``window`` set: its worker count) records several epochs: the tags of epoch
    ``epoch`` here, those of later epochs in ``later``. Once the last ``window`` records (one per
    worker in turn, as the DataLoader hands batches out) are all past ``epoch``, no worker has any
    of it left: the next epoch's record takes its place, so a state holds one or two epochs."""

    def __init__(self, scope: str = "rank", epoch: int = 0, window: Optional[int] = None) -> None:
        self.indices: Dict[str, Set[int]] = {}
        self.per_worker: Counter = Counter()
        self.batches: Set[int] = set()
        self.scope = scope
        self.epoch = epoch
        self.workers: Optional[int] = None  # the num_workers of the run that saved it
        self.dropped = 0  # samples equal batches dropped, counted with the consumed batches
        self.window = window
        self.later: Dict[int, "Consumed"] = {}
        self._recent: Deque[int] = deque(maxlen=window or 1)

    def add(self, tags: Iterable[Provenance]) -> None:
        tags = list(tags)
        for t in tags:
            if self.window is not None and t.epoch != self.epoch:
                self.later.setdefault(t.epoch, Consumed(self.scope, t.epoch)).add([t])
                continue
            if not t.repeat:
                self.indices.setdefault(t.url, set()).add(t.index)
            self.per_worker[t.worker] += 1
            if t.batch >= 0:
                self.batches.add(t.batch)
            if t.delta is not None:
                self.dropped += t.delta.dropped
                for url, index in t.delta.rejected:
                    self.indices.setdefault(url, set()).add(index)
        if self.window is not None and tags:
            self._recent.append(min(t.epoch for t in tags))
            floor = min(self._recent)
            if len(self._recent) == self._recent.maxlen and floor > self.epoch:
                nxt = self.later.pop(floor, None) or Consumed(self.scope, floor)
                self.later = {e: c for e, c in self.later.items() if e > floor}
                self.indices, self.per_worker, self.batches = nxt.indices, nxt.per_worker, nxt.batches
                self.epoch, self.dropped = floor, nxt.dropped

    def set_window(self, window: Optional[int]) -> "Consumed":
        """Record an endless pass of ``window`` workers (None: one epoch)."""
        self.window, self._recent = window, deque(self._recent, maxlen=window or 1)
        return self

    def of_epoch(self, epoch: int) -> Optional["Consumed"]:
        """The record of ``epoch``: this one, or a later epoch's (None: nothing consumed)."""
        if epoch == self.epoch:
            return self
        part = self.later.get(epoch)
        if part is not None:
            part.scope, part.workers = self.scope, self.workers
        return part

    def __contains__(self, item: Tuple[str, int]) -> bool:
        url, index = item
        return index in self.indices.get(url, ())

    def state(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"indices": {u: _ranges(sorted(ix)) for u, ix in self.indices.items()},
                               "per_worker": {str(w): n for w, n in self.per_worker.items()}, "dropped": self.dropped}
        if self.batches:
            out["batches"] = _ranges(sorted(self.batches))
        if self.later:
            out["later"] = {str(e): c.state() for e, c in self.later.items()}
        return out

    @classmethod
    def from_state(cls, state: Dict[str, Any], epoch: int = 0) -> "Consumed":
        out = cls(epoch=epoch)
        out.indices = {u: {i for a, b in rs for i in range(a, b)} for u, rs in state["indices"].items()}
        out.per_worker = Counter({int(w): int(n) for w, n in state["per_worker"].items()})
        out.dropped = int(state.get("dropped", 0))
        out.batches = {i for a, b in state.get("batches", []) for i in range(int(a), int(b))}
        out.later = {int(e): cls.from_state(c, int(e)) for e, c in state.get("later", {}).items()}
        return out


def _ranges(ix: List[int]) -> List[List[int]]:
    """Sorted ints -> half-open runs: [0, 1, 2, 5] -> [[0, 3], [5, 6]]."""
    out: List[List[int]] = []
    for i in ix:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out
