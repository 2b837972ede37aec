"""ShardedAudioDataset: WebDataset tar shards of audio -> fixed-rate clips, split exactly once
over ranks and DataLoader workers, with equal batches per rank, stats and mid-epoch resume.

Each pass walks one epoch plan (:mod:`._assign`: who reads what and each rank's target;
:mod:`._batches`: its batches by duration; :mod:`._plan`: its identity, checked against a state and
across ranks), or, ``endless``, epoch after epoch (:mod:`._passes`). Per worker, the stream is: its
part of the plan -> tar samples (:mod:`._tar_samples`, skipping unowned and already consumed samples
unread) -> optional shuffle buffer -> items (:mod:`._samples`) -> optional length buckets (or
planned batches) -> equal-count cut or top-up -> tags (:mod:`._progress`).

One rule for passes: a pass reads the epoch of the last ``set_epoch`` (0 before any), whatever
the loader (no workers, workers, persistent workers: the epoch travels in shared memory); a pass
resumes a loaded state once, the first pass after ``load_state_dict``.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch.utils.data import IterableDataset, get_worker_info

from .._checks import check_arg
from .._repr import changed, simple_repr
from ._batches import NEEDS_LENGTHS, budget
from ._errors import ErrorPolicy
from ._index import default_index_url, lengths_for
from ._labels import LabelMap, resolve_labels
from ._plan import NEEDS_SIZES, count_local, fingerprint, group_world, identity, plan_sizes, verify_ranks
from ._passes import batch_plan, run_pass
from ._progress import Inbox, LoaderStats
from ._remote import DATASET_RETRY, Retry
from ._resume import Consumed, PassStart, Tracked, load_state, state_of, take_pass
from ._samples import ClipSpec
from ._shards import expand_urls
from ._open import local_path
from ._assign import equal_targets, rank_totals, rank_world
from ._tar_samples import MAX_SAMPLE_BYTES

REMAINDERS = ("drop", "wrap")

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
        index (str, optional): shard index JSON (its ``windows``: samples, :mod:`._windows`); default beside shards.
        count (bool): with no index, count the shards once here (reads every tar header).
        equal_batches (bool, optional): every rank delivers the same number of samples (and, with
            the same batch size, batches). Default: on when the world size is > 1.
        remainder (str): "drop" cuts every rank to the smallest rank's count, "wrap" tops every
            rank up to the largest by repeating clips. Default "drop".
        bucket (int, optional): sort windows of this many clips by length (see
            :func:`bucket_by_length`); use a multiple of the batch size. With ``max_samples``: the
            window the plan sorts and packs (see :mod:`._batches`).
        max_samples (int, optional), max_duration (float, optional): batches by duration, at most
            this many samples at ``sr`` (or seconds) per batch, padding included: the dataset yields
            lists of items (``DataLoader(ds, batch_size=None)``), planned from the index's lengths.
        endless (bool): a pass never ends: it walks epoch after epoch from the epoch set.
        rank, world_size (int, optional): override what ``torch.distributed`` / torchrun say.
        labels (str | list[str]): "auto" (default) turns class names into int ids (multi-hot
            float tensors for multi-label corpora) when the index lists ``classes``; "raw" keeps
            labels as stored; a list of names maps by that list. See :mod:`._labels`.
        storage_options (dict, optional): for fsspec URLs (``s3://...``): passed to the backend,
            e.g. ``{"client_kwargs": {"endpoint_url": ...}}``. See :mod:`._objstore`.
        retry (Retry, optional): attempts, pauses and per-read timeout for remote shards. Default
            ``Retry(attempts=3, backoff=0.5, timeout=15, min_rate=1024)``: a stalled read gives
            up within ``retry.worst_case()`` = 46.5 s, one slower than ``min_rate`` bytes/s within
            twice that, a silent ``pipe:`` command after ``timeout``; the shard becomes a counted
            "network" skip.
        max_sample_bytes (int, optional): the most bytes the members read from one sample may
            hold; a larger sample is a counted "too_large" skip, decided from the tar headers
            before reading. Default 512 MiB (:data:`~._tar_samples.MAX_SAMPLE_BYTES`); None: no bound
            but the 2 GiB a member may take.

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
                 storage_options: Optional[Dict[str, Any]] = None, retry: Optional[Retry] = None,
                 max_sample_bytes: Optional[int] = MAX_SAMPLE_BYTES, max_samples: Optional[int] = None,
                 max_duration: Optional[float] = None, endless: bool = False):
        super().__init__()
        self.clip = ClipSpec(sr, offset, length, mono, crop, min_length, silence, require_label, channels)
        check_arg(isinstance(shuffle, (bool, int)) and shuffle >= 0, "shuffle", "a bool or an int >= 0", shuffle)
        check_arg(remainder in REMAINDERS, "remainder", f"one of {REMAINDERS}", remainder)
        check_arg(bucket is None or (isinstance(bucket, int) and bucket >= 1), "bucket", "None or an int >= 1", bucket)
        check_arg((rank is None) == (world_size is None), "rank", "given together with world_size", rank)
        check_arg(rank is None or (world_size is not None and 0 <= rank < world_size), "rank",
               f"in [0, world_size={world_size})", rank)
        check_arg(retry is None or isinstance(retry, Retry), "retry", "None or a Retry", retry)
        check_arg(max_sample_bytes is None or (isinstance(max_sample_bytes, int) and max_sample_bytes > 0),
                  "max_sample_bytes", "None or an int > 0", max_sample_bytes)
        self.max_sample_bytes = max_sample_bytes
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
        self._rank_world, self.index = rank_world(self._explicit_rank), index
        self.sizes, doc, self.windows = plan_sizes(self.urls, index, count, storage_options, self.retry)
        self.max_samples = budget(max_samples, max_duration, sr, shuffle)
        check_arg(isinstance(endless, bool), "endless", "a bool", endless)
        self.lengths, self.endless = lengths_for(self.urls, doc), endless
        if self.max_samples is not None:
            self._known_lengths()  # batches by duration need the index's lengths: say so now
        self.label_map: Optional[LabelMap] = resolve_labels(labels, doc)
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

    def _ensure_sizes(self) -> None:
        """Equal batches plan with sizes: decided in the main process (see :mod:`._plan`)."""
        if self.sizes is None and (self._rank_world[1] > 1 if self.equal_batches is None else self.equal_batches):
            self.sizes = count_local(self.urls, self.retry)

    @property
    def classes(self) -> Optional[List[str]]:
        """Class names, a label id's name at its position; None when labels are not mapped."""
        return None if self.label_map is None else self.label_map.classes

    @property
    def stats(self) -> LoaderStats:
        """Delivered, skipped by reason, dropped and repeated counts of every pass so far, over all
        workers of this process (each rank has its own): what was handed over (``track``,
        ``DeviceLoader``) and the totals of the worker passes that ended (see :mod:`._progress`)."""
        return self._inbox.total()

    # -- epochs, ranks, lengths -------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return int(self._cell[0])

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next passes: shard order, shuffle buffer and crops derive from
        (seed, epoch). Every pass reads the epoch last set (0 before any call), under any loader
        setting; call it every epoch, as for DistributedSampler. Under a process group, the ranks
        check here that they share the epoch's plan (see :mod:`._plan`)."""
        self._cell[0] = int(epoch)
        if epoch != self._record_epoch:  # a record (and a loaded state) belongs to one epoch
            self._record, self._record_epoch, self._resume = Consumed(), int(epoch), None
        self._inbox.total()  # read the ended passes' counts now and then, so the pipe never fills
        self._world()  # the process group may have been initialised after construction
        self._ensure_sizes()
        self._verify()

    def _identity(self, world: int) -> Dict[str, Any]:
        out = identity(self.urls, self.sizes, self.seed, self.shuffle, world, self._equal(world), self.remainder,
                       self.windows)
        if self.max_samples is not None:  # the batches follow from these too
            out["batching"] = {"max_samples": self.max_samples, "bucket": self.bucket,
                               "lengths": fingerprint(self._known_lengths()), "clip": self.clip.arguments()}
        return {**out, "endless": True} if self.endless else out

    def _verify(self, batch_size: Optional[int] = None, drop_last: bool = False) -> None:
        """Once per epoch, before the first batch: every rank must hold the same plan (and, under
        equal batches with the loader known, the same batch count)."""
        if self.max_samples is not None and batch_size:  # (its batches follow from the identity)
            raise ValueError(f"batch_size must be None with max_samples / max_duration (the dataset yields "
                             f"whole batches): DataLoader(ds, batch_size=None, ...), got {batch_size}")
        rank, world = self._world()
        if get_worker_info() is not None or group_world() != world:
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
            raise ValueError(NEEDS_SIZES)
        return on

    def _known_sizes(self) -> List[int]:
        if self.sizes is None:
            raise ValueError(NEEDS_SIZES)
        return self.sizes

    def _known_lengths(self) -> List[List[List[int]]]:
        if self.lengths is None:
            raise ValueError(NEEDS_LENGTHS.format(where=repr(self.index or default_index_url(self.urls))))
        return self.lengths

    def _rank_totals(self, epoch: int, world: int) -> List[int]:
        return rank_totals(len(self.urls), self._known_sizes(), self.seed, epoch, bool(self.shuffle), world)

    def __len__(self) -> int:
        """Samples this rank delivers per epoch (the index's counts, before rejections; exact under
        equal batches), less those already consumed after :meth:`load_state_dict`."""
        if self.sizes is None:
            raise TypeError("ShardedAudioDataset has no len() without shard sizes: add an index.json "
                            "beside the shards, pass index= or count=True")
        rank, world = self._world()
        if self.endless:
            raise TypeError("ShardedAudioDataset(endless=True) has no len(): its passes never end")
        if self.max_samples is not None:  # batches (the DataLoader's len with batch_size=None)
            return batch_plan(self, self.epoch, world).count(rank) - len(getattr(self._resume, "batches", ()))
        totals = self._rank_totals(self.epoch, world)
        total = equal_targets(totals, 1, self.remainder)[0] if self._equal(world) else totals[rank]
        return total - (sum(self._resume.per_worker.values()) if self._resume is not None else 0)

    # -- the stream ---------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        epoch, tracked, chunk, resume = take_pass(self)
        if get_worker_info() is None:
            self._ensure_sizes()
        record = resume if resume is not None else Consumed(epoch=epoch)
        self._record, self._record_epoch = record.set_window(1 if self.endless else None), epoch  # one stream

        return run_pass(self, epoch, tracked, chunk, resume)

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
        return state_of(self)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resume: the next pass is ``state["epoch"]`` without the samples consumed before. The
        state must come from the same plan (shards, sizes, seed, shuffle, world size)."""
        load_state(self, state)

    def __repr__(self) -> str:
        shown = ("shuffle", "seed", "on_error", "equal_batches", "remainder", "bucket", "max_sample_bytes",
                 "max_samples", "endless")  # the clip's arguments come first, from self.clip
        return simple_repr(self, changed(self, {k: getattr(self, k) for k in shown}),
                           head=[f"{len(self.urls)} shards", self.clip.arguments()])
