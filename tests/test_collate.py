"""The collate contract: where the device stage runs, with real DataLoader worker processes."""
import os
import pickle

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import nnaudio_data as nd
from clipkit import Batches, mixed_clips
from nnaudio_data._collate import GPUSpectrogramCollate, collate_audio


class PidSpec(nn.Module):
    """A stand-in kernel whose output records the process that ran it: (B, T) -> (B, 1, 1)."""

    def forward(self, x):
        return torch.full((x.shape[0], 1, 1), float(os.getpid()))


class FrameEnergy(nn.Module):
    """A real (if tiny) framed transform: (B, T) or (B, C, T) -> energy per frame (B[, C], 1, N)."""

    def forward(self, x):
        frames = x.unfold(-1, 8, 8)
        return frames.pow(2).sum(-1).unsqueeze(-2)


def clips(n, t=64):
    g = torch.Generator().manual_seed(0)
    return [{"waveform": torch.randn(1, t - (i % 3), generator=g), "key": f"k{i}", "label": i}
            for i in range(n)]


def test_collate_pads_and_keeps_keys_labels_lengths():
    items = clips(5)
    b = collate_audio(items)
    assert b.waveform.shape == (5, 1, 64)
    assert b.lengths.tolist() == [64, 63, 62, 64, 63]
    assert b.keys == [f"k{i}" for i in range(5)]
    assert b.labels.tolist() == list(range(5))
    for i, it in enumerate(items):
        n = it["waveform"].shape[-1]
        assert torch.equal(b.waveform[i, :, :n], it["waveform"])
        assert not b.waveform[i, :, n:].any()
    assert b.mask.sum(1).tolist() == b.lengths.tolist()


def test_collate_accepts_tuples_tensors_and_string_labels():
    b = collate_audio([(torch.ones(10), 16000, "dog", 3), (torch.ones(1, 10), 16000, "cat", 4)])
    assert b.labels == ["dog", "cat"] and b.waveform.shape == (2, 1, 10)
    b = collate_audio([torch.ones(2, 5), torch.ones(2, 7)])
    assert b.waveform.shape == (2, 2, 7) and b.labels is None


def test_collate_valid_length_from_sample():
    b = collate_audio([{"waveform": torch.ones(1, 10), "length": 6}])
    assert b.lengths.tolist() == [6]


@pytest.mark.parametrize("bad, match", [
    ([], "at least one clip"),
    ([torch.ones(1, 2, 3)], r"\(T,\) or \(C, T\)"),
    ([torch.ones(1, 4), torch.ones(2, 4)], "same channel count"),
    ([{"audio": torch.ones(4)}], "without a 'waveform'"),
])
def test_collate_errors_name_the_problem(bad, match):
    with pytest.raises((ValueError, KeyError), match=match):
        collate_audio(bad)


def test_collate_arguments_are_validated():
    with pytest.raises(ValueError, match="where must be one of"):
        GPUSpectrogramCollate(FrameEnergy(), where="gpu")
    with pytest.raises(ValueError, match="kind must be one of"):
        GPUSpectrogramCollate("wavelet")
    with pytest.raises(ValueError, match="only accepted with a kind name"):
        GPUSpectrogramCollate(FrameEnergy(), n_fft=512)


def test_main_process_computes_spec_on_device():
    collate = GPUSpectrogramCollate(FrameEnergy(), device="cpu")
    loader = DataLoader(clips(6), batch_size=3, collate_fn=collate)
    for b in loader:
        assert not b.pending
        ref = FrameEnergy()(b.waveform[:, 0])
        torch.testing.assert_close(b.spec, ref)


def _pids(collate, num_workers):
    loader = DataLoader(clips(8), batch_size=2, num_workers=num_workers, collate_fn=collate)
    seen = []
    for b in loader:
        seen.append((b.pending, int(b.spec.flatten()[0].item())))
    return seen


def test_cpu_target_computes_in_workers():
    seen = _pids(GPUSpectrogramCollate(PidSpec(), device="cpu"), num_workers=2)
    assert all(not pending for pending, _ in seen)
    pids = {pid for _, pid in seen}
    assert os.getpid() not in pids and len(pids) == 2  # both workers did kernel work


def test_deferred_stage_runs_in_main_process_on_access():
    seen = _pids(GPUSpectrogramCollate(PidSpec(), device="cpu", where="main"), num_workers=2)
    assert all(pending for pending, _ in seen)  # arrived pending from the workers
    assert {pid for _, pid in seen} == {os.getpid()}


def test_trainable_kernel_is_deferred_and_is_the_main_process_module():
    kernel = nn.Conv1d(1, 4, 8, stride=8, bias=False)
    model = nn.Sequential(nn.Unflatten(1, (1, -1)), kernel)  # (B, T) -> (B, 4, N)
    collate = GPUSpectrogramCollate(model, device="cpu")
    loader = DataLoader(clips(4), batch_size=2, num_workers=2, collate_fn=collate)
    for b in loader:
        assert b.pending
        b.spec.sum().backward()  # gradients reach the kernel the optimiser holds
    assert kernel.weight.grad is not None and kernel.weight.grad.abs().sum() > 0


