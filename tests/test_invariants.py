"""The streaming guarantees, checked on random worlds (model-based, hypothesis).

A *world* is a set of real tar shards (uneven sizes, bad members at random positions, an index that
is right, absent or stale), a rank count (ranks simulated in one process by ``rank=``/``world_size=``;
real gloo ranks in ``test_invariants_gloo``), DataLoader worker processes, shuffle, buckets, equal
batches with either remainder, epochs, and a resume at batch k with another worker count through
``ds.track(loader)`` or ``ds.track(nd.DeviceLoader(loader))``. Also: a different ``num_workers``
per rank, persistent workers, repeated passes over one dataset with and without ``set_epoch``, a
second loader over the same dataset left open, a saved state offered to another shard list and
world size (refused), and tar breaks (a cut inside a member or a header, a hostile size field in
the pax header webdataset writes before each member or in the member's own header, garbage where
a header should be) under a right, stale or absent index. A *windowed* world (``cuts``)
cuts its recordings into windows through the index (fixed windows, segments, whole clips, none,
and windows past a recording's end): every window is a sample of the plan, and the invariant
below holds over windows (its index is right; a break loses the windows of the recordings it cuts
off, each counted: the index promises them), batched by count or by duration (each window measured
by its own length: every batch's clips times its longest stay within the budget).

The oracle computes what it expects from the drawn world alone (never from the package's planning
functions): which samples survive a break, what the plan promises, and which clips exist.

Invariant, per epoch, over all ranks (``tally`` below):
  * delivered ∪ skipped (by reason) ∪ dropped = every sample of the shards, each once; plus the
    samples an index (or, under equal batches, a header count) promises that a shard lacks or
    holds past a break, counted once: with sizes, the plan holds every shard to them;
  * a delivered clip is a good clip, delivered once (over ranks, workers and the resumed run);
  * repeats only under equal batches: under "wrap", or under "drop" to replace rejected clips
    (never more than the rank's skips);
  * with equal batches, every rank yields the same number of batches;
  * every pass reads the epoch set last (passes without ``set_epoch`` repeat it);
  * no exception but :class:`EmptyEpochError`, and that only when the good clips the other ranks
    did not deliver are at most what they dropped (the raising ranks own no good clip), or when
    equal batches give every rank 0 clips.
Every run is bounded by the DataLoader ``timeout`` and the pytest-wide one: only a hang reaches them.
"""
import io
import json
import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import pytest
import soundfile as sf
import webdataset as wds
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data._gather import gather_objects
from nnaudio_data.data._progress import tags_of

pytestmark = pytest.mark.filterwarnings("ignore")

SR = 8000
# NND_NO_SHRINK=1 reports a failing world as drawn (shrinking slow worlds can take minutes)
PHASES = [Phase.explicit, Phase.generate] if os.environ.get("NND_NO_SHRINK") else list(Phase)
DRAWN = Counter()  # worlds drawn, by test (reported at the end of the module's run)

# bad member kinds -> what the sample holds (each a rejection under warn/skip)
BAD = {
    "decode": {"wav": b"RIFF\x00\x00garbage" * 10},
    "empty": {"flac": b""},
    "no_audio": {"cls": b"1"},
    "silent": None,  # built below: a valid WAV of zeros
    "bad_rate": None,  # a WAV whose header says 0 Hz
}


# "size": the first header of the sample's first member (the pax header webdataset writes);
# "member_size": that member's own header, after it
BREAKS = ("member", "header", "size", "member_size", "garbage")


