"""Regression tests for the epoch plan: passes never silently empty, one epoch rule under every
loader setting, equal batches whatever each rank's worker count, ranks that verify the plan they
share, states tied to their plan, and counts that add up to what the plan promised."""
import datetime
import json
import os
import socket
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import webdataset as wds
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data._progress import tags_of
from shardkit import encode, keys_of, write_shards

pytestmark = pytest.mark.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))


def _loader(ds, workers, batch=3, **kw):
    return DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=nd.collate_audio, **kw)


def _count(batches):
    return len(keys_of(batches))


@pytest.mark.parametrize("workers", [0, 2])
def test_tracked_passes_each_deliver_the_epoch(tmp_path, workers):
    urls = write_shards(str(tmp_path), [10, 10, 10])
    ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True)
    loader = _loader(ds, workers)
    assert [_count(ds.track(loader)) for _ in range(3)] == [30, 30, 30]
    for _ in range(2):
        ds.set_epoch(0)
        assert _count(ds.track(loader)) == 30


def test_abandoned_passes_and_a_second_loader_lose_nothing(tmp_path):
    urls = write_shards(str(tmp_path), [10, 10, 10])
    ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True)
    for _ in range(20):
        ds.set_epoch(0)
        next(iter(ds.track(_loader(ds, 0))))
    assert _count(ds.track(_loader(ds, 0))) == 30
    first, second = iter(ds.track(_loader(ds, 0, batch=4))), ds.track(_loader(ds, 0, batch=4))
    next(first)
    assert _count(second) == 30


def _orders(urls, workers, persistent):
    ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True)
    loader = _loader(ds, workers, batch=10, persistent_workers=persistent)
    return [{t.epoch for b in loader for t in tags_of(b)} for _ in range(3)]


def test_passes_follow_one_epoch_rule_under_every_loader_setting(tmp_path):
    urls = write_shards(str(tmp_path), [10] * 4)
    want = _orders(urls, 0, False)
    assert _orders(urls, 2, False) == want and _orders(urls, 2, True) == want


def test_set_epoch_reaches_persistent_workers(tmp_path):
    urls = write_shards(str(tmp_path), [10] * 6)
    ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=True)
    loader = _loader(ds, 2, batch=10, persistent_workers=True)
    for epoch in (0, 3, 1):
        ds.set_epoch(epoch)
        assert {t.epoch for b in loader for t in tags_of(b)} == {epoch}


def test_state_from_another_plan_is_refused(tmp_path):
    a = write_shards(str(tmp_path / "a"), [10])
    b = write_shards(str(tmp_path / "b"), [10], prefix="t")
    ds = nd.ShardedAudioDataset(a, sr=8000, equal_batches=True)
    next(iter(ds.track(_loader(ds, 0, batch=2))))
    state = ds.state_dict()
    with pytest.raises(ValueError, match="shard"):
        nd.ShardedAudioDataset(b, sr=8000, equal_batches=True).load_state_dict(state)
    urls = write_shards(str(tmp_path / "c"), [10, 10, 10])
    ds = nd.ShardedAudioDataset(urls, sr=8000, rank=0, world_size=2)
    next(iter(ds.track(_loader(ds, 0, batch=2))))
    with pytest.raises(ValueError, match="world"):
        nd.ShardedAudioDataset(urls, sr=8000, rank=0, world_size=3).load_state_dict(ds.state_dict())


def _cut(path, at):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:at])


