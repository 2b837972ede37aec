"""Resume mid-epoch: stop after k batches, rebuild from state_dict, get exactly the rest."""
import json

import pytest
from torch.utils.data import DataLoader

import nnaudio_data as nd
from shardkit import source_clips, write_shards

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")

COUNTS = [5, 4, 6, 3]


def first_k(ds, k, workers, batch_size=3):
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers, collate_fn=nd.collate_audio)
    keys = []
    for i, batch in enumerate(ds.track(loader)):
        keys += batch.keys
        if i + 1 == k:
            break
    return keys


def rest(ds, workers, batch_size=3):
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers, collate_fn=nd.collate_audio)
    batches = list(ds.track(loader))
    return [k for b in batches for k in b.keys], len(batches)


@pytest.mark.parametrize("k,workers_after", [(1, 2), (3, 2), (4, 0), (3, 1)])
@pytest.mark.parametrize("shuffle", [False, 4])
def test_resume_delivers_the_rest_once(tmp_path, k, workers_after, shuffle):
    urls = write_shards(str(tmp_path), COUNTS)
    make = lambda: nd.ShardedAudioDataset(urls, sr=8000, shuffle=shuffle, seed=2)  # noqa: E731
    ds = make()
    ds.set_epoch(3)
    before = first_k(ds, k, workers=2)
    assert len(before) == 3 * k
    state = json.loads(json.dumps(ds.state_dict()))  # a checkpoint survives JSON
    assert state["epoch"] == 3
    ds2 = make()
    ds2.load_state_dict(state)
    after, _ = rest(ds2, workers_after)
    assert not set(before) & set(after)
    assert sorted(before + after) == sorted(source_clips(COUNTS))
    done = ds2.state_dict()["consumed"]["indices"]  # the resumed run's record covers the epoch
    assert sum(b - a for rs in done.values() for a, b in rs) == sum(COUNTS)


def test_resume_with_equal_batches_keeps_ranks_equal(tmp_path):
    urls = write_shards(str(tmp_path), [5, 2, 3])  # ranks of 5 and 5 clips, taken by size
    per_rank = []
    for rank in (0, 1):
        make = lambda: nd.ShardedAudioDataset(urls, sr=8000, rank=rank, world_size=2, remainder="wrap")  # noqa: E731
        ds = make()
        total = len(ds)
        before = first_k(ds, 1, workers=2, batch_size=2)
        ds2 = make()
        ds2.load_state_dict(ds.state_dict())
        assert len(ds2) == total - len(before)
        after, n_batches = rest(ds2, workers=2, batch_size=2)
        assert len(before) + len(after) == total and not set(before) & set(after)
        per_rank.append((total, n_batches, before + after))
    assert per_rank[0][:2] == per_rank[1][:2]
    assert sorted(per_rank[0][2] + per_rank[1][2]) == sorted(source_clips([5, 2, 3]))


def test_resume_checks(tmp_path):
    urls = write_shards(str(tmp_path), [4])
    ds = nd.ShardedAudioDataset(urls, sr=8000, rank=0, world_size=2)
    first_k(ds, 1, workers=2, batch_size=1)
    state = ds.state_dict()
    with pytest.raises(ValueError, match="seed"):
        nd.ShardedAudioDataset(urls, sr=8000, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="format"):
        ds.load_state_dict({"epoch": 0})
    ds2 = nd.ShardedAudioDataset(urls, sr=8000, rank=0, world_size=2)
    ds2.load_state_dict({**state, "scope": "worker"})  # per-worker states need the same count
    with pytest.raises(ValueError, match="same num_workers"):
        list(ds2.track(DataLoader(ds2, batch_size=1, num_workers=1)))
    ds3 = nd.ShardedAudioDataset(urls, sr=8000, rank=0, world_size=2)
    ds3.load_state_dict(state)  # a plain loop over workers cannot take a resume once: refused
    with pytest.raises(ValueError, match="through ds.track"):
        list(DataLoader(ds3, batch_size=1, num_workers=1))


