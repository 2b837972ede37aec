"""MFCC against librosa and nnAudio; dB and DCT builders; gradients through trainable parts."""
import itertools

import librosa
import numpy as np
import pytest
import scipy.fft
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

from nnaudio_data.features import MFCC
from nnaudio_data.functional._mel import dct_matrix, power_to_db
from spectral_signals import SIGNALS, chords

TOL = {
    # dB of float32 mel power (rel. error ~1e-6 -> ~1e-5 dB) summed over 128 bands by the DCT
    "librosa": dict(rtol=1e-3, atol=1e-2),
    # float64 builders vs scipy / librosa float64
    "exact": dict(rtol=1e-10, atol=1e-10),
    # nnAudio: same mel and dB; its FFT-based DCT vs our matrix, float32
    "nnaudio": dict(rtol=1e-3, atol=1e-2),
}
SR = 22050


def test_dct_and_db_builders_match_scipy_and_librosa():
    x = np.random.default_rng(0).standard_normal((40, 7))
    for norm in ("ortho", None):
        np.testing.assert_allclose(dct_matrix(13, 40, norm).numpy() @ x,
                                   scipy.fft.dct(x, axis=0, norm=norm)[:13], **TOL["exact"])
    S = np.abs(x) ** 3
    for top_db in (80.0, 20.0, None):
        np.testing.assert_allclose(power_to_db(torch.from_numpy(S), ref=2.0, top_db=top_db).numpy(),
                                   librosa.power_to_db(S, ref=2.0, top_db=top_db), **TOL["exact"])


@pytest.mark.parametrize("signal,htk,backend", list(itertools.product(SIGNALS, (False, True),
                                                                       ("conv1d", "fft"))))
def test_mfcc_matches_librosa(signal, htk, backend):
    x = SIGNALS[signal](SR, 12000)
    for n_fft, hop, n_mels, n_mfcc in ((2048, 512, 128, 20), (512, 128, 40, 13)):
        ref = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop,
                                   n_mels=n_mels, htk=htk, center=True, pad_mode="reflect")
        mfcc = MFCC(sr=SR, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=n_mels, htk=htk,
                    backend=backend)
        np.testing.assert_allclose(mfcc(torch.from_numpy(x))[0].numpy(), ref, **TOL["librosa"])


def test_matches_nnaudio_and_batch_is_per_clip():
    from nnAudio.features import MFCC as NNAudioMFCC

    x = torch.from_numpy(np.stack([chords(SR, 9000, 0), 0.01 * SIGNALS["speech"](SR, 9000, 1)]))
    ours = MFCC()(x)
    torch.testing.assert_close(ours, NNAudioMFCC(verbose=False)(x), **TOL["nnaudio"])
    single = torch.stack([MFCC()(item)[0] for item in x])  # top_db floors each clip on its own
    torch.testing.assert_close(ours, single)
    assert MFCC()(torch.stack([x, x], 1)).shape == (2, 2, 20, 18)


def test_gradcheck_trainable_mel():
    mfcc = MFCC(sr=8000, n_mfcc=3, n_fft=64, hop_length=16, n_mels=4, trainable_mel=True,
                top_db=None).double()
    x = torch.randn(2, 128, dtype=torch.float64)  # every filter sees power: no log(amin) floor
    name = "melspec_layer.mel_basis"
    p = (mfcc.get_parameter(name).detach() + 0.01).requires_grad_(True)  # off the kink of the non-negative |v| at 0
    assert gradcheck(lambda p: functional_call(mfcc, {name: p}, (x,)), (p,))


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_mfcc=200), r"n_mfcc must be <= n_mels \(128\), got 200"),
    (dict(amin=0.0), "amin must be > 0, got 0.0"),
    (dict(top_db=-1.0), "top_db must be >= 0 or None, got -1.0"),
    (dict(norm="l2"), "norm must be 'ortho' or None"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MFCC(**kwargs)
