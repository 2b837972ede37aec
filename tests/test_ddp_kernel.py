"""A trainable kernel under DDP (2 real gloo ranks on 127.0.0.1): after N optimiser steps the
collate's kernel is bit-identical on both ranks and equals a single process's trained on the
concatenated batch. Without the sync each rank's kernel follows its own half of the batch."""
import datetime
import os
import socket
import sys
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader

# Tolerances: rank vs single process on the concatenated batch. The two compute the same gradient
# in another order (each rank's mean over its half, averaged by the all-reduce, vs one mean over
# the whole batch), so float32 rounding differs by a few ulps per step; over STEPS steps of SGD on
# weights of order 1 that stays far below 1e-5.
RTOL, ATOL = 1e-5, 1e-6
WORLD, HALF, STEPS, N_MELS, SR, T = 2, 4, 3, 8, 8000, 800


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clips():
    g = torch.Generator().manual_seed(7)
    return [torch.randn(T, generator=g) for _ in range(WORLD * HALF * STEPS)]


def _labels():
    return torch.arange(WORLD * HALF * STEPS) % 3


def _setup():
    import nnaudio_data as nd

    collate = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=SR, n_fft=64, hop_length=32,
                                       n_mels=N_MELS, trainable_mel=True)
    torch.manual_seed(0)
    model = nn.Linear(N_MELS, 3)
    return collate, model


def _train(collate, model, batches):
    opt = torch.optim.SGD(list(model.parameters()) + list(collate.parameters()), lr=0.5)
    for waveforms, labels in batches:
        spec = waveforms.spec.mean(-1)  # (B, F)
        loss = nn.functional.cross_entropy(model(spec), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in collate.state_dict().items()}


def _rank_main(rank, port, out):
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    import nnaudio_data as nd

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=600))
    try:
        collate, model = _setup()
        ddp_model = nn.parallel.DistributedDataParallel(model)
        clips, labels = _clips(), _labels()
        mine = [i for s in range(STEPS) for i in range(s * WORLD * HALF + rank * HALF,
                                                         s * WORLD * HALF + (rank + 1) * HALF)]
        loader = DataLoader([clips[i] for i in mine], batch_size=HALF, collate_fn=collate)
        batches = zip(nd.DeviceLoader(loader), labels[mine].split(HALF))
        torch.save(_train(collate, ddp_model, batches), os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned ranks importing torch: ~20 s on two busy cores
def test_trainable_kernel_is_synced_across_ranks(tmp_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bounds import join_processes

    join_processes(mp.spawn(_rank_main, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False),
                   "2 ranks")
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    collate, model = _setup()
    start = {k: v.clone() for k, v in collate.state_dict().items()}
    clips, labels = _clips(), _labels()
    whole = [(collate(clips[s * WORLD * HALF:(s + 1) * WORLD * HALF]), labels[s * WORLD * HALF:(s + 1) * WORLD * HALF])
             for s in range(STEPS)]
    single = _train(collate, model, whole)
    for name, value in single.items():
        assert torch.equal(states[0][name], states[1][name]), f"{name}: ranks differ"
        torch.testing.assert_close(states[0][name], value, rtol=RTOL, atol=ATOL, msg=name)
    assert any(not torch.equal(start[k], single[k]) for k in start), "the kernel did not train"


def test_no_process_group_runs_the_kernel_itself():
    collate, _ = _setup()
    batch = collate([torch.randn(T), torch.randn(T)])
    batch.spec  # runs the pending stage
    assert collate._kernel_runner(collate.device) is collate.transform
