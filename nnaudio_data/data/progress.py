"""Provenance that travels with each sample: what the main process learns from the workers.

DataLoader workers hold copies of the dataset; what they count never reaches the main process by
itself. So each yielded sample carries a :class:`Provenance` tag under ``"info"``: its shard URL
and index in the shard, the epoch, the worker that read it, whether it is a top-up repeat, the counts
(delivered, skipped by reason, dropped, repeated) the worker gathered since its previous sample.
When a batch is unpickled in the main process the tags hand their counts to the live dataset
(found by token, as collates are): that is ``dataset.stats``. A worker that delivers nothing
posts its counts through a :class:`Mailbox` instead. ``dataset.track(loader)`` reads the
tags of each batch it hands out: that is what ``state_dict`` saves as consumed.

A tag is a ``str`` (``"shard.tar#12"``), so ``default_collate`` keeps it as is in a list.
"""
from __future__ import annotations

import multiprocessing
import os
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from .errors import SkipStats

_LIVE: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()


@dataclass
class LoaderStats(SkipStats):
    """:class:`SkipStats` plus what equal batches cost: ``dropped`` samples never read and
    ``repeated`` top-up samples delivered a second time.

    Example:
        >>> s = LoaderStats(delivered=3, repeated=1); s.merge(LoaderStats(dropped=2)).as_dict()
        {'delivered': 3, 'skipped': {}, 'repeated': 1, 'dropped': 2}
    """

    repeated: int = 0
    dropped: int = 0

    def merge(self, other: SkipStats) -> "LoaderStats":
        super().merge(other)
        self.repeated += getattr(other, "repeated", 0)
        self.dropped += getattr(other, "dropped", 0)
        return self

    def as_dict(self) -> Dict[str, object]:
        return {**super().as_dict(), "repeated": self.repeated, "dropped": self.dropped}

    def since(self, sent: "LoaderStats") -> Optional["LoaderStats"]:
        """The counts gathered since ``sent`` was last brought up to date (None when nothing is
        new), and bring it up to date."""
        delta = LoaderStats(self.delivered - sent.delivered, self.skipped - sent.skipped,
                            self.repeated - sent.repeated, self.dropped - sent.dropped)
        if not (delta.delivered or delta.skipped or delta.repeated or delta.dropped):
            return None
        sent.merge(delta)
        return delta


class Mailbox:
    """A pipe from DataLoader workers to the main process for counts that no tag could carry (a
    worker that delivers nothing). Travels to workers by inheritance only (fork or spawn); a copy
    pickled any other way (e.g. ``torch.save``) leaves it behind. Posting never blocks: were the
    pipe full (the main process never reading ``stats``), the counts are dropped, not the run."""

    def __init__(self) -> None:
        self._reader, self._writer = multiprocessing.Pipe(duplex=False)

    def __getstate__(self) -> Dict[str, Any]:
        spawning = multiprocessing.context.get_spawning_popen() is not None
        return {"_reader": None, "_writer": self._writer if spawning else None}

    def post(self, stats: "LoaderStats") -> None:
        if self._writer is None:
            return
        os.set_blocking(self._writer.fileno(), False)
        try:  # one small write (< PIPE_BUF): atomic even with several workers posting
            self._writer.send(stats)
        except (BlockingIOError, BrokenPipeError):
            pass

    def drain(self, into: "LoaderStats") -> None:
        while self._reader is not None and self._reader.poll():
            into.merge(self._reader.recv())


def register(token: str, dataset: Any) -> None:
    """Make ``dataset`` the receiver of the counts of tags carrying ``token`` in this process."""
    _LIVE[token] = dataset


class Provenance(str):
    """The tag of one delivered sample (see the module docstring).

    Example:
        >>> p = Provenance("a.tar", 4, worker=1); p, p.index, p.worker, p.repeat
        ('a.tar#4', 4, 1, False)
    """

    def __new__(cls, url: str, index: int, worker: int = 0, repeat: bool = False, token: str = "",
                delta: Optional[LoaderStats] = None, pid: Optional[int] = None, epoch: int = 0):
        obj = super().__new__(cls, f"{url}#{index}" + ("+" if repeat else ""))
        obj.url, obj.index, obj.worker, obj.repeat, obj.epoch = url, index, worker, repeat, epoch
        obj.token, obj.delta = token, delta
        obj.pid = os.getpid() if pid is None else pid
        return obj

    def __reduce__(self):
        return (_arrive, (self.url, self.index, self.worker, self.repeat, self.token, self.delta, self.pid,
                          self.epoch))


def _arrive(url, index, worker, repeat, token, delta, pid, epoch) -> Provenance:
    """Unpickle a tag; in a process other than the one that made it, hand its counts over once."""
    tag = Provenance(url, index, worker, repeat, token, delta, pid, epoch)
    if delta is not None and pid != os.getpid():
        dataset = _LIVE.get(token)
        if dataset is not None:
            dataset.stats.merge(delta)
            tag.delta = None
    return tag


def tags_of(batch: Any) -> List[Provenance]:
    """The tags in a batch: an ``AudioBatch`` (``.info``), a dict with ``"info"`` (default_collate),
    or a list of samples."""
    info = getattr(batch, "info", None)
    if info is None and isinstance(batch, dict):
        info = batch.get("info")
    if info is None and isinstance(batch, (list, tuple)):
        info = [s.get("info") for s in batch if isinstance(s, dict)]
    return [t for t in (info or []) if isinstance(t, Provenance)]


class Consumed:
    """Samples handed out this epoch: indices per shard URL, and counts per worker. ``scope`` says
    whose: "rank" (every worker's, recorded in the main process by ``track``) or "worker" (one
    worker's own, as ``StatefulDataLoader`` saves and restores them)."""

    def __init__(self, scope: str = "rank") -> None:
        self.indices: Dict[str, set] = {}
        self.per_worker: Counter = Counter()
        self.scope = scope

    def add(self, tags: Iterable[Provenance]) -> None:
        for t in tags:
            if not t.repeat:
                self.indices.setdefault(t.url, set()).add(t.index)
            self.per_worker[t.worker] += 1

    def __contains__(self, item) -> bool:
        url, index = item
        return index in self.indices.get(url, ())

    def state(self) -> Dict[str, Any]:
        return {"indices": {u: _ranges(sorted(ix)) for u, ix in self.indices.items()},
                "per_worker": {str(w): n for w, n in self.per_worker.items()}}

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> "Consumed":
        out = cls()
        out.indices = {u: {i for a, b in rs for i in range(a, b)} for u, rs in state["indices"].items()}
        out.per_worker = Counter({int(w): int(n) for w, n in state["per_worker"].items()})
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
