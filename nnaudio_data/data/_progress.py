"""Provenance that travels with each sample, and how its counts reach ``dataset.stats``.

DataLoader workers hold copies of the dataset; what they count never reaches the main process by
itself, so it travels in the data. Each yielded sample carries a :class:`Provenance` tag under
``"info"``: its shard URL and index in the shard, the epoch, the worker that read it, whether it is
a top-up repeat, and ``delta``: the counts (delivered, skipped by reason, dropped, repeated) that
its worker pass gathered since the previous tag. A tag is a ``str`` (``"shard.tar#12"``), so
``default_collate`` keeps it as is in a list; unpickling one only rebuilds it.

The counts reach the inbox by one rule, **a pass counts what its loop consumed**:

- **A tracked pass** (``ds.track(loader)`` started it) counts the tags of the batches handed to
  the training loop: :func:`hand_over` (called by ``ds.track`` and ``nd.DeviceLoader`` as they hand
  each batch out) looks up the :class:`Inbox` that a tag names (its ``source``, a
  :class:`nnaudio_data._tokens.Token`) and merges the tag's delta, once per tag identity
  (``stream``, ``seq``: its pass and its place in it), so a batch unpickled or handed over twice
  counts once, and a batch a loader prefetched but nobody took counts nothing. The counts that no
  tag carries (those of a worker that delivered nothing) come at the pass's end through the
  inbox's :class:`Mailbox` (a pipe, read when ``ds.stats`` is read).
- **An untracked pass** (a plain ``for batch in loader``) has no hand-over: in the main process
  (``num_workers=0``) its tags are merged as they are made; a worker pass posts its total through
  the mailbox when it ends. A pass of a plain loop broken off mid-way therefore counts nothing of
  its workers' batches (``nd.DeviceLoader`` alone hands over what it took, and the end total is
  then not taken twice).

Why two ways, tags and the mailbox: only the batch tells the main process that the loop took it,
so counts that must follow consumption ride in it; the mailbox carries what no batch can (a
worker that delivered nothing; a plain loop, where no code of ours sees a batch: unpickling a tag
changes nothing). The mailbox may drop a record when full instead of blocking a worker whose
loop never reads it; per-batch counts through it could not.

A batch forwarded to another process carries its tags inertly: the token resolves only in the
process that made the dataset, so elsewhere :func:`hand_over` merges nothing.

``ds.track(loader)`` also reads the tags of each batch it hands out, as consumed (:mod:`._resume`).
"""
from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.context
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from torch.utils.data import get_worker_info

from .. import _tokens
from ._errors import SkipStats

_Record = Tuple[int, "LoaderStats", bool]  # (stream, counts, whether they are the pass's total)


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
    # (url, index) of the rejected samples these counts include: a resume does not read them again
    rejected: List[Tuple[str, int]] = field(default_factory=list, repr=False, compare=False)

    def merge(self, other: SkipStats) -> "LoaderStats":
        super().merge(other)
        self.repeated += getattr(other, "repeated", 0)
        self.dropped += getattr(other, "dropped", 0)
        self.rejected += getattr(other, "rejected", [])
        return self

    def as_dict(self) -> Dict[str, object]:
        return {**super().as_dict(), "repeated": self.repeated, "dropped": self.dropped}

    def minus(self, other: "LoaderStats") -> "LoaderStats":
        """The counts of ``self`` that ``other`` (an earlier state of the same counts) lacks."""
        return LoaderStats(self.delivered - other.delivered, self.skipped - other.skipped,
                           self.repeated - other.repeated, self.dropped - other.dropped,
                           self.rejected[len(other.rejected):])

    def since(self, sent: "LoaderStats") -> Optional["LoaderStats"]:
        """The counts gathered since ``sent`` was last brought up to date (None when nothing is
        new), and bring it up to date."""
        delta = self.minus(sent)
        if not (delta.delivered or delta.skipped or delta.repeated or delta.dropped):
            return None
        sent.merge(delta)
        return delta


