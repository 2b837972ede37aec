"""CFP against nnAudio 0.3's CFP, a known-answer harmonic tone, shapes, batching, errors."""
import math

import numpy as np
import pytest
import scipy.signal
import scipy.signal.windows
import torch

from nnaudio_data.features._cfp import CFP

nnaudio_cfp = pytest.importorskip("nnAudio.features.cfp")

TOL = {
    # the same STFT, FFTs and power laws in float32: rounding only. The power laws (x ** 0.24) and
    # the cepstrum's relu amplify rounding near zero, hence relative to the largest value.
    "nnaudio": 1e-4,
    # batched vs stacked: the same arithmetic.
    "same": dict(rtol=1e-5, atol=1e-6),
}


@pytest.fixture
def nnaudio_reference(monkeypatch):
    # nnAudio 0.3 calls scipy.signal.blackmanharris, which SciPy >= 1.13 keeps in scipy.signal.windows
    # only: restore the alias so that the reference module can be built.
    if not hasattr(scipy.signal, "blackmanharris"):
        monkeypatch.setattr(scipy.signal, "blackmanharris", scipy.signal.windows.blackmanharris,
                            raising=False)
    return nnaudio_cfp.CFP


def _harmonic(sr, f0, seconds=1.0, n_harm=6):
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    return sum(torch.sin(2 * math.pi * f0 * h * t) / h for h in range(1, n_harm + 1)).float()


@pytest.mark.parametrize("kw", [
    dict(),
    dict(fr=4, fs=8000, fc=100, tc=1 / 2000, window_size=1025, hop_length=160, NumPerOct=24),
    dict(g=[0.3, 0.5, 0.8, 0.4]),
])
def test_matches_nnaudio(nnaudio_reference, kw):
    fs = kw.get("fs", 16000)
    g = torch.Generator().manual_seed(0)
    x = torch.stack([_harmonic(fs, 220.0), _harmonic(fs, 330.0) + 0.05 * torch.randn(fs, generator=g)])
    with pytest.warns(RuntimeWarning):  # nnAudio divides by zero building its quefrency axis
        ref_mod = nnaudio_reference(**kw)
    ref = ref_mod(x)
    ours = CFP(**kw)(x)
    assert ours.shape == ref.shape
    assert float((ours - ref).abs().max() / ref.abs().max()) < TOL["nnaudio"]


@pytest.mark.parametrize("f0", [130.8, 220.0, 392.0])
def test_harmonic_tone_peaks_at_its_pitch(f0):
    cfp = CFP()
    z = cfp(_harmonic(16000, f0))[0, :, 5:-5].mean(-1)
    cf = 80 * 2 ** (np.arange(z.shape[0] + 1) / 48)
    assert abs(math.log2(cf[int(z.argmax())] / f0)) < 1.5 / 48  # within 1.5 bins of the pitch


def test_shapes_and_batching():
    cfp = CFP(fr=4, fs=8000, fc=100, tc=1 / 2000, window_size=1025, hop_length=160)
    x = torch.randn(3, 2, 4000, generator=torch.Generator().manual_seed(1))
    n = 4000 // 160 + 1
    assert cfp(x[0, 0]).shape == (1, 207, n)
    assert cfp(x[:, 0]).shape == (3, 207, n)
    assert cfp(x[:, :1]).shape == (3, 207, n)
    out = cfp(x)
    assert out.shape == (3, 2, 207, n)
    stacked = torch.stack([torch.stack([cfp(x[b, c])[0] for c in range(2)]) for b in range(3)])
    torch.testing.assert_close(out, stacked, **TOL["same"])
    assert cfp(x[:, 0].half()).dtype == torch.float16
    with pytest.raises(ValueError, match="x must be"):
        cfp(torch.randn(1, 1, 1, 4000))


@pytest.mark.parametrize("kwargs,match", [
    (dict(fr=0), "fr must be > 0"),
    (dict(window_size=9000), r"window_size must be an int in \(0, fs / fr\] = \(0, 8000\]"),
    (dict(hop_length=0), "hop_length must be a positive int"),
    (dict(tc=1 / 9000), r"1 / tc must be <= fs / 2 \(8000.0\)"),
    (dict(fc=2000), "fc must be in"),
    (dict(g=[0.2]), "g must hold at least 2"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CFP(**kwargs)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    cfp = CFP()
    x = _harmonic(16000, 220.0)[None]
    ref = cfp(x)
    torch.testing.assert_close(cfp.cuda()(x.cuda()).cpu(), ref, rtol=1e-3, atol=1e-4 * float(ref.max()))
