"""The CPU path without autograd (``functional/_threaded.py``): the same values as the torch path
(``torch.stft``, then the filterbank) over random configurations, independent of the thread count,
safe after a fork, used by the features when no gradient is wanted, and without the fresh memory
per call that made the Mel's rounds bimodal."""
import multiprocessing as mp
import resource

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.features import STFT, MelSpectrogram
from nnaudio_data.functional._filterbank import apply_filterbank, band_blocks
from nnaudio_data.functional._mel import mel_filterbank
from nnaudio_data.functional._spectral import spectrum_fft
from nnaudio_data.functional._threaded import power_threaded, run_shared

# Tolerances, relative to the largest value of the output:
TOL = {
    # two FFT implementations (scipy's pocketfft, torch's MKL / pocketfft) in float32: each bin's
    # error is a few ulps of the frame's energy; the square doubles it
    torch.float32: 2e-5,
    # the same in float64
    torch.float64: 1e-12,
}


def _reference(x, window, hop, bins, center, pad_mode):
    re, im = spectrum_fft(x, window, hop, bins, center, pad_mode)
    return re.square() + im.square()


def _close(a, b, dtype):
    assert a.shape == b.shape and a.dtype == b.dtype
    err = (a - b).abs().max() / b.abs().max().clamp_min(1e-30)
    assert err <= TOL[dtype], float(err)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 3), n_fft=st.sampled_from([16, 64, 256, 500]), hop_div=st.integers(1, 4),
       extra=st.integers(0, 700), center=st.booleans(), pad_mode=st.sampled_from(["reflect", "constant"]),
       drop_bins=st.integers(0, 5), workers=st.integers(1, 3),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
def test_power_equals_the_torch_path(batch, n_fft, hop_div, extra, center, pad_mode, drop_bins, workers,
                                     dtype, seed):
    x = torch.randn(batch, n_fft + extra, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    window = torch.hann_window(n_fft, dtype=dtype)
    hop, bins = max(1, n_fft // hop_div), n_fft // 2 + 1 - min(drop_bins, n_fft // 2)
    ref = _reference(x, window, hop, bins, center, pad_mode)
    _close(power_threaded(x, window, hop, bins, center, pad_mode, workers=workers), ref, dtype)
    _close(power_threaded(x, window, hop, bins, center, pad_mode, exponent=0.5, workers=workers),
           ref.sqrt(), dtype)
    basis = mel_filterbank(8000, n_fft, 8).to(dtype)[:, :bins]
    through = power_threaded(x, window, hop, bins, center, pad_mode, exponent=1.5,
                             filterbank=(basis, band_blocks(basis)), workers=workers)
    _close(through, apply_filterbank(ref.pow(1.5), basis), dtype)
    assert through.is_contiguous()


def test_the_thread_count_changes_nothing():
    x = torch.randn(3, 20_000)
    window = torch.hann_window(1024)
    one = power_threaded(x, window, 256, 513, workers=1)
    assert torch.equal(one, power_threaded(x, window, 256, 513, workers=3))  # bit for bit


def _in_child(q):
    torch.set_num_threads(1)  # as a DataLoader worker: torch's own OpenMP pool does not survive a fork
    x = torch.randn(2, 9000)
    q.put(float(power_threaded(x, torch.hann_window(512), 128, 257, workers=2).sum()))


def test_a_forked_child_gets_threads_of_its_own():
    power_threaded(torch.randn(4, 9000), torch.hann_window(512), 128, 257, workers=2)  # parent's pool
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_in_child, args=(q,))
    p.start()
    try:
        assert q.get(timeout=120) > 0  # a pool inherited by the fork has no threads: it would hang
    finally:
        p.join(30)
        if p.is_alive():
            p.kill()


def test_run_shared_raises_the_first_error_after_all_items_stopped():
    done = []

    def fn(item):
        if item[0] == 2:
            raise KeyError("two")
        done.append(item[0])

    with pytest.raises(KeyError, match="two"):
        run_shared(fn, [(i, 0, 0) for i in range(6)], 3)
    assert sorted(done) == [0, 1, 3, 4, 5]


def test_features_take_it_only_without_a_gradient():
    mel = MelSpectrogram(sr=16000, n_fft=512, hop_length=128, n_mels=40)
    x = torch.randn(2, 1, 8000)
    assert mel.stft.threaded(x[:, 0]) and not mel.stft.threaded(x[:, 0].requires_grad_())
    y = mel(x)
    xg = x.clone().requires_grad_()
    yg = mel(xg)  # the torch path, with autograd
    yg.sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    _close(y, yg.detach(), torch.float32)
    stft = STFT(n_fft=512, hop_length=128, output_format="Magnitude")
    _close(stft(x), stft(x.clone().requires_grad_()).detach(), torch.float32)
    assert not STFT(n_fft=512, backend="conv1d").threaded(x[:, 0])  # conv1d kernels: no


def test_a_mel_call_allocates_no_fresh_memory_beyond_its_output():
    """The cause of the bimodal Mel rounds: every other call of the torch path took about 40 MB of
    fresh pages from the system (some 10,000 page faults), the allocator having returned them.
    Now one call faults in at most a few times its output (which is fresh memory by design)."""
    torch.set_num_threads(2)
    mel = MelSpectrogram(sr=44100, n_fft=2048, hop_length=512, n_mels=128)
    x = torch.randn(16, 80_000)
    for _ in range(3):
        out = mel(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(6):
        out = mel(x)
    per_call = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 6
    output_pages = out.numel() * out.element_size() / 4096
    assert per_call <= 4 * output_pages, (per_call, output_pages)