class Mailbox:
    """A pipe from DataLoader workers to the main process, for the total of each worker pass.
    Travels to workers by inheritance only (fork or spawn); a copy pickled any other way (e.g.
    ``torch.save``) leaves it behind. Posting never blocks: were the pipe full (the main process
    reading neither ``stats`` nor ``set_epoch`` for hundreds of passes), a total is dropped, not
    the run; the passes' handed-over counts stay."""

    def __init__(self) -> None:
        reader, writer = multiprocessing.Pipe(duplex=False)
        self._reader: Optional[Any] = reader
        self._writer: Optional[Any] = writer

    def __getstate__(self) -> Dict[str, Any]:
        spawning = multiprocessing.context.get_spawning_popen() is not None
        return {"_reader": None, "_writer": self._writer if spawning else None}

    def post(self, record: _Record) -> None:
        if self._writer is None:
            return
        os.set_blocking(self._writer.fileno(), False)
        try:  # one small write (< PIPE_BUF): atomic even with several workers posting
            self._writer.send(record)
        except (BlockingIOError, BrokenPipeError):
            pass

    def receive(self) -> List[_Record]:
        out: List[_Record] = []
        while self._reader is not None and self._reader.poll():
            out.append(self._reader.recv())
        return out


class _Pass:
    """What an inbox has merged of one worker pass: its counts so far, the tag numbers seen (all
    below ``low``, and those in ``above``), and whether the pass's total has arrived."""

    def __init__(self) -> None:
        self.merged = LoaderStats()
        self.low = 0
        self.above: Set[int] = set()
        self.ended = False

    def first_time(self, seq: int) -> bool:
        if self.ended or seq < self.low or seq in self.above:
            return False
        self.above.add(seq)
        while self.low in self.above:  # batches arrive mostly in order: ``above`` stays small
            self.above.discard(self.low)
            self.low += 1
        return True


class Inbox:
    """Where a dataset's counts arrive in the process that owns it (see the module docstring).

    Example:
        >>> box = Inbox()
        >>> tag = Provenance("a.tar", 0, source=box.token, delta=LoaderStats(delivered=1), stream=7)
        >>> hand_over([{"info": tag}]); hand_over([{"info": tag}]); box.total().delivered
        1
    """

    def __init__(self) -> None:
        self.token = _tokens.register(self)
        self.stats = LoaderStats()
        self.mailbox = Mailbox()
        self._passes: Dict[int, _Pass] = {}
        self.settled: List[Tuple[str, int]] = []
        self.settled_dropped = 0

    def __getstate__(self) -> Dict[str, Any]:
        """A copy (in a worker) keeps the token and the way back, not the counts."""
        return {"token": self.token, "stats": LoaderStats(), "mailbox": self.mailbox, "_passes": {}, "settled": [],
                "settled_dropped": 0}

    def leftover(self, counts: LoaderStats) -> None:
        """Merge the counts of a tracked pass that no tag carried; their rejections wait in
        ``settled`` for the dataset's record (a resume must not read them again)."""
        self.stats.merge(counts)
        self.settled += counts.rejected
        self.settled_dropped += counts.dropped

    def receive(self, tag: "Provenance") -> None:
        """Merge ``tag``'s delta, once per (stream, seq)."""
        if tag.delta is None or tag.stream is None:
            return
        p = self._passes.setdefault(tag.stream, _Pass())
        if p.first_time(tag.seq):
            p.merged.merge(tag.delta)
            self.stats.merge(tag.delta)

    def total(self) -> LoaderStats:
        """The counts so far, with what the worker passes that ended posted: a tracked pass the
        counts no tag carried, an untracked one its total (less what hand-over merged of it)."""
        for stream, counts, is_total in self.mailbox.receive():
            p = self._passes.setdefault(stream, _Pass())
            if not is_total:
                self.leftover(counts)
            elif not p.ended:
                self.stats.merge(counts.minus(p.merged))
                p.ended, p.merged, p.above = True, LoaderStats(), set()
        return self.stats


