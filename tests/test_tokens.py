"""One registry for objects that cross processes by reference (``_tokens``), and the explicit
delivery of a dataset's counts (``data/_progress.py``): what happens when a batch is unpickled
twice, handed over twice, forwarded to another process, or never consumed."""
import multiprocessing
import pickle
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data import _tokens
from nnaudio_data.data._progress import Inbox, LoaderStats, Provenance, hand_over, tags_of
from shardkit import write_shards

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")

COUNTS = [10, 10, 10]  # 15 batches of 2: a loader dropped after 3 batches never ends a pass
BAD = {1: [{"__key__": "bad", "wav": b"RIFF not a wav at all"}]}  # one decode skip in shard 1


class Thing:
    pass


def _in_fork(fn, *args):
    """Run ``fn(*args)`` in a forked child (which inherits this process's registry) and return
    what it returns."""
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)

    def child():
        writer.send(fn(*args))

    proc = ctx.Process(target=child)
    proc.start()
    out = reader.recv()
    proc.join(timeout=120)
    assert proc.exitcode == 0
    return out


# -- the registry -------------------------------------------------------------------------------------
def test_registry_resolves_in_the_owning_process_and_not_in_a_forked_child():
    thing = Thing()
    token = _tokens.register(thing)
    assert _tokens.resolve(token) is thing
    assert _tokens.resolve(pickle.loads(pickle.dumps(token))) is thing
    assert _in_fork(lambda t: _tokens.resolve(t) is None, token)  # inherited, but not the owner


def test_unpickling_a_token_only_carries_its_numbers():
    token = _tokens.register(Thing())  # collected at once: nothing stands for it any more
    before = len(_tokens._LIVE)
    copy = pickle.loads(pickle.dumps(token))
    assert copy == token and type(copy) is _tokens.Token and tuple(copy) == (token.pid, token.serial)
    assert len(_tokens._LIVE) == before and _tokens.resolve(copy) is None
    assert _tokens.resolve("not a token") is None and _tokens.resolve(None) is None


def test_adopt_names_a_copy_in_this_process_and_entries_are_weak():
    owner = Thing()
    token = _tokens.register(owner)
    elsewhere = _tokens.Token(token.pid + 1, token.serial)  # another process's object
    copy = Thing()
    _tokens.adopt(elsewhere, copy)
    assert _tokens.resolve(elsewhere) is copy and _tokens.resolve(token) is owner
    del copy
    assert _tokens.resolve(elsewhere) is None


def test_a_collate_and_a_dataset_use_the_one_registry(tmp_path):
    ds = nd.ShardedAudioDataset(write_shards(str(tmp_path), [2]), sr=8000)
    collate = nd.GPUSpectrogramCollate("stft", device="cpu", n_fft=64)
    assert _tokens.resolve(collate._token) is collate
    assert _tokens.resolve(ds._inbox.token) is ds._inbox
    assert pickle.loads(pickle.dumps(collate)) is collate
    assert _in_fork(lambda t: _tokens.resolve(t) is None, collate._token)


# -- counts travel in the batch, delivered at hand-over -----------------------------------------------
def _cut_short(ds, batches=3, workers=1):
    """Take ``batches`` from a plain DataLoader loop (no hand-over), then drop the loader: its
    worker pass never ends."""
    loader = DataLoader(ds, batch_size=2, num_workers=workers, prefetch_factor=2, collate_fn=nd.collate_audio)
    it = iter(loader)
    out = [next(it) for _ in range(batches)]
    del it
    return out


def test_unpickled_batches_merge_nothing_and_hand_over_merges_each_tag_once(tmp_path):
    ds = nd.ShardedAudioDataset(write_shards(str(tmp_path), COUNTS), sr=8000)
    batches = _cut_short(ds)
    assert ds.stats.as_dict() == LoaderStats().as_dict()  # unpickled in this process: nothing moved
    carried = LoaderStats()
    for t in (t for b in batches for t in tags_of(b)):
        carried.merge(t.delta)
    assert carried.delivered == 6 and carried.total_skipped == 0
    blobs = [pickle.dumps(b) for b in batches]
    copies = [pickle.loads(blob) for blob in blobs] + [pickle.loads(blob) for blob in blobs]  # twice
    assert ds.stats.delivered == 0
    hand_over(copies[0])
    assert ds.stats.delivered == 2
    for b in copies + batches:
        hand_over(b)
    assert ds.stats.as_dict() == carried.as_dict()


def test_track_counts_the_batches_handed_over_of_a_pass_cut_short(tmp_path):
    """A batch the worker made but the loop never took contributes nothing."""
    ds = nd.ShardedAudioDataset(write_shards(str(tmp_path), COUNTS), sr=8000)
    loader = DataLoader(ds, batch_size=2, num_workers=2, prefetch_factor=2, collate_fn=nd.collate_audio)
    for i, _ in enumerate(ds.track(loader)):
        if i == 2:
            break
    assert ds.stats.delivered == 6 and ds.stats.total_skipped == 0


