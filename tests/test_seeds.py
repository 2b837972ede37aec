"""One seeding function for every random stream: ranks and workers differ, reruns repeat bit for bit.

The two-rank test runs real ranks (gloo, one process each) whose collates find their rank in the
process group, in the main process and in a spawned DataLoader worker (which has no process group:
the rank travels with the pickled collate); the draws must equal those of this process built with
an explicit ``rank=``, and differ between ranks.
"""
import datetime
import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data._seed import STREAMS, derive_seed, generator
from nnaudio_data.augment import FrequencyMasking, Gain

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS = [{"waveform": torch.ones(1, 256), "label": 0}] * 4


def test_known_seeds_do_not_change():
    """Pinned values: a change here would silently change every run's draws."""
    assert {s: derive_seed(7, 1, 2, 3, s) for s in STREAMS} == {
        "shard_order": 160557564239140507, "shuffle": 1152471352411815236, "crop": 7373300958411904755,
        "augment": 7899580992257518370, "spec_augment": 8391204345845177957,
        "partition": 2823057211311942476, "batches": 1118851516075656658}


def test_seeds_repeat_in_a_fresh_interpreter():
    import subprocess

    code = ("from nnaudio_data._seed import derive_seed, STREAMS;"
            "print([derive_seed(7, 1, 2, 3, s, 5) for s in STREAMS])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": ROOT, "PYTHONHASHSEED": "123"}, check=True)
    assert out.stdout.strip() == str([derive_seed(7, 1, 2, 3, s, 5) for s in STREAMS])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
                          st.sampled_from(STREAMS)), min_size=2, max_size=20, unique=True))
def test_distinct_streams_get_distinct_seeds(keys):
    seeds = [derive_seed(*k) for k in keys]
    assert len(set(seeds)) == len(keys)
    assert seeds == [derive_seed(*k) for k in keys]


@pytest.mark.parametrize("args, match", [
    ((0, 0, 0, 0, "colour"), "stream must be one of"),
    ((-1, 0, 0, 0, "crop"), "seed must be an int >= 0, got -1"),
    ((0, 0, 1.5, 0, "crop"), "rank must be an int >= 0, got 1.5"),
    ((0, 0, 0, 0, "crop", -2), "more must be an int >= 0, got -2"),
])
def test_bad_arguments_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        derive_seed(*args)


def test_generator_is_seeded_by_derive_seed():
    assert torch.equal(torch.rand(3, generator=generator(1, 2, 3, 4, "crop")),
                       torch.rand(3, generator=torch.Generator().manual_seed(derive_seed(1, 2, 3, 4, "crop"))))


def make_collate(rank=None):
    return nd.GPUSpectrogramCollate("stft", device="cpu", n_fft=64, augment=Gain((-20.0, 20.0)),
                                    spec_augment=FrequencyMasking(8), seed=5, rank=rank)


def draws(collate, workers=0, ctx=None):
    """Every augmentation parameter the collate draws over two batches."""
    loader = DataLoader(CLIPS, batch_size=2, num_workers=workers, collate_fn=collate,
                        multiprocessing_context=ctx)
    out = []
    for b in loader:
        b.spec
        out.append(b.params["augment"]["gain_db"])
        out.append(b.params["spec_augment"]["start"].float().flatten())
    return torch.cat(out).tolist()


def test_explicit_ranks_draw_differently_and_repeat():
    assert draws(make_collate(0)) == draws(make_collate(0))
    assert draws(make_collate(0)) != draws(make_collate(1))
    with pytest.raises(ValueError, match="rank must be an int >= 0 or None, got -1"):
        make_collate(-1)


def test_rank_comes_from_torchrun_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    collate = make_collate()
    assert draws(collate) == draws(make_collate(1))
    assert collate.__reduce__()[1][1]["rank"] == 1, "a spawned worker gets the rank with the collate"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, path, queue):
    sys.path.insert(0, path)
    torch.set_num_threads(1)
    os.environ.pop("RANK", None), os.environ.pop("WORLD_SIZE", None)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    try:
        collate = make_collate()  # rank from the process group
        queue.put((rank, draws(collate), draws(collate, workers=1, ctx="spawn")))
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_real_ranks_draw_differently_and_as_an_explicit_rank_does():
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.spawn(_rank_main, args=(2, _free_port(), ROOT, queue), nprocs=2, join=True)
    got = dict((r, (main, worker)) for r, main, worker in (queue.get() for _ in range(2)))
    for r in (0, 1):
        main, worker = got[r]
        assert main == draws(make_collate(r)), f"rank {r}: main-process draws repeat bit for bit"
        assert worker == draws(make_collate(r), workers=1), f"rank {r}: worker draws repeat"
        assert main != worker, "the main process and the worker draw differently"
    assert got[0][0] != got[1][0] and got[0][1] != got[1][1], "ranks draw differently"