def _member_offsets(path):
    """Byte offset of each member's header in a tar written by TarWriter."""
    import tarfile

    with tarfile.open(path) as t:
        return [(m.name, m.offset, m.offset_data, m.offset_data + -(-m.size // 512) * 512)
                for m in t.getmembers()]


def test_clips_an_index_promised_past_a_break_are_counted(tmp_path):
    urls = write_shards(str(tmp_path), [9])
    members = _member_offsets(urls[0])  # two members per sample (wav, cls)
    _cut(urls[0], members[6][2] + 100)  # inside the 4th sample's audio
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip", equal_batches=True)
    _count(ds.track(_loader(ds, 0)))
    s = ds.stats  # (equal batches top the rank up with repeats: counted apart)
    assert s.delivered == 3 and s.delivered + s.total_skipped + s.dropped == 9, s


def test_a_corrupt_header_after_a_complete_sample_keeps_it(tmp_path):
    urls = write_shards(str(tmp_path), [20], index=False)
    members = _member_offsets(urls[0])
    with open(urls[0], "r+b") as f:  # garbage where the 21st sample's header would be
        f.seek(members[-1][3])
        f.write(b"\xff" * 512)
    ds = nd.ShardedAudioDataset(urls, sr=8000, on_error="skip")
    assert _count(_loader(ds, 0)) == 20 and ds.stats.skipped == {"bad_tar": 1}


def test_resume_counts_each_rejection_once(tmp_path):
    bad = [{"__key__": f"bad{i}", "wav": b"RIFF\x00\x00garbage" * 10} for i in range(3)]
    urls = write_shards(str(tmp_path), [2, 10], extra={0: bad})
    make = lambda: nd.ShardedAudioDataset(urls, sr=8000, on_error="skip")  # noqa: E731
    ds = make()
    it = iter(ds.track(_loader(ds, 0, batch=3)))
    next(it), next(it)
    before = ds.stats.total_skipped
    ds2 = make()
    ds2.load_state_dict(json.loads(json.dumps(ds.state_dict())))
    _count(ds2.track(_loader(ds2, 0, batch=3)))
    assert before + ds2.stats.total_skipped == 3


def test_device_loader_prefetch_is_not_counted(tmp_path):
    urls = write_shards(str(tmp_path), [8, 8])
    ds = nd.ShardedAudioDataset(urls, sr=8000)
    consumed = 0
    for b in ds.track(nd.DeviceLoader(_loader(ds, 2, batch=4), device="cpu")):
        consumed += len(b.keys)
        break
    import time

    time.sleep(1.0)  # the workers finish their passes meanwhile
    assert ds.stats.delivered == consumed


# -- real ranks ----------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank, world, port, root, case, out):
    sys.path.insert(0, HERE)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    result = {}
    try:
        if case == "workers":  # rank 0 reads in the main process, rank 1 with two workers
            urls = [os.path.join(root, f"s-{s:04d}.tar") for s in range(4)]
            ds = nd.ShardedAudioDataset(urls, sr=8000)
            loader = _loader(ds, 2 * rank, batch=8, multiprocessing_context="spawn" if rank else None)
            n = 0
            for b in ds.track(loader):
                dist.all_reduce(torch.ones(1))
                n += 1
            result = {"batches": n}
        else:  # rank 1 lists the glob after a shard was added
            pattern = os.path.join(root, "s-*.tar")
            ds = nd.ShardedAudioDataset(pattern, sr=8000) if rank == 0 else None
            dist.barrier()
            if rank == 1:
                write_shards(os.path.join(root, "late"), [4], prefix="x", index=False)
                os.replace(os.path.join(root, "late", "x-0000.tar"), os.path.join(root, "s-9999.tar"))
                ds = nd.ShardedAudioDataset(pattern, sr=8000)
            dist.barrier()
            try:
                ds.set_epoch(0)
                for b in ds.track(_loader(ds, 0, batch=4)):
                    dist.all_reduce(torch.ones(1))
                result = {"error": None}
            except ValueError as e:
                result = {"error": str(e)}
    finally:
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            json.dump(result, f)
        dist.destroy_process_group()


def _spawn(tmp_path, case):
    root = str(tmp_path / "shards")
    write_shards(root, [10] * 4, index=False)
    mp.spawn(_rank, args=(2, _free_port(), root, case, str(tmp_path)), nprocs=2, join=True)
    return [json.load(open(tmp_path / f"rank{r}.json")) for r in range(2)]


def test_equal_batches_hold_whatever_each_ranks_worker_count(tmp_path):
    out = _spawn(tmp_path, "workers")
    assert out[0]["batches"] == out[1]["batches"] == 3, out


def test_ranks_that_list_different_shards_raise_on_every_rank(tmp_path):
    out = _spawn(tmp_path, "glob")
    assert all(o["error"] and "shard" in o["error"] for o in out), out
