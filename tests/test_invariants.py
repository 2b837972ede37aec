"""The streaming guarantees, checked on random worlds (model-based, hypothesis).

A *world* is a set of real tar shards (uneven sizes, bad members at random positions, an index that
is right, absent or stale), a rank count (ranks simulated in one process by ``rank=``/``world_size=``;
real gloo ranks in ``test_invariants_gloo``), DataLoader worker processes, shuffle, buckets, equal
batches with either remainder, epochs, and a resume at batch k with another worker count through
``ds.track(loader)`` or ``ds.track(nd.DeviceLoader(loader))``.

Invariant, per epoch, over all ranks (``tally`` below):
  * delivered ∪ skipped (by reason) ∪ dropped = every sample of the shards, each once; plus the
    samples a stale index promises that a shard lacks ("stale_index_missing"), counted once;
  * a delivered clip is a good clip, delivered once (over ranks, workers and the resumed run);
  * repeats only under equal batches: under "wrap", or under "drop" to replace rejected clips
    (never more than the rank's skips);
  * with equal batches, every rank yields the same number of batches;
  * no exception but :class:`EmptyEpochError`, and that only for a rank whose share holds no good
    clip (or when equal batches give every rank 0 clips).
Every run is bounded by the DataLoader ``timeout`` and the pytest-wide one: only a hang reaches them.
"""
import io
import json
import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
import soundfile as sf
import webdataset as wds
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data._progress import tags_of
from nnaudio_data.data._split import epoch_order, plan

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
        seed=st.integers(0, 3))


def build(root: str, w: World):
    """Write the shards (an empty one is a tar without members); return (urls, real sample counts,
    the counts the index gives (the real ones when it is absent), good clips as {(shard, index)})."""
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
    index = list(real)
    if w.index == "stale":
        s, d = w.stale[0] % len(real), w.stale[1]
        index[s] = max(0, index[s] + d)
    if w.index != "none":
        with open(os.path.join(root, "index.json"), "w") as f:
            json.dump({"format": "nnaudio_data.index/1",
                       "shards": {os.path.basename(u): n for u, n in zip(urls, index)}}, f)
    return urls, real, index, good


def _loader(ds, workers, batch, context=None):
    return DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=nd.collate_audio,
                      timeout=120 if workers else 0, multiprocessing_context=context if workers else None)


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


def run_rank(urls, w: World, rank: Optional[int], epoch: int, each_batch=None, context=None) -> RankRun:
    """One rank's epoch (``rank=None``: the rank torch.distributed gives); ``each_batch()`` runs
    after every batch (a collective, under gloo)."""
    def make():
        return nd.ShardedAudioDataset(urls, sr=SR, rank=rank, world_size=None if rank is None else w.world,
                                      shuffle=w.shuffle,
                                      seed=w.seed, on_error=w.on_error, equal_batches=w.equal,
                                      remainder=w.remainder, bucket=w.bucket)

    ds = make()
    ds.set_epoch(epoch)
    delivered, repeated, n_batches, consumed, consumed_repeats = [], [], 0, 0, 0

    def take(b):
        nonlocal n_batches
        n_batches += 1
        for t in tags_of(b):
            (repeated if t.repeat else delivered).append((t.url, t.index))
        if each_batch:
            each_batch()

    if w.wrapper == "stateful":  # torchdata: each worker's state, so the same num_workers after
        sdl = pytest.importorskip("torchdata.stateful_dataloader")
        workers = max(1, w.workers)
        loader = sdl.StatefulDataLoader(ds, batch_size=w.batch, num_workers=workers, collate_fn=nd.collate_audio,
                                        timeout=120, multiprocessing_context=context)
        it, finished = iter(loader), False
        for _ in range(w.resume or 0):
            b = next(it, None)
            if b is None:  # a state saved after the end resumes at the next epoch (by design)
                finished = True
                break
            take(b)
        state = loader.state_dict()
        del it
        if not finished:  # resume in a new dataset and loader
            consumed, consumed_repeats = len(delivered), len(repeated)
            ds = make()
            ds.set_epoch(epoch)
            loader = sdl.StatefulDataLoader(ds, batch_size=w.batch, num_workers=workers,
                                            collate_fn=nd.collate_audio, timeout=120,
                                            multiprocessing_context=context)
            loader.load_state_dict(state)
            for b in loader:
                take(b)
    else:
        if w.resume is not None:
            if w.wrapper == "device":  # the wrong order is refused, the right one resumes exactly
                with pytest.raises(TypeError, match="ds.track\\(DeviceLoader"):
                    nd.DeviceLoader(ds.track(_loader(ds, 0, w.batch)), device="cpu")
            it = iter(_wrap(ds, _loader(ds, w.workers, w.batch, context), w.wrapper))
            for _ in range(w.resume):
                b = next(it, None)
                if b is None:
                    break
                take(b)
            del it
            consumed, consumed_repeats = len(delivered), len(repeated)
            state = json.loads(json.dumps(ds.state_dict()))
            ds = make()
            ds.load_state_dict(state)
        workers = w.workers if w.resume is None else w.workers_after
        for b in _wrap(ds, _loader(ds, workers, w.batch, context), w.wrapper):
            take(b)
    s = ds.stats
    assert s.delivered == len(delivered) - consumed and s.repeated == len(repeated) - consumed_repeats
    return RankRun(n_batches, delivered, repeated, Counter(s.skipped), s.dropped,
                   consumed + s.delivered + s.total_skipped + s.dropped)