def test_collate_pickles_as_a_token_and_restores_the_live_object():
    collate = GPUSpectrogramCollate(FrameEnergy(), device="cpu")
    assert pickle.loads(pickle.dumps(collate)) is collate
    stage = pickle.loads(pickle.dumps(collate.device_stage))
    assert stage.__self__ is collate


def test_multichannel_spec_keeps_channels():
    collate = GPUSpectrogramCollate(FrameEnergy(), device="cpu")
    b = collate([torch.randn(2, 64), torch.randn(2, 64)])
    assert b.spec.shape == (2, 2, 1, 8)


def test_augment_runs_only_in_training():
    collate = GPUSpectrogramCollate(FrameEnergy(), device="cpu", augment=lambda x: 2 * x)
    x = [torch.ones(1, 16)]
    assert torch.equal(collate(x).waveform, 2 * torch.ones(1, 1, 16))
    assert torch.equal(collate.eval()(x).waveform, torch.ones(1, 1, 16))
    assert "augment=" in repr(collate)


@pytest.mark.cuda
def test_cuda_workers_never_touch_cuda_and_batch_arrives_on_device():
    collate = GPUSpectrogramCollate(FrameEnergy(), device="cuda")
    loader = DataLoader(clips(8), batch_size=2, num_workers=2, pin_memory=True, collate_fn=collate)
    for b in loader:
        assert b.pending and b.waveform.is_pinned()
        assert b.spec.is_cuda
    for b in nd.DeviceLoader(loader):
        assert not b.pending and b.spec.is_cuda
        torch.testing.assert_close(b.spec, FrameEnergy()(b.waveform[:, 0]))


@pytest.mark.parametrize("strategy", ["file_descriptor", "file_system"])
def test_worker_batches_in_shared_memory_equal_main_process_batches(strategy):
    """Inside workers the batch is shared memory written through its descriptor (or the mapping):
    the same values, padding included, as collating in the main process."""
    import torch.multiprocessing as tmp

    batches = mixed_clips(1)
    before = tmp.get_sharing_strategy()
    tmp.set_sharing_strategy(strategy)
    try:
        loader = DataLoader(Batches(batches), batch_size=None, num_workers=1, collate_fn=collate_audio)
        got = list(loader)
    finally:
        tmp.set_sharing_strategy(before)
    for batch, samples in zip(got, batches):
        want = collate_audio(samples)
        assert batch.waveform.dtype == torch.float32 and torch.equal(batch.waveform, want.waveform)
        assert batch.lengths.tolist() == want.lengths.tolist()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_small_tensors_travel_inside_the_pickle(method):
    """From a worker, lengths and labels up to INLINE_BYTES arrive as plain tensors of the same
    dtype, shape and values (no shared-memory file, no descriptor round trip); a waveform past it,
    a label dtype numpy cannot hold (bfloat16) and large labels travel as shared memory."""
    from nnaudio_data._sharedmem import INLINE_BYTES

    g = torch.Generator().manual_seed(7)
    wave = [torch.randn(1, 9000 + 100 * i, generator=g) for i in range(3)]
    big = INLINE_BYTES // 4 // 3 + 1  # three float32 rows of this many: past INLINE_BYTES
    labels = {"int": [3, 1, 4], "multi-hot": [torch.tensor([0.0, 1.0, 1.0]) * i for i in range(3)],
              "bfloat16": [torch.tensor([0.5 * i], dtype=torch.bfloat16) for i in range(3)],
              "large": [torch.full((big,), float(i)) for i in range(3)]}
    batches = [[{"waveform": w, "label": lab, "length": 5000 + i} for i, (w, lab) in enumerate(zip(wave, labs))]
               for labs in labels.values()]
    loader = DataLoader(Batches(batches), batch_size=None, num_workers=1, collate_fn=collate_audio,
                        multiprocessing_context=method)
    got = list(loader)
    assert len(got) == len(batches)
    for name, batch, samples in zip(labels, got, batches):
        want = collate_audio(samples)
        assert batch.lengths.dtype == torch.int64 and torch.equal(batch.lengths, want.lengths)
        assert batch.labels.dtype == want.labels.dtype and torch.equal(batch.labels, want.labels), name
        assert not batch.lengths.is_shared()
        assert batch.labels.is_shared() == (name in ("bfloat16", "large")), name
        assert batch.waveform.is_shared() and torch.equal(batch.waveform, want.waveform)


def test_only_the_process_queue_inlines_small_tensors():
    """ForkingPickler (a worker's queue) carries lengths inside the pickle; pickle, copy and
    deepcopy of a batch keep plain tensors everywhere, in a worker too."""
    import copy

    from multiprocessing.reduction import ForkingPickler

    from nnaudio_data._sharedmem import _Inline

    b = collate_audio(clips(3))
    reduce = ForkingPickler._extra_reducers[type(b)]  # what the queue's pickler does with a batch
    _, (state,) = reduce(b)
    assert isinstance(state["lengths"], _Inline) and isinstance(state["labels"], _Inline)
    sent = pickle.loads(ForkingPickler.dumps(b))
    for other in (sent, pickle.loads(pickle.dumps(b)), copy.copy(b), copy.deepcopy(b)):
        assert type(other.lengths) is torch.Tensor and torch.equal(other.lengths, b.lengths)
        assert type(other.labels) is torch.Tensor and torch.equal(other.labels, b.labels)
        assert torch.equal(other.waveform, b.waveform) and other.keys == b.keys
