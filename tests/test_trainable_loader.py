"""Trainable kernels under DeviceLoader: real optimiser steps between batches, prefetch 0, 1 and 2.

The contract: each batch's ``spec`` is the transform of its (augmented) waveform with the
parameters current when the batch is handed over, and backward through it works after the
previous step moved those parameters in place.
"""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from nnaudio_data import DeviceLoader, GPUSpectrogramCollate
from nnaudio_data.augment import FrequencyMasking, Gain

SR = 8000
FRAMES = dict(sr=SR, n_fft=128, hop_length=64)
# Every transform with a trainable option the collate can hold, at sizes a busy CPU runs quickly.
TRAINABLE = {
    "stft": ("stft", dict(n_fft=128, hop_length=64, trainable=True)),
    "mel_stft": ("mel", dict(FRAMES, n_mels=16, trainable_STFT=True)),
    "mel_basis": ("mel", dict(FRAMES, n_mels=16, trainable_mel=True)),
    "mel_both": ("mel", dict(FRAMES, n_mels=16, trainable_mel=True, trainable_STFT=True)),
    "mfcc": ("mfcc", dict(FRAMES, n_mels=16, n_mfcc=8, trainable_mel=True)),
    "gammatone": ("gammatone", dict(FRAMES, n_bins=16, trainable_bins=True, trainable_STFT=True)),
    "cqt": ("cqt", dict(sr=SR, hop_length=64, fmin=110.0, n_bins=24, trainable=True)),
}
# Tolerances: the reference runs the same module on the same input with the same parameters, but
# without autograd, where BLAS may take another path (a batch of one: gemv for gemm), so agreement
# is to float32 rounding (seen: 6e-8 on values near 0.3). One Adam step moves every parameter by
# about its learning rate (>= 1e-3 here), which moves the spectrogram by orders of magnitude more.
TOL = dict(rtol=1e-5, atol=1e-6)
LR = 1e-2


def clips(n=12, t=1024):
    g = torch.Generator().manual_seed(0)
    return [{"waveform": torch.randn(1, t, generator=g), "key": f"k{i}", "label": i % 2} for i in range(n)]


def train(collate, loader, prefetch, lr=LR):
    """A training loop as a user writes it; returns how many batches were checked."""
    params = list(collate.parameters())
    assert params and all(p.requires_grad for p in params)
    opt = torch.optim.Adam(params, lr=lr)
    first = [p.detach().clone() for p in params]
    n = 0
    for batch in DeviceLoader(loader, prefetch=prefetch):
        assert not batch.pending
        with torch.no_grad():  # the transform with the parameters of this moment
            want = collate.transform(batch.waveform[:, 0])
        if collate.spec_augment is not None:
            want, _, _ = collate.spec_augment(want, params=batch.params["spec_augment"])
        torch.testing.assert_close(batch.spec, want, **TOL)
        loss = batch.spec.float().pow(2).mean()
        opt.zero_grad()
        loss.backward()          # no "modified by an inplace operation" after the last step
        opt.step()
        n += 1
    assert any(not torch.equal(a, p) for a, p in zip(first, params)), "the steps moved the kernel"
    return n


@pytest.mark.parametrize("prefetch", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_batches_use_the_parameters_current_at_hand_over(name, prefetch):
    kind, kw = TRAINABLE[name]
    collate = GPUSpectrogramCollate(kind, device="cpu", augment=Gain((-6.0, 6.0)), **kw)
    loader = DataLoader(clips(), batch_size=3, num_workers=0, collate_fn=collate)
    assert train(collate, loader, prefetch) == 4


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(["stft", "mel_basis", "mel_both"]), prefetch=st.integers(0, 4),
       n=st.integers(2, 9), batch=st.integers(1, 4), lr=st.sampled_from([1e-3, 1e-2, 1e-1]),
       spec_mask=st.booleans())
def test_random_worlds_every_batch_sees_the_current_parameters(name, prefetch, n, batch, lr, spec_mask):
    kind, kw = TRAINABLE[name]
    collate = GPUSpectrogramCollate(kind, device="cpu", augment=Gain((-6.0, 6.0)),
                                    spec_augment=FrequencyMasking(3) if spec_mask else None, **kw)
    loader = DataLoader(clips(n, 512), batch_size=batch, collate_fn=collate)
    assert train(collate, loader, prefetch, lr) == -(-n // batch)


@pytest.mark.parametrize("prefetch", [1, 2])
def test_batches_from_workers_use_the_current_parameters_with_spec_augment(prefetch):
    kind, kw = TRAINABLE["mel_both"]
    collate = GPUSpectrogramCollate(kind, device="cpu", augment=Gain((-6.0, 6.0)),
                                    spec_augment=FrequencyMasking(4), **kw)
    loader = DataLoader(clips(), batch_size=2, num_workers=2, collate_fn=collate)
    assert train(collate, loader, prefetch) == 6


def test_fixed_kernel_still_runs_ahead_and_trainable_waits():
    """Look-ahead: a fixed kernel's spectrogram is ready when the batch is prepared; a trainable
    kernel's batch arrives on the device with its augmentation done and the kernel pending."""
    batches = [{"waveform": torch.randn(1, 512)} for _ in range(2)]
    fixed = GPUSpectrogramCollate("stft", device="cpu", n_fft=64)
    fb = fixed(batches)
    assert fb.finish(ahead=True).spec is not None and not fb.pending
    kind, kw = TRAINABLE["mel_basis"]
    trainable = GPUSpectrogramCollate(kind, device="cpu", augment=Gain((-6.0, 6.0)), **kw)
    tb = trainable(batches)
    assert tb.pending, "a trainable kernel is deferred even without workers"
    tb.finish(ahead=True)
    assert tb.pending and tb._spec is None and "augment" in tb.params
    assert tb.spec.requires_grad and not tb.pending


@pytest.mark.cuda
@pytest.mark.parametrize("prefetch", [0, 1, 2])
def test_trainable_kernel_on_cuda_side_stream(prefetch):
    """On CUDA: copies and waveform augmentation on the side stream, the kernel on the current
    stream at hand-over. Tolerance: cuBLAS/cuDNN may pick other algorithms for the reference call,
    so agreement is to float32 rounding, far below one Adam step (LR)."""
    kind, kw = TRAINABLE["mel_both"]
    collate = GPUSpectrogramCollate(kind, device="cuda", augment=Gain((-6.0, 6.0)), **kw)
    loader = DataLoader(clips(), batch_size=3, num_workers=2, pin_memory=True, collate_fn=collate)
    params = list(collate.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    for batch in DeviceLoader(loader, prefetch=prefetch):
        assert batch.spec.is_cuda and not batch.pending
        with torch.no_grad():
            want = collate.transform(batch.waveform[:, 0])
        torch.testing.assert_close(batch.spec, want, rtol=1e-5, atol=1e-6)
        batch.spec.pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
