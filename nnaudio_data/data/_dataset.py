"""ShardedAudioDataset: WebDataset tar shards of audio -> fixed-rate clips, split exactly once
over ranks and DataLoader workers, with equal batches per rank, stats and mid-epoch resume.

Each pass walks one epoch plan (:mod:`.split`: who reads what and each rank's target; :mod:`.plan`:
its identity, checked against a state and across ranks). Per worker, the stream is: its part of
the plan (:mod:`.split`) -> tar samples (:mod:`.tario`, skipping unowned and already consumed
samples unread) -> optional shuffle buffer -> items (:mod:`.samples`) -> optional length buckets
-> equal-count cut or top-up -> tags (:mod:`.progress`).

One rule for passes: a pass reads the epoch of the last ``set_epoch`` (0 before any), whatever
the loader (no workers, workers, persistent workers: the epoch travels in shared memory); a pass
resumes a loaded state once, the first pass after ``load_state_dict``.
"""
from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch.utils.data import IterableDataset, get_worker_info

from ._errors import EmptyEpochError, ErrorPolicy, SampleError
from .._checks import check_arg
from ._labels import LabelMap, map_labels, resolve_labels
from ._progress import Consumed, Inbox, LoaderStats, Provenance, hand_over, tags_of
from ._reorder import bucket_by_length, shuffle_buffer
from ._samples import READ_EXTENSIONS, ClipSpec, make_items
from ._decode import AUDIO_EXTENSIONS
from ._remote import DATASET_RETRY, Retry
from ._index import default_index_url, read_index_doc, sizes_for
from ._shards import count_samples, expand_urls
from ._sources import PipeStream, local_path, open_shard
from .._seed import generator
from ._plan import check_state, group_world, identity, verify_ranks
from ._split import Slice, dealer, epoch_order, equal_targets, equalise, owned, plan, rank_world, worker_id
from ._tario import open_tar, tar_samples

REMAINDERS = ("drop", "wrap")
AUDIO_SET = frozenset(AUDIO_EXTENSIONS)
_NEEDS_SIZES = ("equal_batches needs shard sizes, and remote shards without an index cannot be counted "
                "cheaply: add an index.json beside the shards (nnaudio-data shard / "
                "nnaudio_data.data.write_index), pass index= or count=True (reads every shard once, "
                "here), or set equal_batches=False")
STATE_FORMAT = "nnaudio_data.state/1"