def _wav(x: np.ndarray, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _bad(kind: str) -> Dict[str, bytes]:
    if kind == "silent":
        return {"wav": _wav(np.zeros(200))}
    if kind == "bad_rate":
        data = bytearray(_wav(np.full(200, 0.2)))
        pos = data.index(b"fmt ") + 12
        data[pos:pos + 4] = b"\0\0\0\0"
        return {"wav": bytes(data)}
    return dict(BAD[kind])


@dataclass
class World:
    shards: List[List[Optional[str]]]  # per shard, per sample: None (a good clip) or a bad kind
    index: str  # "yes", "none", "stale"
    stale: Tuple[int, int]  # (shard, delta) of a stale index
    world: int
    workers: int
    workers_after: int
    shuffle: object
    bucket: Optional[int]
    equal: Optional[bool]
    remainder: str
    epochs: int
    batch: int
    resume: Optional[int]  # batches consumed before the resume; None: no resume
    wrapper: str  # "track", "device" (ds.track(nd.DeviceLoader(loader))) or "stateful" (torchdata)
    on_error: str
    seed: int
    uneven: bool = False  # rank r uses (workers + r) % 3 workers
    persistent: bool = False
    passes: int = 1  # passes over one dataset and loader
    set_epoch: bool = True  # set_epoch(epoch + pass) before each pass; else every pass is `epoch`
    second: bool = False  # a second tracked loader over the dataset, one batch taken, left open
    foreign: bool = False  # offer the saved state to another shard list and world size
    breaks: Tuple[Tuple[int, int, str], ...] = ()  # (shard, sample, kind) of tar breaks
    cuts: Tuple[int, ...] = ()  # windowed: per recording in turn, cycled: -1 whole, else its windows
    past: bool = False  # windowed: every third recording cut into segments gets one past its end too
    budget: Optional[int] = None  # max_samples: batches by duration (the index records lengths)
    steps: Optional[int] = None  # endless=True: batches each rank takes (across a resume), then stops


def worlds(max_shards=6, max_size=14, big=40, max_world=3, max_workers=2):
    sample = st.one_of(st.none(), st.none(), st.none(), st.sampled_from(sorted(BAD)))
    size = st.one_of(st.integers(0, max_size), st.sampled_from([1, big]))
    shard = size.flatmap(lambda n: st.lists(sample, min_size=n, max_size=n))
    return st.builds(
        World, shards=st.lists(shard, min_size=1, max_size=max_shards),
        index=st.sampled_from(["yes", "none", "stale"]),
        stale=st.tuples(st.integers(0, 100), st.sampled_from([-4, -1, 2, 4])),
        world=st.integers(1, max_world), workers=st.integers(0, max_workers),
        workers_after=st.integers(0, max_workers), shuffle=st.sampled_from([False, True, 4]),
        bucket=st.sampled_from([None, 4]), equal=st.sampled_from([None, False, True]),
        remainder=st.sampled_from(["drop", "wrap"]), epochs=st.integers(1, 2), batch=st.integers(1, 3),
        resume=st.one_of(st.none(), st.integers(0, 3), st.just(1000)),
        wrapper=st.sampled_from(["track", "device", "stateful"]), on_error=st.sampled_from(["skip", "warn"]),
        seed=st.integers(0, 3), uneven=st.booleans(), persistent=st.booleans(), passes=st.integers(1, 2),
        set_epoch=st.booleans(), second=st.booleans(), foreign=st.booleans(),
        breaks=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100), st.sampled_from(BREAKS)),
                        max_size=2).map(tuple),
        cuts=st.one_of(st.just(()), st.just(()), st.lists(st.integers(-1, 3), min_size=1, max_size=4).map(tuple)),
        past=st.booleans(),
        budget=st.sampled_from([None, None, 160, 500, 900]), steps=st.sampled_from([None, None, None, 9]))


@dataclass
class Truth:
    """What the drawn world holds, computed from the world itself."""

    urls: List[str]
    index: Optional[List[int]]  # the counts the index gives; None: no index
    counted: List[int]  # what reading the headers counts (sizes without an index)
    seen: List[int]  # per shard: the samples a reader meets (before a break, plus the one it breaks)
    good: set  # deliverable clips {(shard, index)}: good and before any break
    members: Optional[List[int]] = None  # windowed: recordings per shard (the others count windows)