@pytest.mark.parametrize("workers_after", [0, 1, 3])
@pytest.mark.parametrize("remainder", ["drop", "wrap"])
def test_resume_equal_batches_other_num_workers(tmp_path, workers_after, remainder):
    """Regression: resuming equal batches through ``ds.track(loader)`` with another num_workers
    raised nothing and lost a clip (track overwrote the saved worker count)."""
    urls = write_shards(str(tmp_path), [5, 2, 3])
    seen, batches = [], []
    for rank in (0, 1):
        make = lambda: nd.ShardedAudioDataset(urls, sr=8000, rank=rank, world_size=2, remainder=remainder)  # noqa: E731
        ds = make()
        before = first_k(ds, 1, workers=2, batch_size=2)
        ds2 = make()
        ds2.load_state_dict(ds.state_dict())
        after, n = rest(ds2, workers=workers_after, batch_size=2)
        stats = ds2.stats
        assert len(before) + len(after) == 5 and stats.delivered + stats.dropped + len(before) == 5
        assert stats.repeated == 0 and not set(before) & set(after)
        seen += before + after
        batches.append(n)
    assert batches[0] == batches[1] and sorted(seen) == sorted(source_clips([5, 2, 3]))


def test_device_loader_outside_track_is_refused(tmp_path):
    """Regression: ``nd.DeviceLoader(ds.track(loader))`` recorded the prefetched batch as consumed
    and lost it on resume; that order is refused, the other one resumes exactly."""
    urls = write_shards(str(tmp_path), COUNTS)
    ds = nd.ShardedAudioDataset(urls, sr=8000)
    loader = DataLoader(ds, batch_size=3, collate_fn=nd.collate_audio)
    with pytest.raises(TypeError, match="ds.track\\(DeviceLoader"):
        nd.DeviceLoader(ds.track(loader), device="cpu")
    before = []
    for i, b in enumerate(ds.track(nd.DeviceLoader(loader, device="cpu", prefetch=2))):
        before += b.keys
        if i == 1:
            break
    ds2 = nd.ShardedAudioDataset(urls, sr=8000)
    ds2.load_state_dict(ds.state_dict())
    after, _ = rest(ds2, workers=0)
    assert sorted(before + after) == sorted(source_clips(COUNTS)) and not set(before) & set(after)


def test_new_epoch_forgets_consumed(tmp_path):
    urls = write_shards(str(tmp_path), COUNTS)
    ds = nd.ShardedAudioDataset(urls, sr=8000)
    first_k(ds, 2, workers=2)
    ds.set_epoch(1)
    assert ds.state_dict()["consumed"]["indices"] == {}
    assert sorted(rest(ds, 2)[0]) == sorted(source_clips(COUNTS))


def test_stateful_dataloader(tmp_path):
    """torchdata's StatefulDataLoader snapshots each worker's state_dict; resume from it."""
    sdl = pytest.importorskip("torchdata.stateful_dataloader")
    urls = write_shards(str(tmp_path), COUNTS)
    loader = sdl.StatefulDataLoader(nd.ShardedAudioDataset(urls, sr=8000), batch_size=3, num_workers=2,
                                    collate_fn=nd.collate_audio)
    before = []
    for i, batch in enumerate(loader):
        before += batch.keys
        if i == 2:
            break
    state = loader.state_dict()
    resumed = sdl.StatefulDataLoader(nd.ShardedAudioDataset(urls, sr=8000), batch_size=3, num_workers=2,
                                     collate_fn=nd.collate_audio)
    resumed.load_state_dict(state)
    after = [k for b in resumed for k in b.keys]
    assert not set(before) & set(after)
    assert sorted(before + after) == sorted(source_clips(COUNTS))


def test_track_follows_persistent_workers_epochs(tmp_path):
    """Persistent workers read the epoch set_epoch sets (passes without it repeat the epoch, as
    under any loader setting): the record follows."""
    urls = write_shards(str(tmp_path), COUNTS)
    ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True)
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=nd.collate_audio, persistent_workers=True)
    first = [k for b in ds.track(loader) for k in b.keys]
    assert ds.state_dict()["epoch"] == 0
    ds.set_epoch(1)
    part = []
    for i, b in enumerate(ds.track(loader)):
        part += b.keys
        if i == 1:
            break
    state = ds.state_dict()
    assert state["epoch"] == 1 and sorted(first) == sorted(source_clips(COUNTS))
    ds2 = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True)
    ds2.load_state_dict(state)
    after, _ = rest(ds2, workers=2)
    assert sorted(part + after) == sorted(source_clips(COUNTS)) and not set(part) & set(after)