def _reference(urls):
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip")
    list(DataLoader(ds, batch_size=2, num_workers=0, collate_fn=nd.collate_audio))
    return ds.stats.as_dict()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("how", ["plain", "track", "device", "track_device"])
def test_an_ended_pass_counts_once_however_its_batches_were_handed_over(tmp_path, workers, how):
    urls = write_shards(str(tmp_path), COUNTS, extra=BAD)
    want = _reference(urls)
    assert want["delivered"] == sum(COUNTS) and sum(want["skipped"].values()) == 1
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip")
    loader = DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=nd.collate_audio)
    wrapped = {"plain": loader, "track": ds.track(loader), "device": nd.DeviceLoader(loader, device="cpu"),
               "track_device": ds.track(nd.DeviceLoader(loader, device="cpu"))}[how]
    batches = list(wrapped)
    assert ds.stats.as_dict() == want
    for b in batches + [pickle.loads(pickle.dumps(b)) for b in batches]:  # again, after the end
        hand_over(b)
    assert ds.stats.as_dict() == want


def _hand_over_in_child(blob, token):
    """In a forked child (it inherits the dataset and the registry, but owns neither): unpickle and
    hand over a batch; report what it saw and send the batch back."""
    batch = pickle.loads(blob)
    hand_over(batch)
    inbox = _tokens.resolve(token)
    return inbox is None, [str(t) for t in tags_of(batch)], pickle.dumps(batch)


def test_a_forwarded_batch_carries_its_counts_inertly_and_counts_once_at_home(tmp_path):
    ds = nd.ShardedAudioDataset(write_shards(str(tmp_path), COUNTS), sr=8000)
    batches = _cut_short(ds, batches=2)
    inert, tags, back = _in_fork(_hand_over_in_child, pickle.dumps(batches[0]), ds._inbox.token)
    assert inert and tags == [str(t) for t in tags_of(batches[0])]
    assert ds.stats.delivered == 0  # nothing came back by itself
    returned = pickle.loads(back)
    assert all(t.delta is not None for t in tags_of(returned))  # it still carries its counts
    for b in (returned, batches[0], batches[1], returned):
        hand_over(b)
    assert ds.stats.delivered == 4


def test_stats_survive_spawned_workers(tmp_path):
    urls = write_shards(str(tmp_path), COUNTS, extra=BAD)
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip")
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn",
                        collate_fn=nd.collate_audio)
    list(ds.track(loader))
    assert ds.stats.as_dict() == _reference(urls)


# -- the inbox's bookkeeping, over random hand-over schedules ----------------------------------------
_DELTA = st.builds(lambda d, s, r: LoaderStats(d, Counter({"decode": s} if s else {}), r, 0),
                   st.integers(0, 2), st.integers(0, 2), st.integers(0, 1))


@settings(max_examples=60, deadline=None)
@given(passes=st.lists(st.tuples(st.lists(_DELTA, min_size=1, max_size=6), st.booleans(), _DELTA),
                       min_size=1, max_size=4),
       schedule=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.booleans()), max_size=40),
       end_at=st.integers(0, 40))
def test_inbox_counts_each_tag_once_and_each_ended_pass_exactly(passes, schedule, end_at):
    """A random world of worker passes (each a list of tag deltas, maybe ended, with trailing counts
    no tag carries), tags handed over in a random order with repeats and pickled copies, pass
    totals arriving at a random point: the inbox holds, for an ended pass, its total, and for
    another, the deltas of the distinct tags handed over."""
    box = Inbox()
    tags = [[Provenance("a.tar", i, source=box.token, delta=d, stream=100 + p, seq=i) for i, d in enumerate(ds)]
            for p, (ds, _, _) in enumerate(passes)]
    handed = set()

    def end_passes():
        for p, (ds, ended, trailing) in enumerate(passes):
            if ended:
                total = LoaderStats()
                for d in ds + [trailing]:
                    total.merge(d)
                box.mailbox.post((100 + p, total, True))  # an untracked pass's total

    for step, (p, i, copy) in enumerate(schedule):
        if step == end_at:
            end_passes()
            box.total()
        if p < len(tags) and i < len(tags[p]):
            tag = pickle.loads(pickle.dumps(tags[p][i])) if copy else tags[p][i]
            hand_over([{"info": tag}])
            handed.add((p, i))
    if end_at >= len(schedule):
        end_passes()
    want = LoaderStats()
    for p, (ds, ended, trailing) in enumerate(passes):
        for i, d in enumerate(ds + [trailing] if ended else ds):
            if ended or (p, i) in handed:
                want.merge(d)
    assert box.total().as_dict() == want.as_dict()