class ShardedAudioDataset(IterableDataset):
    """Audio clips streamed from WebDataset tar shards, each delivered once per epoch.

    Args:
        urls (str | list[str]): shards: brace pattern, local glob, ``::`` list, or a list of them.
        sr (int): output sample rate; every clip is resampled to it.
        offset (int): samples (at ``sr``) skipped at the start of each clip. Default 0.
        length (int, optional): samples kept, zero-padding shorter clips; None keeps all (batches
            then pad to their longest clip). Default None.
        mono (bool): average channels to one. Default True.
        channels (int, optional): with ``mono=False``, the channel count every clip must have;
            others are skipped ("channels"). None: the first clip each worker delivers fixes it.
        crop (str): "start", "center" or "random" placement of the kept window. Default "start".
        min_length (int, optional): reject clips with fewer valid samples ("too_short").
        shuffle (bool | int): False keeps shard order; True reshuffles shards each epoch from
            (seed, epoch); an int n > 1 also mixes clips in a buffer of n. Default False.
        seed (int): root of every random draw. Default 0.
        on_error (str): "warn" (default), "skip" or "raise", for every rejected sample.
        silence (float, optional): reject clips whose peak is <= this ("silent"); None keeps
            them. Default 0.0 (digital silence only).
        require_label (bool): reject samples without a label member. Default False.
        index (str, optional): shard index JSON; default ``index.json`` beside the shards if any.
        count (bool): with no index, count the shards once here (reads every tar header).
        equal_batches (bool, optional): every rank delivers the same number of samples (and, with
            the same batch size, batches). Default: on when the world size is > 1.
        remainder (str): "drop" cuts every rank to the smallest rank's count, "wrap" tops every
            rank up to the largest by repeating clips. Default "drop".
        bucket (int, optional): sort windows of this many clips by length (see
            :func:`bucket_by_length`); use a multiple of the batch size.
        rank, world_size (int, optional): override what ``torch.distributed`` / torchrun say.
        labels (str | list[str]): "auto" (default) turns class names into int ids (multi-hot
            float tensors for multi-label corpora) when the index lists ``classes``; "raw" keeps
            labels as stored; a list of names maps by that list. See :mod:`.labels`.
        storage_options (dict, optional): for fsspec URLs (``s3://...``): passed to the backend,
            e.g. ``{"client_kwargs": {"endpoint_url": ...}}``. See :mod:`.objstore`.
        retry (Retry, optional): attempts, pauses and per-read timeout for remote shards. Default
            ``Retry(attempts=3, backoff=0.5, timeout=15)``: a stalled read gives up within 60 s
            in all (``retry.worst_case()``), and the shard becomes a counted "network" skip.

    Raises:
        ValueError: before the first batch, for a configuration that cannot work: an argument out
            of range, a local shard that does not exist, equal batches over remote shards that no
            index counts.
        EmptyEpochError: during an epoch in which this rank delivers no clip at all.

    Shape:
        item["waveform"]: (C, T), C = 1 when ``mono``, T = ``length`` when given.

    Example:
        >>> ds = ShardedAudioDataset("pipe:cat shards/a-{0..3}.tar", sr=16000, length=16000, shuffle=100)
        >>> ds
        ShardedAudioDataset(4 shards, sr=16000, length=16000, shuffle=100)
    """

    def __init__(self, urls: Union[str, Sequence[str]], sr: int, offset: int = 0,
                 length: Optional[int] = None, mono: bool = True, channels: Optional[int] = None,
                 crop: str = "start",
                 min_length: Optional[int] = None, shuffle: Union[bool, int] = False, seed: int = 0,
                 on_error: str = "warn", silence: Optional[float] = 0.0, require_label: bool = False,
                 index: Optional[str] = None, count: bool = False, equal_batches: Optional[bool] = None,
                 remainder: str = "drop", bucket: Optional[int] = None, rank: Optional[int] = None,
                 world_size: Optional[int] = None, labels: Union[str, Sequence[str]] = "auto",
                 storage_options: Optional[Dict[str, Any]] = None, retry: Optional[Retry] = None):
        super().__init__()
        self.spec = ClipSpec(sr, offset, length, mono, crop, min_length, silence, require_label, channels)
        check_arg(isinstance(shuffle, (bool, int)) and shuffle >= 0, "shuffle", "a bool or an int >= 0", shuffle)
        check_arg(remainder in REMAINDERS, "remainder", f"one of {REMAINDERS}", remainder)
        check_arg(bucket is None or (isinstance(bucket, int) and bucket >= 1), "bucket", "None or an int >= 1", bucket)
        check_arg((rank is None) == (world_size is None), "rank", "given together with world_size", rank)
        check_arg(rank is None or (world_size is not None and 0 <= rank < world_size), "rank",
               f"in [0, world_size={world_size})", rank)
        check_arg(retry is None or isinstance(retry, Retry), "retry", "None or a Retry", retry)
        ErrorPolicy(on_error)  # validates on_error
        self.retry = DATASET_RETRY if retry is None else retry
        self.storage_options = storage_options
        self.urls = expand_urls(urls, storage_options)
        missing = [u for u in self.urls if (p := local_path(u)) is not None and not os.path.isfile(p)]
        if missing:
            raise ValueError(f"urls: local shard {missing[0]!r} does not exist ({len(missing)} of "
                             f"{len(self.urls)} local shards missing)")
        self.shuffle, self.seed, self.on_error = shuffle, seed, on_error
        self.equal_batches, self.remainder, self.bucket = equal_batches, remainder, bucket
        self._explicit_rank = None if rank is None or world_size is None else (rank, world_size)
        self._rank_world = rank_world(self._explicit_rank)
        self.index = index
        self.label_map: Optional[LabelMap] = None
        self.sizes = self._load_sizes(index, count, labels)
        self._ensure_sizes()
        # the epoch, in shared memory: every worker (persistent ones too) reads the main
        # process's value at the start of each pass
        self._cell = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._inbox = Inbox()  # where the counts arrive: see .progress
        self._record = Consumed()  # what the current pass consumed: what state_dict saves
        self._record_epoch = 0
        self._resume: Optional[Consumed] = None  # loaded, not yet taken by a pass
        self._handoff: Optional[PassStart] = None  # for the pass ds.track is starting
        self._mode = PassStart(None, False, 1)  # tracked and chunk of this copy's passes
        self._mode_pid = os.getpid()  # the process that set it (a worker's copy sets its own)
        self._workers_seen: Optional[int] = None

    def _load_sizes(self, index: Optional[str], count: bool, labels: Any) -> Optional[List[int]]:
        where = index or default_index_url(self.urls)
        doc = read_index_doc(where, self.storage_options, self.retry) if where is not None else None
        self.label_map = resolve_labels(labels, doc)
        table = None if doc is None else doc["shards"]
        if table is None and index is not None:
            raise ValueError(f"index: no index file at {index!r}")
        if table is None and count:
            return [count_samples(u, self.retry, self.storage_options) for u in self.urls]
        return None if table is None else sizes_for(self.urls, table, where)

    def _ensure_sizes(self) -> None:
        """Equal batches plan with shard sizes: decide them here, in the main process (never in a
        worker). Local shards without an index are counted (headers only, seeking); remote ones
        cannot be counted cheaply, so that is a configuration error, raised now."""
        on = self._rank_world[1] > 1 if self.equal_batches is None else self.equal_batches
        if not on or self.sizes is not None:
            return
        if all(local_path(u) is not None for u in self.urls):
            self.sizes = [count_samples(u, self.retry) for u in self.urls]
            return
        raise ValueError(_NEEDS_SIZES)

    @property
    def classes(self) -> Optional[List[str]]:
        """Class names, a label id's name at its position; None when labels are not mapped."""
        return None if self.label_map is None else self.label_map.classes

    @property
    def stats(self) -> LoaderStats:
        """Delivered, skipped by reason, dropped and repeated counts of every pass so far, over all
        workers of this process (each rank has its own): what was handed over (``track``,
        ``DeviceLoader``) and the totals of the worker passes that ended (see :mod:`.progress`)."""
        return self._inbox.total()

    # -- epochs, ranks, lengths -------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return int(self._cell[0])

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next passes: shard order, shuffle buffer and crops derive from
        (seed, epoch). Every pass reads the epoch last set (0 before any call), under any loader
        setting; call it every epoch, as for DistributedSampler. Under a process group, the ranks
        check here that they share the epoch's plan (see :mod:`.plan`)."""
        self._cell[0] = int(epoch)
        if epoch != self._record_epoch:  # a record (and a loaded state) belongs to one epoch
            self._record, self._record_epoch, self._resume = Consumed(), int(epoch), None
        self._inbox.total()  # read the ended passes' counts now and then, so the pipe never fills
        self._world()  # the process group may have been initialised after construction
        self._ensure_sizes()
        self._verify()

    def _identity(self, world: int) -> Dict[str, Any]:
        return identity(self.urls, self.sizes, self.seed, self.shuffle, world, self._equal(world), self.remainder)

    def _verify(self, batch_size: Optional[int] = None, drop_last: bool = False) -> None:
        """Once per epoch, before the first batch: every rank must hold the same plan (and, under
        equal batches with the loader known, the same batch count)."""
        rank, world = self._world()
        if not _in_main() or group_world() != world:
            return
        mine = {**self._identity(world), "epoch": self.epoch}
        if batch_size and self._equal(world):
            total = equal_targets(self._rank_totals(self.epoch, world), 1, self.remainder)[0]
            mine["batches"] = total // batch_size if drop_last else -(-total // batch_size)
        verify_ranks(mine, world)

    def _world(self) -> Tuple[int, int]:
        """(rank, world size), asked of torch.distributed in the main process only: a worker
        (forked or spawned) uses what the main process last saw, and never touches the process
        group (forking a process that runs its threads is not safe to call into)."""
        if get_worker_info() is None:
            self._rank_world = rank_world(self._explicit_rank)
        return self._rank_world

    def _equal(self, world: int) -> bool:
        on = world > 1 if self.equal_batches is None else self.equal_batches
        if on and self.sizes is None:
            raise ValueError(_NEEDS_SIZES)
        return on

    def _known_sizes(self) -> List[int]:
        if self.sizes is None:
            raise ValueError(_NEEDS_SIZES)
        return self.sizes

    def _rank_totals(self, epoch: int, world: int) -> List[int]:
        sizes = self._known_sizes()
        order = epoch_order(len(self.urls), self.seed, epoch, bool(self.shuffle))
        slots = plan(len(self.urls), order, world, 1, sizes)
        return [sum(s.size(sizes) for s in slots[(r, 0)]) for r in range(world)]

    def __len__(self) -> int:
        """Samples this rank delivers per epoch (the index's counts, before rejections; exact under
        equal batches), less those already consumed after :meth:`load_state_dict`."""
        if self.sizes is None:
            raise TypeError("ShardedAudioDataset has no len() without shard sizes: add an index.json "
                            "beside the shards, pass index= or count=True")
        rank, world = self._world()
        totals = self._rank_totals(self.epoch, world)
        total = equal_targets(totals, 1, self.remainder)[0] if self._equal(world) else totals[rank]
        return total - (sum(self._resume.per_worker.values()) if self._resume is not None else 0)

    # -- the stream ---------------------------------------------------------------------------------
    def _take_pass(self) -> Tuple[int, bool, int, Optional[Consumed]]:
        """(epoch, tracked, chunk, resume) of the pass starting here. A resume is taken once: in
        the main process the one pending (or handed off by ``track``); in a worker the one
        ``track`` handed off when it started this pass's workers (a persistent worker's later
        passes resume nothing)."""
        start, self._handoff = self._handoff, None
        if start is not None or _in_main() or self._mode_pid != os.getpid():  # a persistent
            self._mode, self._mode_pid = start or PassStart(None, False, 1), os.getpid()  # worker keeps it
        epoch, resume = int(self._cell[0]), None if start is None else start.resume
        tracked, chunk = self._mode.tracked, self._mode.chunk
        if _in_main() and start is None:
            resume, self._resume = self._resume, None
        elif start is None and self._resume is not None:
            raise ValueError("a loaded state resumes through ds.track(loader) (or StatefulDataLoader): "
                             "a plain loop over DataLoader workers cannot take it once")
        return epoch, bool(tracked), max(1, chunk), resume

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        epoch, tracked, chunk, resume = self._take_pass()
        rank, world = self._world()
        if _in_main():
            self._ensure_sizes()
        w, workers = worker_id()
        n, equal = len(self.urls), self._equal(world)
        order = epoch_order(n, self.seed, epoch, bool(self.shuffle))
        share = plan(n, order, world, 1, self.sizes)[(rank, 0)]  # the whole rank's
        done = resume if resume is not None else Consumed()
        self._record, self._record_epoch = (Consumed(done.scope) if resume is None else resume), epoch
        policy = ErrorPolicy(self.on_error)
        policy.stats = LoaderStats()

        def fresh(shard: int) -> Callable[[int], bool]:
            return lambda i: (self.urls[shard], i) not in done
        if not equal:
            slices = plan(n, order, world, workers, self.sizes)[(rank, w)]
            keep = {s.shard: _sliced(s, fresh(s.shard)) for s in slices}
            items = self._items(slices, keep, policy, epoch, rank, w, checked=False)
            items = self._not_empty(items, share, epoch, rank, w)
            return self._tag(items, policy.stats, w, epoch, tracked)
        sizes = self._known_sizes()
        total = equal_targets(self._rank_totals(epoch, world), 1, self.remainder)[0]
        if total == 0:
            raise EmptyEpochError(f"epoch {epoch}: equal batches give every rank 0 clips "
                                  f"(remainder={self.remainder!r}, clips per rank "
                                  f"{self._rank_totals(epoch, world)}, shards {self._names(range(n))})")
        taken = sum(done.per_worker.values())
        if done.scope == "worker" and taken:  # StatefulDataLoader: this worker's own part, less its record
            if done.workers not in (None, workers):
                raise ValueError(f"resuming equal batches from per-worker states needs the same num_workers "
                                 f"as the saved state ({done.workers}), got {workers}")
            keep = {k: _both(f, fresh(k)) for k, f in dealer(share, sizes, workers, w, chunk).items()}
            target = owned(total, workers, w, chunk) - done.per_worker[w]
            expected = owned(_size(share, sizes), workers, w, chunk) - _n_done(share, sizes, self.urls, done)
        else:  # a fresh epoch, or the rest of a rank's epoch dealt to this pass's workers
            undone = None if not taken else (lambda k, i: (self.urls[k], i) in done)
            keep = dealer(share, sizes, workers, w, chunk, undone)
            target = owned(total - taken, workers, w, chunk)
            left = _size(share, sizes) - _n_done(share, sizes, self.urls, done)
            expected = owned(left, workers, w, chunk)
        again = ErrorPolicy("skip")
        items = self._items(share, keep, policy, epoch, rank, w)
        items = equalise(items, target, expected, policy.stats,
                         lambda: self._items(share, {s.shard: _sliced(s) for s in share}, again, epoch, rank, w),
                         lambda: self._empty_error(share, again, epoch, rank))
        return self._tag(items, policy.stats, w, epoch, tracked)

    def _not_empty(self, items: Iterable[Dict[str, Any]], share: List[Slice], epoch: int, rank: int,
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
            for _ in self._items(share, {s.shard: _sliced(s) for s in share}, scan, epoch, rank, w, checked=False):
                return
            raise self._empty_error(share, scan, epoch, rank)

    def _names(self, shards: Iterable[int]) -> str:
        names = [self.urls[i] for i in dict.fromkeys(shards)]
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    def _empty_error(self, share: List[Slice], scan: ErrorPolicy, epoch: int, rank: int) -> EmptyEpochError:
        shards = [s.shard for s in share]
        return EmptyEpochError(f"epoch {epoch}: rank {rank} delivers no clip: none of its "
                               f"{len(set(shards))} shard(s) ({self._names(shards) or 'none'}) holds a valid "
                               f"clip; skipped: {dict(scan.stats.skipped) or 'nothing'}")

    def _items(self, slices: List[Slice], keep: Dict[int, Callable[[int], bool]], policy: ErrorPolicy,
               epoch: int, rank: int, w: int, checked: bool = True) -> Iterator[Dict[str, Any]]:
        raw = self._raw(slices, keep, policy, checked)
        if self.shuffle is not True and self.shuffle > 1:
            raw = shuffle_buffer(raw, int(self.shuffle), generator(self.seed, epoch, rank, w, "shuffle"))
        items = map_labels(make_items(raw, self.spec, policy, self.seed, epoch), self.label_map, policy)
        if self.bucket:
            items = bucket_by_length(items, self.bucket)
        return items

    def _raw(self, slices: List[Slice], keep: Dict[int, Callable[[int], bool]], policy: ErrorPolicy,
             checked: bool = True) -> Iterator[Dict[str, Any]]:
        """Raw samples ``keep[shard](i)`` wants of the shards of ``slices``. With ``checked``,
        shards are held to their sizes (equal batches plan with them): a stale index is counted,
        never silent loss. An error of a whole shard is reported by the owner of its sample 0."""
        for s in slices:
            url, mine = self.urls[s.shard], keep[s.shard]
            try:
                f = open_shard(url, self.retry, self.storage_options)
            except SampleError as e:
                if mine(0):
                    policy.handle(e)
                continue
            size = self.sizes[s.shard] if checked and self.sizes is not None else None
            try:
                for sample in tar_samples(open_tar(f, url), url, policy, mine, READ_EXTENSIONS, size, AUDIO_SET):
                    sample["__shard__"] = s.shard
                    yield sample
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

    def _tag(self, items: Iterable[Dict[str, Any]], stats: LoaderStats, w: int, epoch: int,
             tracked: bool) -> Iterator[Dict[str, Any]]:
        """Attach :class:`Provenance` tags carrying the counts gathered since the previous one. Each
        item is held back until the next is made, so its tag also carries the rejections that
        follow it. Where the counts go follows the pass (tracked or not: see :mod:`.progress`)."""
        in_main, sent, held = _in_main(), LoaderStats(), None
        stream = int.from_bytes(os.urandom(8), "little")  # this pass of this worker
        for seq, item in enumerate(itertools.chain(items, [None])):
            if held is not None:
                held["info"].delta = stats.since(sent)
                if not (in_main and tracked):  # else ds.track records it as it hands it out
                    self._record.add((held["info"],))
                if in_main and not tracked:  # no hand-over will come: count it as it is made
                    self._inbox.receive(held["info"])
                yield held
            if item is not None:
                repeat = item.pop("__repeat__", False)
                stats.repeated += repeat
                stats.delivered += not repeat
                item.pop("__shard__", None)
                item["info"] = Provenance(item["url"], item.pop("__index__"), w, repeat, epoch=epoch,
                                          source=self._inbox.token, stream=stream, seq=seq)
            held = item
        if in_main:  # what no tag carried (a pass that delivered nothing)
            self._inbox.leftover(stats.minus(sent))
        else:
            self._inbox.mailbox.post((stream, stats.minus(sent) if tracked else stats, not tracked))

    # -- resume -------------------------------------------------------------------------------------
    def track(self, batches: Iterable[Any]) -> "Tracked":
        """Yield ``batches`` (a DataLoader over this dataset), recording each one as consumed when it
        is handed out; :meth:`state_dict` saves that record, and ``stats`` count those batches.

        ``track`` must be the outermost wrapper, the one whose batches the training loop takes:
        ``ds.track(nd.DeviceLoader(loader))``. A wrapper outside it that reads ahead would have
        batches recorded before they are used (lost on resume), so ``nd.DeviceLoader(ds.track(...))``
        raises TypeError."""
        return Tracked(self, batches)

    def state_dict(self) -> Dict[str, Any]:
        """The epoch plan's identity, its epoch and what the current pass consumed (delivered
        samples and the rejections counted with them), to resume mid-epoch: in the main process,
        what :meth:`track` recorded; inside a worker (``torchdata``'s ``StatefulDataLoader`` asks
        there), what that worker has yielded."""
        scope = "rank" if _in_main() else "worker"
        if _in_main():  # rejections of a tracked pass's workers that delivered nothing
            self._inbox.total()
            for url, index in self._inbox.settled:
                self._record.indices.setdefault(url, set()).add(index)
            self._inbox.settled.clear()
        return {"format": STATE_FORMAT, "epoch": self._record_epoch, "seed": self.seed,
                "plan": self._identity(self._world()[1]), "workers": self._workers_seen, "scope": scope,
                "consumed": self._record.state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resume: the next pass is ``state["epoch"]`` without the samples consumed before. The
        state must come from the same plan (shards, sizes, seed, shuffle, world size)."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"state must be a dict with format {STATE_FORMAT!r} from state_dict()")
        if state["seed"] != self.seed:
            raise ValueError(f"state was saved with seed={state['seed']}, this dataset has seed={self.seed}")
        check_state(self._identity(self._world()[1]), state.get("plan"))
        resume = Consumed.from_state(state["consumed"])
        resume.scope, resume.epoch, resume.workers = state.get("scope", "worker"), int(state["epoch"]), state["workers"]
        if _in_main():
            self.set_epoch(resume.epoch)
            self._resume, self._record, self._record_epoch = resume, resume, resume.epoch
        else:  # StatefulDataLoader restores each worker's own state in that worker
            self._handoff = PassStart(resume, False, 1)

    def __repr__(self) -> str:
        args = [f"{len(self.urls)} shards", self.spec.arguments()]
        for k, d in (("shuffle", False), ("seed", 0), ("on_error", "warn"), ("equal_batches", None),
                     ("remainder", "drop"), ("bucket", None)):
            if getattr(self, k) != d:
                args.append(f"{k}={getattr(self, k)!r}")
        return f"ShardedAudioDataset({', '.join(args)})"


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
        ds._record = resume if resume is not None else Consumed()
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


def _sliced(s: Slice, also: Optional[Callable[[int], bool]] = None) -> Callable[[int], bool]:
    """``keep(i)`` for the samples of slice ``s`` (that ``also`` keeps)."""
    return lambda i: i % s.step == s.start and (also is None or also(i))


def _both(a: Callable[[int], bool], b: Callable[[int], bool]) -> Callable[[int], bool]:
    return lambda i: a(i) and b(i)


def _size(share: List[Slice], sizes: Sequence[int]) -> int:
    return sum(s.size(sizes) for s in share)


def _n_done(share: List[Slice], sizes: Sequence[int], urls: List[str], done: Consumed) -> int:
    """Samples of ``share`` (within the planned sizes) that ``done`` holds."""
    return sum(1 for s in share for i in done.indices.get(urls[s.shard], ()) if i < sizes[s.shard]
               and i % s.step == s.start)


def _drain(f: Any, limit: int = 1 << 20) -> None:
    """Read what is left of a stream, up to ``limit`` bytes (past that, closing stops it)."""
    got = 0
    while got < limit:
        chunk = f.read(1 << 16)
        if not chunk:
            return
        got += len(chunk)


def _in_main() -> bool:
    import torch.utils.data

    return torch.utils.data.get_worker_info() is None