def _break(path: str, s: int, j: int, kind: str, samples: List[Optional[str]]) -> Tuple[int, int]:
    """Break shard ``path`` at sample ``j``; return (the sample lost, what a header count sees).
    A break between members (in a header, or a size in an extended header: the member's name
    lies past it) right after a sample without audio loses that sample instead (the reader cannot
    tell it was whole, nor see that a sample began)."""
    import tarfile

    with tarfile.open(path) as t:
        members = [m for m in t.getmembers() if m.name.split(".", 1)[0] == f"k{s}_{j}"]
    first = members[0]
    data = bytearray(open(path, "rb").read())
    at = first.offset if kind != "member_size" else first.offset_data - 512  # (tarfile: the first header)
    extended = data[at + 156:at + 157] in (b"x", b"L")
    if kind == "member" and max(m.size for m in members) == 0:
        kind = "header"
    if kind == "member":
        m = max(members, key=lambda m: m.size)
        del data[m.offset_data + max(1, m.size // 2):]
    elif kind == "header":
        del data[first.offset + 100:]
    elif kind == "garbage":
        data[first.offset:first.offset + 512] = b"\xab" * 512
    else:  # a size field past the end of the file, with a valid checksum
        head = bytearray(data[at:at + 512])
        head[124:136] = b"%011o\0" % (len(data) * 2)
        head[148:156] = b" " * 8
        head[148:156] = b"%06o\0 " % sum(head)
        data[at:at + 512] = head
    with open(path, "wb") as f:
        f.write(bytes(data))
    boundary = kind in ("header", "garbage") or (kind in ("size", "member_size") and extended)
    lost = j - 1 if boundary and j > 0 and samples[j - 1] == "no_audio" else j
    return lost, (j if boundary else j + 1)


def _cut(w: World, uid: int, n: int) -> Tuple[object, int, int]:
    """Recording ``uid`` (``n`` frames) of a windowed world: (its index entry, windows inside it,
    windows past its end). Window sizes in frames at SR; the oracle's own arithmetic."""
    c = w.cuts[uid % len(w.cuts)]
    if c < 0:
        return None, 1, 0
    if uid % 2 == 0:  # fixed: 32-frame windows every 32 frames (n >= 150: all inside)
        return {"window": 32 / SR, "hop": 32 / SR, "last": "drop", "n": c}, c, 0
    segs = [[32 * j / SR, (32 * j + 64) / SR] for j in range(c)]
    extra = int(w.past and uid % 3 == 0)
    segs += [[(n + 10) / SR, (n + 40) / SR]] * extra
    return {"segments": segs}, c, extra


def build(root: str, w: World) -> Truth:
    """Write the shards (an empty one is a tar without members), break some, write the index."""
    if w.cuts:
        return _build_windowed(root, w)
    urls, real, good, uid = [], [], set(), 0
    for s, samples in enumerate(w.shards):
        url = os.path.join(root, f"w-{s:03d}.tar")
        with wds.TarWriter(url) as tw:
            for i, kind in enumerate(samples):
                level = 0.05 + 0.4 * ((uid % 13) + 1) / 14
                body = _bad(kind) if kind else {"wav": _wav(level * np.ones(150 + uid % 5 * 20)), "cls": uid}
                tw.write({"__key__": f"k{s}_{i}", **body})
                if kind is None:
                    good.add((s, i))
                uid += 1
        urls.append(url)
        real.append(len(samples))
    seen, counted = list(real), list(real)
    broken = set()
    for s, j, kind in w.breaks:
        s = s % len(urls)
        if real[s] == 0 or s in broken:
            continue  # one break per shard, in a shard with samples
        broken.add(s)
        lost, counted[s] = _break(urls[s], s, j % real[s], kind, w.shards[s])
        seen[s] = lost + 1
        good = {(a, i) for a, i in good if a != s or i < lost}
    index = list(real)
    if w.index == "stale":
        s, d = w.stale[0] % len(real), w.stale[1]
        index[s] = max(0, index[s] + d)
    if w.index != "none":
        # each clip's [frames, rate] (a bad member's: any bounded pair), as many as the index counts
        lengths = {os.path.basename(u): [[150 + (sum(map(len, w.shards[:s])) + i) % 5 * 20, SR] for i in range(n)]
                   for s, (u, n) in enumerate(zip(urls, index))}
        with open(os.path.join(root, "index.json"), "w") as f:
            json.dump({"format": "nnaudio_data.index/1", "lengths": lengths,
                       "shards": {os.path.basename(u): n for u, n in zip(urls, index)}}, f)
    return Truth(urls, index if w.index != "none" else None, counted, seen, good)


def _build_windowed(root: str, w: World) -> Truth:
    """A windowed world: a right index with each recording's windows and its ``[frames, rate]``
    (what batches by duration measure windows with), breaks as :func:`build` makes them; the truth counts windows (a window inside a good recording before any break is a
    good clip; every window is met: the index promises those past a break)."""
    urls, units, good, table, lengths, uid = [], [], set(), {}, {}, 0
    for s, samples in enumerate(w.shards):
        url = os.path.join(root, f"w-{s:03d}.tar")
        entries, u = [], 0
        lengths[os.path.basename(url)] = [[150 + (uid + i) % 5 * 20, SR] for i in range(len(samples))]
        with wds.TarWriter(url) as tw:
            for i, kind in enumerate(samples):
                n = 150 + uid % 5 * 20
                level = 0.05 + 0.4 * ((uid % 13) + 1) / 14
                body = _bad(kind) if kind else {"wav": _wav(level * np.ones(n)), "cls": uid}
                tw.write({"__key__": f"k{s}_{i}", **body})
                entry, inside, past = _cut(w, uid, n)
                entries.append(entry)
                if kind is None:
                    good.update((s, u + k, i) for k in range(inside))
                u += inside + past
                uid += 1
        urls.append(url)
        units.append(u)
        table[os.path.basename(url)] = entries
    broken = set()
    for s, j, kind in w.breaks:
        s = s % len(urls)
        if w.shards[s] and s not in broken:
            broken.add(s)
            lost = _break(urls[s], s, j % len(w.shards[s]), kind, w.shards[s])[0]
            good = {(a, u, i) for a, u, i in good if a != s or i < lost}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"format": "nnaudio_data.index/1", "windows": table, "lengths": lengths,
                   "shards": {os.path.basename(u): len(s) for u, s in zip(urls, w.shards)}}, f)
    return Truth(urls, list(units), list(units), list(units), {(s, u) for s, u, _ in good},
                 [len(s) for s in w.shards])


def _loader(ds, workers, batch, context=None, persistent=False):
    return DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=nd.collate_audio,
                      timeout=120 if workers else 0, multiprocessing_context=context if workers else None,
                      persistent_workers=bool(persistent and workers))


def _wrap(ds, loader, how):
    return ds.track(nd.DeviceLoader(loader, device="cpu") if how == "device" else loader)


@dataclass
class RankRun:
    batches: int
    delivered: List[Tuple[str, int]]  # (url, index) of non-repeat clips, over both runs
    repeated: List[Tuple[str, int]]
    skipped: Counter  # of the run that finished the epoch
    dropped: int
    tally: int  # delivered + skipped + dropped, with a resumed run's consumed part
    dropped_before: int = 0  # what equal batches dropped before a resume (ds.track's record)


def dist_rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_initialized() else 0


