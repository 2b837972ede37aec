"""Gammatonegram against nnAudio; Griffin-Lim convergence against librosa's; registry kinds."""
import librosa
import numpy as np
import pytest
import torch

from nnaudio_data.features import KINDS, Gammatonegram, Griffin_Lim, STFT, make_transform
from nnaudio_data.functional._gammatone import gammatone_filterbank
from spectral_signals import SIGNALS, chords, sine

TOL = {
    # our float64 port of nnAudio's float32-stored gammatone weights
    "filterbank": dict(rtol=1e-5, atol=1e-9),
    # nnAudio's conv1d STFT vs our FFT; same filterbank
    "nnaudio": dict(rtol=1e-3, atol=1e-5),
    # spectral convergence after 32 iterations: ours may trail librosa's (another random start)
    # by at most 25%, and must be below 0.2 in absolute terms
    "griffin_lim_ratio": 1.25,
    "griffin_lim_sc": 0.2,
}
SR = 22050


def test_filterbank_and_spectrogram_match_nnaudio():
    from nnAudio.features import Gammatonegram as NNAudioGT
    from nnAudio.librosa_functions import get_gammatone

    for sr, n_fft, n_bins, fmin, fmax in ((22050, 2048, 64, 0.0, None), (16000, 512, 32, 50.0, 7000.0)):
        np.testing.assert_allclose(gammatone_filterbank(sr, n_fft, n_bins, fmin, fmax).numpy(),
                                   get_gammatone(sr, n_fft, n_bins, fmin, fmax), **TOL["filterbank"])
    x = torch.from_numpy(np.stack([SIGNALS[k](SR, 9000) for k in SIGNALS]))
    ours = Gammatonegram()(x)
    torch.testing.assert_close(ours, NNAudioGT(verbose=False)(x), **TOL["nnaudio"])
    assert Gammatonegram()(torch.stack([x, x], 1)).shape == (2, 2, 64, 18)


def test_gammatone_tone_peaks_near_its_centre():
    gt = Gammatonegram(sr=16000, n_fft=1024, hop_length=256, n_bins=40)
    out = gt(torch.from_numpy(sine(1000.0, 16000, 8000)))[0].mean(-1)
    basis = gt.gammatone_basis
    assert out.argmax() == (basis[:, round(1000 * 1024 / 16000)]).argmax()


def _spectral_convergence(S, y):
    Y = np.abs(librosa.stft(y, n_fft=1024, hop_length=256, pad_mode="reflect"))
    return np.linalg.norm(S - Y) / np.linalg.norm(S)


@pytest.mark.parametrize("signal", list(SIGNALS))
def test_griffin_lim_converges_like_librosa(signal):
    x = SIGNALS[signal](SR, 16000)
    S = np.abs(librosa.stft(x, n_fft=1024, hop_length=256, pad_mode="reflect"))
    gl = Griffin_Lim(1024, n_iter=32, hop_length=256)
    ours, theirs = [], []
    for seed in range(3):
        y = gl(torch.from_numpy(S), length=len(x), generator=torch.Generator().manual_seed(seed))
        ours.append(_spectral_convergence(S, y[0].numpy()))
        yl = librosa.griffinlim(S, n_iter=32, hop_length=256, n_fft=1024, pad_mode="reflect",
                                length=len(x), random_state=seed)
        theirs.append(_spectral_convergence(S, yl))
    assert np.median(ours) < TOL["griffin_lim_sc"]
    assert np.median(ours) <= TOL["griffin_lim_ratio"] * np.median(theirs)
    few = Griffin_Lim(1024, n_iter=2, hop_length=256)(torch.from_numpy(S), length=len(x))
    assert _spectral_convergence(S, few[0].numpy()) > np.median(ours)  # more iterations help


def test_griffin_lim_is_repeatable_and_checks_input():
    S = STFT(n_fft=128, hop_length=32, output_format="Magnitude")(torch.from_numpy(chords(SR, 2000)))
    gl = Griffin_Lim(128, n_iter=3, hop_length=32)
    torch.testing.assert_close(gl(S), gl(S))
    with pytest.raises(ValueError, match=r"S must be a magnitude \(B, 65, N\)"):
        gl(torch.rand(1, 64, 10))
    with pytest.raises(ValueError, match="n_iter must be a positive int"):
        Griffin_Lim(128, n_iter=0)


@pytest.mark.parametrize("kind", ["stft", "log", "mel", "mfcc", "gammatone"])
def test_registry_kinds_build_and_run(kind):
    module = make_transform(kind, sr=16000, n_fft=512, hop_length=128)
    assert type(module).__name__ == KINDS[kind][0]
    out = module(torch.from_numpy(chords(16000, 4000))[None])
    assert out.dim() == 3 and out.shape[0] == 1 and torch.isfinite(out).all()


def test_verbose_prints_nothing(capsys):
    from nnaudio_data.features import MFCC, MelSpectrogram, iSTFT

    for cls in (STFT, iSTFT, MelSpectrogram, MFCC, Gammatonegram):
        cls(verbose=True)
    Griffin_Lim(256)
    assert capsys.readouterr() == ("", "")


def test_gradcheck_trainable_bins():
    from torch.autograd import gradcheck
    from torch.func import functional_call

    gt = Gammatonegram(sr=8000, n_fft=16, hop_length=4, n_bins=4, trainable_bins=True).double()
    x = torch.randn(2, 40, dtype=torch.float64)
    p = (gt.gammatone_basis.detach() + 0.01).requires_grad_(True)  # off the kink of the non-negative |v| at 0
    assert gradcheck(lambda p: functional_call(gt, {"gammatone_basis": p}, (x,)), (p,))