def rank_has_good_clip(urls, w: World, sizes, real, good, rank, epoch) -> bool:
    order = epoch_order(len(urls), w.seed, epoch, bool(w.shuffle))
    share = plan(len(urls), order, w.world, 1, sizes)[(rank, 0)]
    end = sizes or real  # past a stale index, clips are not the rank's to deliver
    return any((sl.shard, i) in good for sl in share for i in range(sl.start, end[sl.shard], sl.step))


def check_world(w: World) -> None:
    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        urls, real, index, good = build(root, w)
        for epoch in range(w.epochs):
            runs: Dict[int, RankRun] = {}
            errors: Dict[int, str] = {}
            for rank in range(w.world):
                try:
                    runs[rank] = run_rank(urls, w, rank, epoch)
                except nd.EmptyEpochError as e:
                    errors[rank] = str(e)
            check_epoch(w, urls, real, index, good, epoch, runs, errors)


def check_epoch(w: World, urls, real, index, good, epoch: int, runs: Dict[int, RankRun],
                errors: Dict[int, str]) -> None:
    """The invariant of the module docstring, for one epoch of every rank."""
    shard_of = {u: s for s, u in enumerate(urls)}
    equal = w.world > 1 if w.equal is None else w.equal
    # what the dataset plans with: the index, local shards counted (equal batches), or nothing
    sizes = index if w.index != "none" else real if equal else None
    for rank, msg in errors.items():
        legit = not rank_has_good_clip(urls, w, sizes, real, good, rank, epoch) or "every rank 0 clips" in msg
        assert legit, f"EmptyEpochError for rank {rank} which holds a good clip: {msg}"
    if errors:
        return  # an epoch that raised: nothing more to count
    seen = [(shard_of[u], i) for r in runs.values() for u, i in r.delivered]
    assert len(seen) == len(set(seen)), "a clip delivered twice"
    assert set(seen) <= good, "a bad sample delivered"
    assert {(shard_of[u], i) for r in runs.values() for u, i in r.repeated} <= good
    n_all = sum(max(a, b) for a, b in zip(real, index)) if equal and w.index != "none" else sum(real)
    n_all += real.count(0)  # an empty shard is one "empty_shard" skip
    assert sum(r.tally for r in runs.values()) == n_all, "delivered + skipped + dropped != all"
    if not equal:
        assert set(seen) == good and all(not r.repeated and not r.dropped for r in runs.values())
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
def test_streaming_invariants(w):
    DRAWN["default"] += 1
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
          batch=2, resume=None, wrapper="track", on_error="skip", seed=1),
    World(shards=[[None, "silent", None], [None] * 5, ["bad_rate", None]], index="stale", stale=(1, -2),
          world=2, workers=1, workers_after=0, shuffle=4, bucket=None, equal=None, remainder="wrap",
          epochs=1, batch=3, resume=1, wrapper="device", on_error="warn", seed=0),
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
                    run = run_rank(urls, w, None, epoch, lambda: dist.all_reduce(torch.ones(1)), "spawn")
                    out = (run, None)
                except nd.EmptyEpochError as e:
                    out = (None, str(e))
                results = [None] * world
                dist.all_gather_object(results, out)
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
        urls, real, index, good = build(root, w)
        roots.append((root, urls))
        built.append((urls, real, index, good))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_gloo_rank, args=(2, port, roots), nprocs=2, join=True)
    for w, (root, _), (urls, real, index, good) in zip(GLOO_WORLDS, roots, built):
        for epoch in range(w.epochs):
            with open(os.path.join(root, f"epoch{epoch}.json")) as f:
                results = json.load(f)
            runs = {r: RankRun(**{**d, "delivered": [tuple(x) for x in d["delivered"]],
                                  "repeated": [tuple(x) for x in d["repeated"]], "skipped": Counter(d["skipped"])})
                    for r, (d, e) in enumerate(results) if d is not None}
            errors = {r: e for r, (d, e) in enumerate(results) if e is not None}
            check_epoch(w, urls, real, index, good, epoch, runs, errors)
            DRAWN["gloo"] += 1


def teardown_module(module):
    print(f"\ninvariant worlds drawn: {dict(DRAWN)}")