class Provenance(str):
    """The tag of one delivered sample (see the module docstring).

    Args:
        url (str), index (int): the shard and the sample's place in it.
        worker (int): the DataLoader worker that read it (0 in the main process).
        repeat (bool): a top-up repeat of equal batches.
        epoch (int): the epoch of the pass.
        source (Token, optional): the :class:`Inbox` its counts go to.
        delta (LoaderStats, optional): the counts its pass gathered since the previous tag.
        stream (int, optional), seq (int): its worker pass and its number in that pass.
        batch (int): under batches by duration, the number of its batch in the rank's plan
            (:mod:`._batches`); -1 otherwise.

    Example:
        >>> p = Provenance("a.tar", 4, worker=1); p, p.index, p.worker, p.repeat
        ('a.tar#4', 4, 1, False)
    """

    url: str
    index: int  # type: ignore[assignment]  # the place in the shard: hides str.index, as it always has
    worker: int
    repeat: bool
    epoch: int
    source: Optional[_tokens.Token]
    delta: Optional[LoaderStats]
    stream: Optional[int]
    seq: int
    batch: int

    def __new__(cls, url: str, index: int, worker: int = 0, repeat: bool = False, *, epoch: int = 0,
                source: Optional[_tokens.Token] = None, delta: Optional[LoaderStats] = None,
                stream: Optional[int] = None, seq: int = 0, batch: int = -1) -> "Provenance":
        obj = super().__new__(cls, f"{url}#{index}" + ("+" if repeat else ""))
        obj.url, obj.index, obj.worker, obj.repeat, obj.epoch = url, index, worker, repeat, epoch
        obj.source, obj.delta, obj.stream, obj.seq, obj.batch = source, delta, stream, seq, batch
        return obj

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        # rebuilt from its fields by the constructor: nothing else happens when a tag is unpickled
        return (_rebuild, (self.url, self.index, self.worker, self.repeat, self.epoch, self.source, self.delta,
                           self.stream, self.seq, self.batch))


def _rebuild(url: str, index: int, worker: int, repeat: bool, epoch: int, source: Optional[_tokens.Token],
             delta: Optional[LoaderStats], stream: Optional[int], seq: int, batch: int = -1) -> Provenance:
    return Provenance(url, index, worker, repeat, epoch=epoch, source=source, delta=delta, stream=stream,
                      seq=seq, batch=batch)


def tags_of(batch: Any) -> List[Provenance]:
    """The tags in a batch: an ``AudioBatch`` (``.info``), a dict with ``"info"`` (default_collate),
    or a list of samples."""
    info = getattr(batch, "info", None)
    if info is None and isinstance(batch, dict):
        info = batch.get("info")
    if info is None and isinstance(batch, (list, tuple)):
        info = [s.get("info") for s in batch if isinstance(s, dict)]
    return [t for t in (info or []) if isinstance(t, Provenance)]


def hand_over(batch: Any) -> None:
    """Deliver the counts that ``batch``'s tags carry to their datasets' inboxes, in the process
    that owns them (elsewhere: nothing). Idempotent per tag; cheap when tags carry no counts."""
    for tag in tags_of(batch):
        if tag.delta is not None:
            inbox = _tokens.resolve(tag.source)
            if isinstance(inbox, Inbox):
                inbox.receive(tag)


def tag_stream(items: Iterable[Dict[str, Any]], stats: LoaderStats, w: int, epoch: int, tracked: bool,
               inbox: "Inbox", record: Callable[[Tuple[Provenance, ...]], None]) -> Iterator[Dict[str, Any]]:
    """Attach :class:`Provenance` tags carrying the counts gathered since the previous one. Each
    item is held back until the next is made, so its tag also carries the rejections that
    follow it. Where the counts go follows the pass (tracked or not: see the module docstring);
    ``record`` gets the tags a pass records itself (all but a tracked pass's in the main process)."""
    in_main, sent, held = get_worker_info() is None, LoaderStats(), None
    stream = int.from_bytes(os.urandom(8), "little")  # this pass of this worker
    for seq, item in enumerate(itertools.chain(items, [None])):
        if held is not None:
            held["info"].delta = stats.since(sent)
            if not (in_main and tracked):  # else ds.track records it as it hands it out
                record((held["info"],))
            if in_main and not tracked:  # no hand-over will come: count it as it is made
                inbox.receive(held["info"])
            yield held
        if item is not None:
            repeat = item.pop("__repeat__", False)
            stats.repeated += repeat
            stats.delivered += not repeat
            item.pop("__shard__", None)
            item["info"] = Provenance(item["url"], item.pop("__index__"), w, repeat, epoch=epoch,
                                      source=inbox.token, stream=stream, seq=seq, batch=item.pop("__batch__", -1))
        held = item
    if in_main:  # what no tag carried (a pass that delivered nothing)
        inbox.leftover(stats.minus(sent))
    else:
        inbox.mailbox.post((stream, stats.minus(sent) if tracked else stats, not tracked))