def _saved_dropped(state) -> int:
    """Samples equal batches dropped that the dataset states inside ``state`` record."""
    if isinstance(state, dict):
        if state.get("format") == "nnaudio_data.state/1":
            return int(state["consumed"].get("dropped", 0))
        return sum(_saved_dropped(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(_saved_dropped(v) for v in state)
    return 0


def _saved_indices(state) -> int:
    """Samples (delivered or rejected) that the dataset states inside ``state`` record."""
    if isinstance(state, dict):
        if state.get("format") == "nnaudio_data.state/1":
            return sum(b - a for rs in state["consumed"]["indices"].values() for a, b in rs)
        return sum(_saved_indices(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(_saved_indices(v) for v in state)
    return 0


def _bs(w: World) -> Optional[int]:
    """The DataLoader's batch_size: None under batches by duration (the dataset yields batches)."""
    return None if w.budget else w.batch


def _shuffle(w: World):
    return bool(w.shuffle) if w.budget else w.shuffle  # a clip buffer is refused with a budget


class Pass:
    """The batches of one pass of one rank, and the checks every batch gets."""

    def __init__(self, epoch, each_batch, budget=None, endless=False):
        self.epoch, self.each_batch, self.budget, self.endless = epoch, each_batch, budget, endless
        self.delivered, self.repeated, self.batches = [], [], 0
        self.epochs = []  # endless: (epoch, (run, worker), url, index, repeat) of every clip, in order
        self.run = 0  # endless: 1 once resumed (another loader: its workers are other workers)

    def take(self, b):
        self.batches += 1
        if self.budget is not None:  # padding included; a clip longer than the budget goes alone
            assert b.waveform.shape[0] * b.waveform.shape[-1] <= self.budget or b.waveform.shape[0] == 1
        for t in tags_of(b):
            if self.endless:
                self.epochs.append((t.epoch, (self.run, t.worker), t.url, t.index, t.repeat))
                continue
            assert t.epoch == self.epoch, f"a pass read epoch {t.epoch}, the epoch set is {self.epoch}"
            (self.repeated if t.repeat else self.delivered).append((t.url, t.index))
        if self.each_batch:
            self.each_batch()


def run_endless(ds, make, w: World, epoch: int, workers: int, each_batch, context) -> "Pass":
    """An endless pass: ``w.steps`` batches, cut at ``w.resume`` batches and resumed from the state
    in a new dataset and loader (another worker count) when drawn; the batches' clips in order."""
    p = Pass(epoch, each_batch, w.budget, endless=True)
    cut = w.steps if w.resume is None else min(w.resume, w.steps)
    it = iter(ds.track(_loader(ds, workers, _bs(w), context)))
    for _ in range(cut):
        p.take(next(it))
    del it
    if cut < w.steps:
        state = json.loads(json.dumps(ds.state_dict()))
        ds = make()
        ds.load_state_dict(state)
        it = iter(ds.track(_loader(ds, w.workers_after, _bs(w), context)))
        p.run = 1
        for _ in range(w.steps - cut):
            p.take(next(it))
        del it
    return p


def run_rank(urls, w: World, rank: Optional[int], epoch: int, each_batch=None, context=None) -> List[RankRun]:
    """One rank's passes (``rank=None``: the rank torch.distributed gives); ``each_batch()`` runs
    after every batch (a collective, under gloo). The first pass may be cut and resumed."""
    world = w.world
    # (equal batches whatever each rank's num_workers: through ds.track, which sees the batch size)
    uneven = w.uneven and w.wrapper != "stateful"
    me = rank if rank is not None else (dist_rank() if uneven else 0)
    workers = (w.workers + me) % 3 if uneven else w.workers

    def make(shards=urls, world_size=world):
        return nd.ShardedAudioDataset(shards, sr=SR, rank=rank, world_size=None if rank is None else world_size,
                                      shuffle=_shuffle(w), seed=w.seed, on_error=w.on_error, equal_batches=w.equal,
                                      remainder=w.remainder, bucket=w.bucket, max_samples=w.budget,
                                      endless=w.steps is not None)

    ds = make()
    ds.set_epoch(epoch)
    if w.steps is not None:
        return [run_endless(ds, make, w, epoch, workers, each_batch, context)]
    held = None
    # another loader over the dataset, left open meanwhile (not with a resume: a state is the
    # record of the pass started last, which would be this one until the resumed run starts)
    if w.second and rank is not None and w.resume is None:
        held = iter(ds.track(_loader(ds, 0, _bs(w))))
        next(held, None)
    base = ds.stats.as_dict()
    first = Pass(epoch, each_batch)
    consumed = consumed_repeats = 0
    tally_before = dropped_before = 0
    if w.wrapper == "stateful":  # torchdata: each worker's state, so the same num_workers after
        sdl = pytest.importorskip("torchdata.stateful_dataloader")
        n = max(1, workers)
        loader = sdl.StatefulDataLoader(ds, batch_size=_bs(w), num_workers=n, collate_fn=nd.collate_audio,
                                        timeout=120, multiprocessing_context=context)
        it, finished = iter(loader), False
        for _ in range(w.resume or 0):
            b = next(it, None)
            if b is None:  # a state saved after the end resumes at the next epoch (by design)
                finished = True
                break
            first.take(b)
        state = loader.state_dict()
        del it
        if not finished:  # resume in a new dataset and loader
            consumed, consumed_repeats = len(first.delivered), len(first.repeated)
            tally_before = _saved_indices(state)  # delivered before, and the rejections counted with them
            dropped_before = _saved_dropped(state)  # and what equal batches dropped with them
            tally_before += dropped_before
            ds = make()
            ds.set_epoch(epoch)
            base = ds.stats.as_dict()
            loader = sdl.StatefulDataLoader(ds, batch_size=_bs(w), num_workers=n,
                                            collate_fn=nd.collate_audio, timeout=120,
                                            multiprocessing_context=context)
            loader.load_state_dict(state)
            for b in loader:
                first.take(b)
        passes = [(first, ds.stats.as_dict(), base, consumed, consumed_repeats, tally_before, dropped_before)]
    else:
        if w.resume is not None:
            if w.wrapper == "device":  # the wrong order is refused, the right one resumes exactly
                with pytest.raises(TypeError, match="ds.track\\(DeviceLoader"):
                    nd.DeviceLoader(ds.track(_loader(ds, 0, _bs(w))), device="cpu")
            it = iter(_wrap(ds, _loader(ds, workers, _bs(w), context), w.wrapper))
            for _ in range(w.resume):
                b = next(it, None)
                if b is None:
                    break
                first.take(b)
            del it
            s = ds.stats
            consumed, consumed_repeats = len(first.delivered), len(first.repeated)
            assert s.delivered - base["delivered"] == consumed, "counted a batch nobody consumed"
            tally_before = s.delivered + s.total_skipped + s.dropped - base["delivered"] - sum(
                base["skipped"].values()) - base["dropped"]
            dropped_before = s.dropped - base["dropped"]
            state = json.loads(json.dumps(ds.state_dict()))
            if w.foreign and rank is not None:  # a state belongs to its plan
                for other in ([make(urls[:-1])] if len(urls) > 1 else []) + [make(world_size=world + 1)]:
                    with pytest.raises(ValueError, match="plan"):
                        other.load_state_dict(state)
            ds = make()
            ds.load_state_dict(state)
            base = ds.stats.as_dict()
        loader = _loader(ds, workers if w.resume is None else w.workers_after, _bs(w), context, w.persistent)
        passes = []
        for k in range(w.passes):
            p = first if k == 0 else Pass(epoch + k if w.set_epoch else epoch, each_batch)
            if k and w.set_epoch:
                ds.set_epoch(epoch + k)
            try:
                for b in _wrap(ds, loader, w.wrapper):
                    p.take(b)
            except nd.EmptyEpochError as e:  # this pass's outcome; the next pass is checked on its own
                if w.passes == 1:
                    raise
                passes.append(str(e))
                base, consumed, consumed_repeats, tally_before, dropped_before = ds.stats.as_dict(), 0, 0, 0, 0
                continue
            end = ds.stats.as_dict()
            passes.append((p, end, base, consumed, consumed_repeats, tally_before, dropped_before))
            base, consumed, consumed_repeats, tally_before, dropped_before = end, 0, 0, 0, 0
    del held
    return [x if isinstance(x, str) else _rank_run(*x) for x in passes]


def _rank_run(p: Pass, s, base, consumed, consumed_repeats, tally_before, dropped_before=0) -> RankRun:
    delivered, repeated = s["delivered"] - base["delivered"], s["repeated"] - base["repeated"]
    skipped = Counter(s["skipped"]) - Counter(base["skipped"])
    dropped = s["dropped"] - base["dropped"]
    assert delivered == len(p.delivered) - consumed and repeated == len(p.repeated) - consumed_repeats
    return RankRun(p.batches, p.delivered, p.repeated, skipped, dropped,
                   tally_before + delivered + sum(skipped.values()) + dropped, dropped_before)


def check_world(w: World) -> None:
    DRAWN["budget"] += w.budget is not None
    DRAWN["endless"] += w.steps is not None
    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = build(root, w)
        counts = truth.members or truth.index  # (what the index counts: recordings)
        if counts is not None and any(n > os.path.getsize(u) // 512 for n, u in zip(counts, truth.urls)):
            # a count no shard of that many bytes can hold (every sample takes a 512-byte header)
            with pytest.raises(ValueError, match="index .* hold at most"):
                nd.ShardedAudioDataset(truth.urls, sr=SR)
            return
        if w.budget is not None and truth.index is None:  # duration batches plan with the index's lengths
            with pytest.raises(ValueError, match="'lengths' field.*nnaudio-data shard"):
                nd.ShardedAudioDataset(truth.urls, sr=SR, max_samples=w.budget)
            return
        for epoch in range(w.epochs):
            outcomes: Dict[int, List[Union[RankRun, str, None]]] = {}  # per rank, per pass (None: not run)
            for rank in range(w.world):
                try:
                    outcomes[rank] = list(run_rank(truth.urls, w, rank, epoch))
                except nd.EmptyEpochError as e:  # before any pass ended: the later passes never ran;
                    later = None if w.set_epoch else str(e)  # over the same epoch they would raise too
                    outcomes[rank] = [str(e)] + [later] * ((1 if w.wrapper == "stateful" else w.passes) - 1)
            if w.steps is not None:
                check_endless(w, truth, outcomes, epoch)
                continue
            for k in range(max(len(v) for v in outcomes.values())):  # (stateful: one pass)
                if any(v[k] is None for v in outcomes.values()):
                    continue  # a rank never ran this pass (another epoch): the clips it owns are unknown
                runs = {r: v[k] for r, v in outcomes.items() if not isinstance(v[k], str)}
                errors = {r: v[k] for r, v in outcomes.items() if isinstance(v[k], str)}
                check_epoch(w, truth, runs, errors)


def check_endless(w: World, truth: Truth, outcomes, epoch: int) -> None:
    """An endless pass of ``w.steps`` batches per rank (cut and resumed when drawn): every rank
    yields them all (or raises EmptyEpochError), walks epochs from ``epoch`` on without a gap,
    delivers a clip at most once per epoch over ranks (across the resume), and only good clips;
    without a resume, an epoch that every worker of a rank has left delivers what a one-epoch pass
    of that rank delivers."""
    shard_of = {u: s for s, u in enumerate(truth.urls)}
    runs = {r: v[0] for r, v in outcomes.items() if not isinstance(v[0], str)}
    if len(runs) < len(outcomes):
        return  # EmptyEpochError: a rank without a good clip (the one-epoch worlds check when)
    by_epoch: Dict[int, List[Tuple[int, int]]] = {}
    for r, p in runs.items():
        assert p.batches == w.steps, f"rank {r} stopped after {p.batches} of {w.steps} batches"
        eps = [e for e, *_ in p.epochs]
        reached = {}  # (run, worker) -> the last epoch it yielded from
        for e, k, *_ in p.epochs:
            reached[k] = e
        final = max(run for run, _ in reached)
        low = min(e for (run, _), e in reached.items() if run == final)  # every worker of the last run is past it
        assert set(range(epoch, low + 1)) <= set(eps), eps  # no epoch skipped (the workers ahead of the
        # slowest, taken in turn by the loader, may have yielded later epochs when the steps end)
        for worker in {k for _, k, *_ in p.epochs}:  # each worker walks them in order
            mine = [e for e, k, *_ in p.epochs if k == worker]
            assert mine == sorted(mine), (worker, mine)
        if w.budget is not None and (w.world > 1 if w.equal is None else w.equal):
            assert eps == sorted(eps), eps  # planned batches, none left out: epochs never interleave
        for e, worker, url, index, repeat in p.epochs:
            assert (shard_of[url], index) in deliverable(w, truth), "a bad sample delivered"
            if not repeat:
                by_epoch.setdefault(e, []).append((shard_of[url], index))
    for e, seen in by_epoch.items():
        assert len(seen) == len(set(seen)), f"a clip delivered twice in epoch {e}"
    if w.resume is not None or w.uneven:
        return
    for r, p in runs.items():
        last = {}
        for e, worker, *_ in p.epochs:
            last[worker] = e
        for e in range(epoch, min(last.values())):  # every worker has left epoch e
            ref = run_rank(truth.urls, replace(w, steps=None, resume=None, passes=1, second=False,
                                               wrapper="track"), r, e)[0]
            got = sorted((u, i) for ee, _, u, i, rep in p.epochs if ee == e and not rep)
            assert got == sorted(ref.delivered), f"endless epoch {e} of rank {r} differs from its one-epoch pass"


def planned_sizes(w: World, truth: Truth) -> Optional[List[int]]:
    """The sizes the plan holds shards to: the index's; without one, a header count under equal
    batches (which need sizes), else none. Batches by duration need the index (its lengths)."""
    if truth.index is not None:
        return truth.index
    equal = w.world > 1 if w.equal is None else w.equal
    return truth.counted if equal else None


def promised(w: World, truth: Truth) -> int:
    """What the counts of one epoch must add up to over all ranks: every sample a reader meets,
    and every one the planned sizes promise."""
    sizes = planned_sizes(w, truth)
    per = [max(n, m) for n, m in zip(truth.seen, sizes)] if sizes is not None else list(truth.seen)
    return sum(per) + (truth.members or truth.seen).count(0)  # an empty shard is one "empty_shard" skip


def deliverable(w: World, truth: Truth) -> set:
    """The good clips the ranks owe: past a stale index, clips are no rank's to deliver."""
    sizes = planned_sizes(w, truth)
    return {(s, i) for s, i in truth.good if sizes is None or i < sizes[s]}


def check_epoch(w: World, truth: Truth, runs: Dict[int, RankRun], errors: Dict[int, str]) -> None:
    """The invariant of the module docstring, for one pass of every rank."""
    shard_of = {u: s for s, u in enumerate(truth.urls)}
    equal = w.world > 1 if w.equal is None else w.equal
    seen = [(shard_of[u], i) for r in runs.values() for u, i in r.delivered]
    if errors:
        if any("every rank 0 clips" in m for m in errors.values()):
            assert equal, errors
            return
        missing = deliverable(w, truth) - set(seen)  # the raising ranks' good clips, and what the others dropped
        dropped = sum(r.dropped + r.dropped_before for r in runs.values())  # (before a resume too)
        assert len(missing) <= dropped, f"EmptyEpochError for a rank with a good clip: {errors}"
        return
    assert len(seen) == len(set(seen)), "a clip delivered twice"
    assert set(seen) <= deliverable(w, truth), "a bad sample delivered"
    assert {(shard_of[u], i) for r in runs.values() for u, i in r.repeated} <= deliverable(w, truth)
    tally, want = sum(r.tally for r in runs.values()), promised(w, truth)
    assert tally == want, f"delivered + skipped + dropped = {tally}, the plan holds {want}"
    if not equal:
        assert set(seen) == deliverable(w, truth) and all(not r.repeated and not r.dropped for r in runs.values())
    else:
        assert len({r.batches for r in runs.values()}) == 1, "ranks yield different batch counts"
        if w.remainder == "drop" and w.resume is None:
            for r in runs.values():
                assert len(r.repeated) <= sum(r.skipped.values())


@settings(max_examples=int(os.environ.get("NND_WORLDS", "30")), deadline=None, database=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(w=worlds())
# found by this harness: an empty shard's skip was taken for a planned clip, so equal batches
# under-counted what they dropped (a sample lost from the tally)
@example(w=World(shards=[[], [None] * 5], index="yes", stale=(0, -4), world=3, workers=0, workers_after=0,
                 shuffle=False, bucket=None, equal=None, remainder="drop", epochs=1, batch=1, resume=None,
                 wrapper="track", on_error="skip", seed=0))
@example(w=World(shards=[[], [None, None]], index="none", stale=(0, -4), world=2, workers=0, workers_after=0,
                 shuffle=False, bucket=None, equal=False, remainder="drop", epochs=1, batch=1, resume=None,
                 wrapper="track", on_error="skip", seed=0))
# found by this harness: without equal batches, a hostile size in the pax header before a sample
# that follows one without audio left one sample the index promised counted nowhere (the plan did
# not hold shards to their sizes); with equal batches and no index, the oracle took the sample's
# name for readable past that header
@example(w=World(shards=[[None], [None, "no_audio", None]], index="yes", stale=(0, -4), world=1, workers=0,
                 workers_after=0, shuffle=False, bucket=None, equal=False, remainder="drop", epochs=1, batch=1,
                 resume=None, wrapper="track", on_error="skip", seed=0, breaks=((1, 2, "size"),)))
@example(w=World(shards=[[None], ["no_audio", None]], index="none", stale=(0, -4), world=1, workers=0,
                 workers_after=0, shuffle=False, bucket=None, equal=True, remainder="drop", epochs=1, batch=1,
                 resume=None, wrapper="track", on_error="skip", seed=0, breaks=((1, 1, "size"),)))
# found by this harness: a batch was handed on only once the next batch's first clip had been
# tagged, so a worker's state (StatefulDataLoader) recorded that clip's batch as consumed: lost
@example(w=World(shards=[[None] * 10], index="yes", stale=(27, 4), world=1, workers=1, workers_after=0,
                 shuffle=True, bucket=4, equal=None, remainder="wrap", epochs=1, batch=2, resume=3,
                 wrapper="stateful", on_error="skip", seed=0, budget=500))
# an endless pass by duration, resumed with another worker count across an epoch's end
@example(w=World(shards=[[None] * 7, [None, "decode", None]], index="yes", stale=(0, -1), world=2, workers=2,
                 workers_after=1, shuffle=True, bucket=4, equal=None, remainder="drop", epochs=1, batch=2,
                 resume=4, wrapper="track", on_error="skip", seed=1, budget=500, steps=9))
def test_streaming_invariants(w):
    DRAWN["default"] += 1
    DRAWN["windowed"] += bool(w.cuts)
    check_world(w)


@settings(max_examples=int(os.environ.get("NND_WINDOWED_WORLDS", "12")), deadline=None, database=None,
          phases=PHASES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(w=worlds(max_shards=4, max_size=8, big=20).filter(lambda w: bool(w.cuts)))
# a recording whose first windows lie past its end, beside one with none, under equal batches and a resume
@example(w=World(shards=[[None, "decode", None, None], []], index="yes", stale=(0, 0), world=2, workers=2,
                 workers_after=1, shuffle=4, bucket=None, equal=True, remainder="drop", epochs=1, batch=2,
                 resume=1, wrapper="track", on_error="skip", seed=0, cuts=(3, 0, 2, -1), past=True))
# an endless pass over windows, resumed with another worker count
@example(w=World(shards=[[None, None, "decode"], [None, None]], index="yes", stale=(0, 0), world=2, workers=2,
                 workers_after=1, shuffle=True, bucket=None, equal=None, remainder="drop", epochs=1, batch=2,
                 resume=3, wrapper="track", on_error="skip", seed=1, cuts=(3, -1, 2), past=True, steps=9))
# windows batched by duration (fixed 32-frame windows, 64-frame segments, whole recordings, one past
# its end) over two ranks under equal batches, resumed with another worker count
@example(w=World(shards=[[None, None, "decode", None], [None, None, None]], index="yes", stale=(0, 0), world=2,
                 workers=2, workers_after=1, shuffle=True, bucket=4, equal=None, remainder="drop", epochs=1,
                 batch=2, resume=2, wrapper="track", on_error="skip", seed=0, cuts=(3, -1, 2), past=True,
                 budget=160))
# found by this harness: an endless pass's workers, taking epochs in turn, were held to one
# sequence across a resume with another worker count, and to no gap at the last step (where the
# workers ahead of the slowest have yielded later epochs)
@example(w=World(shards=[[], [None]], index="yes", stale=(0, -4), world=2, workers=2, workers_after=0, shuffle=False,
                 bucket=None, equal=None, remainder="drop", epochs=1, batch=2, resume=1, wrapper="track",
                 on_error="skip", seed=0, cuts=(2,), steps=9))
@example(w=World(shards=[[None], []], index="yes", stale=(0, -4), world=2, workers=2, workers_after=0, shuffle=False,
                 bucket=None, equal=None, remainder="drop", epochs=1, batch=3, resume=None, wrapper="track",
                 on_error="skip", seed=0, cuts=(2,), steps=9))
def test_windowed_invariants(w):
    """Worlds whose recordings are cut into windows (every one drawn windowed)."""
    DRAWN["windowed"] += 1
    check_world(w)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("NND_WIDE_WORLDS", "20")), deadline=None, database=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(w=worlds(max_shards=20, max_size=40, big=120, max_world=4, max_workers=3))
def test_streaming_invariants_wide(w):
    DRAWN["slow"] += 1
    check_world(w)


# -- real ranks: gloo ----------------------------------------------------------------------------
GLOO_WORLDS = [  # small, fixed: each spawn costs seconds; the in-process worlds above go wide
    World(shards=[[None], [None] * 9 + ["decode"] + [None] * 20], index="none", stale=(0, 0), world=2,
          workers=0, workers_after=1, shuffle=True, bucket=None, equal=None, remainder="drop", epochs=2,
          batch=2, resume=None, wrapper="track", on_error="skip", seed=1, uneven=True),
    World(shards=[[None, "silent", None], [None] * 5, ["bad_rate", None]], index="stale", stale=(1, -2),
          world=2, workers=1, workers_after=0, shuffle=4, bucket=None, equal=None, remainder="wrap",
          epochs=1, batch=3, resume=1, wrapper="device", on_error="warn", seed=0),
    World(shards=[[None] * 3, [None, "decode"]], index="yes", stale=(0, 0), world=2, workers=1, workers_after=1,
          shuffle=True, bucket=None, equal=None, remainder="drop", epochs=1, batch=2, resume=None,
          wrapper="track", on_error="skip", seed=2, cuts=(2, -1, 3, 0), past=True),  # windows
    World(shards=[[None] * 7, [None, "decode", None, None]], index="yes", stale=(0, 0), world=2, workers=1,
          workers_after=0, shuffle=True, bucket=4, equal=None, remainder="drop", epochs=1, batch=2, resume=2,
          wrapper="track", on_error="skip", seed=0, budget=500),  # batches by duration, resumed
]


def _gloo_rank(rank, world, port, roots):
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=120))  # unequal batches fail, not hang
    try:
        for w, (root, urls) in zip(GLOO_WORLDS, roots):
            for epoch in range(w.epochs):
                try:  # a collective per batch, as DDP's gradient all-reduce
                    run = run_rank(urls, w, None, epoch, lambda: dist.all_reduce(torch.ones(1)), "spawn")[0]
                    out = (None, run) if isinstance(run, str) else (run, None)
                except nd.EmptyEpochError as e:
                    out = (None, str(e))
                results = gather_objects(out)  # the package's gather: no abort at the rank's exit
                if rank == 0:
                    with open(os.path.join(root, f"epoch{epoch}.json"), "w") as f:
                        json.dump([[r.__dict__ if r else None, e] for r, e in results], f, default=list)
    finally:
        dist.destroy_process_group()


def test_invariants_under_gloo(tmp_path):
    """Two real ranks (gloo, spawned), their DataLoader workers spawned too, a collective after
    every batch: the same invariant as the in-process worlds."""
    import socket

    import torch.multiprocessing as mp

    roots, built = [], []
    for k, w in enumerate(GLOO_WORLDS):
        root = str(tmp_path / f"world{k}")
        os.makedirs(root)
        truth = build(root, w)
        roots.append((root, truth.urls))
        built.append(truth)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_gloo_rank, args=(2, port, roots), nprocs=2, join=True)
    for w, (root, _), truth in zip(GLOO_WORLDS, roots, built):
        for epoch in range(w.epochs):
            with open(os.path.join(root, f"epoch{epoch}.json")) as f:
                results = json.load(f)
            runs = {r: RankRun(**{**d, "delivered": [tuple(x) for x in d["delivered"]],
                                  "repeated": [tuple(x) for x in d["repeated"]], "skipped": Counter(d["skipped"])})
                    for r, (d, e) in enumerate(results) if d is not None}
            errors = {r: e for r, (d, e) in enumerate(results) if e is not None}
            check_epoch(w, truth, runs, errors)
            DRAWN["gloo"] += 1


def teardown_module(module):
    print(f"\ninvariant worlds drawn: {dict(DRAWN)}")
