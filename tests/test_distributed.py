"""Ranks as real processes (gloo on CPU): every clip exactly once over ranks x workers, and equal
batches per rank. One spawn per world size runs every case inside it, to keep this fast."""
import datetime
import os
import socket
import sys
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

# (clip counts per shard): fewer shards than rank x worker slots, and more; uneven sizes
SHARD_SETS = [[5], [4, 2], [3, 5, 2, 4, 6, 1, 3]]
WORKERS = [0, 1, 3]
BATCH = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gather(obj, world):
    from nnaudio_data._gather import gather_objects  # no abort at the rank's exit: see that module

    out = gather_objects(obj)
    assert len(out) == world
    return out


def _loader(ds, workers):
    # Workers are spawned: a worker forked from a rank that runs gloo's threads hung now and then
    # under load (fork after threads). No per-batch timeout: a slow machine is not a failure; the
    # test's overall bound (tests/bounds.py) turns a real hang into one.
    return DataLoader(ds, batch_size=BATCH, num_workers=workers, collate_fn=_collate(),
                      multiprocessing_context="spawn" if workers else None)


def _collate():
    import nnaudio_data as nd

    return nd.collate_audio


def _rank_main(rank, world, port, root, path):
    sys.path.insert(0, path)
    warnings.simplefilter("ignore")
    # One intra-op thread per rank, as torchrun sets (OMP_NUM_THREADS=1): three ranks and their
    # workers share two cores, and a rank that never starts an OpenMP pool forks its workers safely.
    torch.set_num_threads(1)
    import nnaudio_data as nd
    from shardkit import source_clips

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600))  # a failed rank fails the others
    try:
        for c, counts in enumerate(SHARD_SETS):
            urls = [os.path.join(root, f"set{c}", f"s-{s:04d}.tar") for s in range(len(counts))]
            everything = sorted(source_clips(counts))
            for workers in WORKERS:
                # exactly once: no equalising
                ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True, seed=3, equal_batches=False)
                ds.set_epoch(1)
                keys = [k for b in _loader(ds, workers) for k in b.keys]
                assert ds.stats.delivered == len(keys)
                allkeys = sum(_gather(keys, world), [])
                assert sorted(allkeys) == everything, (counts, workers, rank)
                # equal batches (the default under DDP), both remainder policies
                for remainder in ("drop", "wrap"):
                    ds = nd.ShardedAudioDataset(urls, sr=8000, remainder=remainder)
                    batches = list(_loader(ds, workers))
                    keys = [k for b in batches for k in b.keys]
                    seen = _gather((len(batches), len(keys), len(ds), keys, ds.stats.as_dict()), world)
                    where = (counts, workers, remainder, [s[:3] + s[4:] for s in seen])
                    assert len({s[0] for s in seen}) == 1, where
                    assert len({s[1] for s in seen}) == 1 and seen[0][1] == seen[0][2], where
                    distinct = sorted({k for s in seen for k in s[3]})
                    stats = [s[4] for s in seen]
                    repeated = sum(s["repeated"] for s in stats)
                    dropped = sum(s["dropped"] for s in stats)
                    assert sum(s["delivered"] for s in stats) == len(distinct), where
                    assert sum(s[1] for s in seen) == len(distinct) + repeated, where
                    if remainder == "wrap":
                        assert distinct == everything, where
                    else:
                        assert len(distinct) + dropped == len(everything), where
                        assert set(distinct) <= set(everything)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # minutes on two busy cores: 2-3 ranks, each spawning its workers, 18 passes
@pytest.mark.parametrize("world", [2, 3])
def test_ranks_exactly_once_and_equal_batches(tmp_path, world):
    from shardkit import write_shards

    for c, counts in enumerate(SHARD_SETS):
        write_shards(str(tmp_path / f"set{c}"), counts)
    here = os.path.dirname(os.path.abspath(__file__))
    from bounds import join_processes

    ranks = mp.spawn(_rank_main, args=(world, _free_port(), str(tmp_path), here), nprocs=world, join=False)
    join_processes(ranks, f"{world} ranks")


def test_world_from_torchrun_environment(tmp_path, monkeypatch):
    import nnaudio_data as nd
    from shardkit import source_clips, write_shards

    urls = write_shards(str(tmp_path), [3, 4, 2])
    monkeypatch.setenv("WORLD_SIZE", "2")
    keys = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        ds = nd.ShardedAudioDataset(urls, sr=8000, equal_batches=False)
        keys += [it["key"] for it in DataLoader(ds, batch_size=None, num_workers=1)]
    assert sorted(keys) == sorted(source_clips([3, 4, 2]))
    ds = nd.ShardedAudioDataset(urls, sr=8000)
    assert len(ds) == 4  # ranks hold 5 and 4 clips (largest first); "drop" keeps 4 on each
