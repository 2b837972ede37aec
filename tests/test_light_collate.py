"""Building a collate imports no heavy module: the common analysis windows are computed as scipy
computes them (bit for bit) without importing scipy.signal, which took seconds on a busy machine
in every process that built a kernel."""
import numpy as np
import pytest
import scipy.signal
import torch

from nnaudio_data.functional import get_window
from test_imports import HEAVY, _modules_after


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "boxcar", "ones"])
@pytest.mark.parametrize("fftbins", [True, False])
def test_windows_equal_scipys_bit_for_bit(name, fftbins):
    for m in list(range(1, 70)) + [255, 256, 400, 512, 1023, 2048]:
        ours = get_window(name, m, fftbins=fftbins, dtype=torch.float64).numpy()
        theirs = scipy.signal.get_window("boxcar" if name == "ones" else name, m, fftbins=fftbins)
        assert np.array_equal(ours, theirs), (name, m, fftbins)


@pytest.mark.parametrize("kind,args", [
    ("logmel", "sr=16000, n_fft=512, hop_length=128, n_mels=40, trainable_mel=True"),
    ("stft", "n_fft=512, hop_length=128"),
    ("mfcc", "sr=16000, n_mfcc=13"),
])
def test_building_a_collate_imports_no_heavy_module(kind, args):
    loaded = _modules_after("import torch, nnaudio_data as nd\n"
                            f"c = nd.GPUSpectrogramCollate({kind!r}, device='cpu', {args})\n"
                            "assert c.transform is not None")
    assert sorted(m for m in HEAVY if m in loaded) == []
