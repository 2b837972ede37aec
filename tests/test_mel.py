"""MelSpectrogram against librosa and nnAudio; filterbank builder; both backends; gradients."""
import itertools

import librosa
import numpy as np
import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

from nnaudio_data.features import MelSpectrogram
from nnaudio_data.functional._mel import mel_filterbank
from spectral_signals import SIGNALS, chords, sine

TOL = {
    # float32 spectrum and float32 matmul vs librosa (float32 STFT, float64-built filters)
    "librosa": dict(rtol=1e-3, atol=1e-3),
    # filterbank built in float64 as librosa's, which stores float32
    "filterbank": dict(rtol=1e-5, atol=1e-7),
    # two float32 backends, sums in different orders
    "backends": dict(rtol=1e-3, atol=1e-3),
    # nnAudio's float32 conv1d STFT vs ours; same filterbank
    "nnaudio": dict(rtol=1e-3, atol=1e-3),
    "batch": dict(rtol=1e-5, atol=1e-5),
}
SR = 22050
BACKENDS = ("conv1d", "fft")


@pytest.mark.parametrize("htk,norm,fmin,fmax", [(False, "slaney", 0.0, None), (True, "slaney", 30.0, 8000.0),
                                                (False, None, 0.0, None), (True, 2.0, 100.0, 4000.0)])
def test_filterbank_matches_librosa(htk, norm, fmin, fmax):
    for sr, n_fft, n_mels in ((22050, 2048, 128), (16000, 512, 40)):
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
        got = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm).numpy()
        np.testing.assert_allclose(got, ref, **TOL["filterbank"])


CASES = list(itertools.product(SIGNALS, (False, True), BACKENDS))


@pytest.mark.parametrize("signal,htk,backend", CASES)
def test_mel_matches_librosa(signal, htk, backend):
    x = SIGNALS[signal](SR, 12000)
    for n_fft, hop, n_mels, window in ((2048, 512, 128, "hann"), (512, 128, 64, "hamming")):
        ref = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels,
                                             window=window, center=True, pad_mode="reflect",
                                             htk=htk, fmin=20.0, fmax=10000.0)
        mel = MelSpectrogram(sr=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels, window=window,
                             htk=htk, fmin=20.0, fmax=10000.0, backend=backend)
        got = mel(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(got, ref, **TOL["librosa"])


def test_power_one_and_norm_none_match_librosa():
    x = chords(SR, 8000)
    ref = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=1024, hop_length=256, power=1.0, norm=None,
                                         pad_mode="constant")
    got = MelSpectrogram(sr=SR, n_fft=1024, hop_length=256, power=1.0, norm=None,
                         pad_mode="constant")(torch.from_numpy(x))[0]
    np.testing.assert_allclose(got.numpy(), ref, **TOL["librosa"])


def test_backends_agree_and_match_nnaudio():
    from nnAudio.features import MelSpectrogram as NNAudioMel

    x = torch.from_numpy(np.stack([SIGNALS[k](SR, 9000, 3) for k in SIGNALS]))
    ours = [MelSpectrogram(backend=b)(x) for b in BACKENDS]
    theirs = NNAudioMel(verbose=False)(x)
    assert ours[0].shape == ours[1].shape == theirs.shape == (2, 128, 18)
    torch.testing.assert_close(ours[0], ours[1], **TOL["backends"])
    torch.testing.assert_close(ours[1], theirs, **TOL["nnaudio"])


def test_tone_lands_in_its_band():
    mel = MelSpectrogram(sr=16000, n_fft=1024, hop_length=256, n_mels=40)
    centres = librosa.mel_frequencies(42, fmin=0, fmax=8000)[1:-1]
    for band in (5, 20, 33):
        out = mel(torch.from_numpy(sine(centres[band], 16000, 8000)))[0]
        assert (out[:, 2:-2].argmax(0) == band).all()


def test_shapes_and_batch_consistency():
    mel = MelSpectrogram(sr=16000, n_fft=512, hop_length=160, n_mels=40)
    x = torch.from_numpy(np.stack([chords(16000, 4000, s) for s in range(3)]))
    single = torch.stack([mel(item)[0] for item in x])
    assert mel(x[0]).shape == (1, 40, 26)
    torch.testing.assert_close(mel(x), single, **TOL["batch"])
    torch.testing.assert_close(mel(x[:, None]), single, **TOL["batch"])
    multi = mel(torch.stack([x, x.flip(0)], 1))
    assert multi.shape == (3, 2, 40, 26)
    torch.testing.assert_close(multi[:, 1], single.flip(0), **TOL["batch"])
    assert mel(x.to(torch.bfloat16)).dtype == torch.float32


@pytest.mark.parametrize("which", ["mel", "STFT"])
def test_gradcheck_trainable(which):
    mel = MelSpectrogram(sr=8000, n_fft=16, hop_length=4, n_mels=4, trainable_mel=which == "mel",
                         trainable_STFT=which == "STFT").double()
    x = torch.randn(2, 40, dtype=torch.float64)
    name = "mel_basis" if which == "mel" else "stft.kernel"
    p = (mel.get_parameter(name).detach() + (0.01 if which == "mel" else 0.0)).requires_grad_(True)  # off the kink of the non-negative |v| at 0
    assert [n for n, q in mel.named_parameters()] == [name]
    assert gradcheck(lambda p: functional_call(mel, {name: p}, (x,)), (p,))


def test_training_moves_filterbank_and_lowers_loss():
    x = torch.from_numpy(np.stack([SIGNALS[k](8000, 4000, 1) for k in SIGNALS]))
    target = MelSpectrogram(sr=8000, n_fft=256, hop_length=64, n_mels=20, htk=True)(x)
    mel = MelSpectrogram(sr=8000, n_fft=256, hop_length=64, n_mels=20, trainable_mel=True)
    before = mel.mel_basis.detach().clone()
    opt = torch.optim.Adam(mel.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.mse_loss(torch.log1p(mel(x)), torch.log1p(target))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert (mel.mel_basis.detach() - before).abs().max() > 1e-3


@pytest.mark.parametrize("kwargs,match", [
    (dict(fmax=30000.0), r"fmax must be <= sr / 2 \(11025.0\), got 30000.0"),
    (dict(fmin=-1.0), "fmin must be >= 0, got -1.0"),
    (dict(fmin=5000.0, fmax=4000.0), r"fmin must be < fmax \(4000.0\), got 5000.0"),
    (dict(n_mels=0), "n_mels must be a positive int, got 0"),
    (dict(power=0.0), "power must be > 0, got 0.0"),
    (dict(norm="area"), "norm must be 1 or 'slaney'"),
    (dict(trainable_STFT=True, backend="fft"), "backend='fft' cannot train"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MelSpectrogram(**kwargs)


def test_banded_filterbank_equals_dense_and_skips_zeros():
    from nnaudio_data.functional._filterbank import apply_filterbank, band_blocks

    basis = mel_filterbank(44100, 2048, 128).float()
    blocks = band_blocks(basis)
    p = torch.rand(2, 1025, 30)
    torch.testing.assert_close(apply_filterbank(p, basis, blocks), basis @ p, **TOL["batch"])
    work = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in blocks)
    assert work < 0.2 * basis.numel()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    x = torch.from_numpy(np.stack([SIGNALS[k](SR, 9000) for k in SIGNALS]))
    ref = MelSpectrogram()(x)
    for backend in BACKENDS:
        got = MelSpectrogram(backend=backend).cuda()(x.cuda()).cpu()
        torch.testing.assert_close(got, ref, **TOL["backends"])


def test_loaded_filterbank_is_used_whole_and_module_pickles():
    import pickle

    x = torch.from_numpy(chords(SR, 6000))
    htk = MelSpectrogram(htk=True, fmin=300.0)
    mel = MelSpectrogram()
    mel.load_state_dict(htk.state_dict())  # another filterbank, other zeros
    torch.testing.assert_close(mel(x), htk(x), **TOL["batch"])
    torch.testing.assert_close(pickle.loads(pickle.dumps(mel))(x), htk(x), **TOL["batch"])
