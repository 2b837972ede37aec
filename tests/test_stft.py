"""STFT and iSTFT against librosa, nnAudio and float64 numpy; both backends; shapes; gradients."""
import itertools

import librosa
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.autograd import gradcheck
from torch.func import functional_call

from nnaudio_data.features import STFT, MelSpectrogram, iSTFT
from spectral_signals import SIGNALS, chords, sine

TOL = {
    # float32 conv1d / FFT over up to 2048 taps vs librosa's float64-window, float32 STFT
    "librosa": dict(rtol=1e-3, atol=1e-3),
    # the two backends compute the same sums in different orders, both float32
    "backends": dict(rtol=1e-3, atol=1e-3),
    # round trip through float32 forward and inverse
    "inverse": dict(rtol=0.0, atol=1e-3),
    # batched and per-item runs use the same kernels; only summation order may differ
    "batch": dict(rtol=1e-5, atol=1e-5),
    # nnAudio builds the same float32 kernels; its conv1d and ours differ in summation order only
    "nnaudio": dict(rtol=1e-3, atol=1e-3),
    # scaled (non-FFT) bins: our float64 kernel phases vs a float64 numpy DFT, float32 sums
    "numpy": dict(rtol=1e-3, atol=1e-3),
}
SR = 22050
BACKENDS = ("conv1d", "fft")


def _librosa_case(n_fft, hop, window, win_length):
    x = chords(SR, 6000, seed=n_fft + hop)
    ref = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length, window=window,
                       center=True, pad_mode="reflect")
    return x, ref


GRID = list(itertools.product((256, 512, 1024, 2048), (128, 256, 512), ("hann", "hamming", "ones")))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_fft,hop,window", GRID)
def test_complex_matches_librosa(n_fft, hop, window, backend):
    for win_length in (n_fft, 3 * n_fft // 4):
        x, ref = _librosa_case(n_fft, hop, window, win_length)
        stft = STFT(n_fft=n_fft, win_length=win_length, hop_length=hop, window=window, backend=backend)
        out = stft(torch.from_numpy(x))[0]
        got = torch.view_as_complex(out.contiguous()).numpy()
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, **TOL["librosa"])


@pytest.mark.parametrize("fmt", ["Magnitude", "Complex", "Phase"])
def test_backends_agree_and_match_nnaudio(fmt):
    from nnAudio.features import STFT as NNAudioSTFT

    x = torch.from_numpy(np.stack([chords(SR, 5000, s) for s in range(3)]))
    ours = [STFT(n_fft=512, hop_length=128, output_format=fmt, backend=b)(x) for b in BACKENDS]
    theirs = NNAudioSTFT(n_fft=512, hop_length=128, output_format=fmt, verbose=False)(x)
    assert ours[0].shape == ours[1].shape == theirs.shape
    if fmt == "Phase":  # compare angles where the magnitude makes the phase well defined
        mag = STFT(n_fft=512, hop_length=128, output_format="Magnitude")(x)
        keep = mag > 1e-2
        for o in ours:
            diff = torch.angle(torch.polar(torch.ones_like(o), o - theirs))
            assert diff[keep].abs().max() < 1e-2
        return
    torch.testing.assert_close(ours[0], ours[1], **TOL["backends"])
    torch.testing.assert_close(ours[1], theirs, **TOL["nnaudio"])


def test_drop_in_inverse_and_freq_bins_match_nnaudio():
    from nnAudio.features import STFT as NNAudioSTFT, iSTFT as NNAudioISTFT

    x = torch.from_numpy(np.stack([chords(SR, 5000, s) for s in range(2)]))
    theirs = NNAudioSTFT(n_fft=512, hop_length=128, iSTFT=True, verbose=False)
    X = theirs(x)
    ours = STFT(n_fft=512, hop_length=128)
    torch.testing.assert_close(ours.inverse(X), theirs.inverse(X).float(), **TOL["inverse"])
    ref = NNAudioISTFT(n_fft=512, hop_length=128, verbose=False)(X, onesided=True, length=5000)
    got = iSTFT(n_fft=512, hop_length=128)(X, onesided=True, length=5000)
    torch.testing.assert_close(got, ref.float(), **TOL["inverse"])
    for freq_bins in (100, 300):
        ref = NNAudioSTFT(n_fft=512, hop_length=128, freq_bins=freq_bins, output_format="Magnitude",
                          verbose=False)(x)
        for backend in BACKENDS:
            got = STFT(n_fft=512, hop_length=128, freq_bins=freq_bins, output_format="Magnitude",
                       backend=backend)(x)
            torch.testing.assert_close(got, ref, **TOL["nnaudio"])


@pytest.mark.parametrize("scale", ["linear", "log", "log2"])
def test_scaled_bins_match_numpy_dft(scale):
    x = chords(SR, 4096)
    stft = STFT(n_fft=512, hop_length=256, freq_bins=40, freq_scale=scale, fmin=60, fmax=5000,
                sr=SR, center=False)
    assert stft.backend == "conv1d"
    got = torch.view_as_complex(stft(torch.from_numpy(x))[0].contiguous()).numpy()
    f = np.asarray(stft.bins2freq)
    frames = librosa.util.frame(x.astype(np.float64), frame_length=512, hop_length=256)
    w = librosa.filters.get_window("hann", 512, fftbins=True)
    ref = np.exp(-2j * np.pi * f[:, None] * np.arange(512)[None] / SR) @ (frames * w[:, None])
    assert 60 <= f[0] < f[1] and f[-1] < 5000
    np.testing.assert_allclose(got, ref, **TOL["numpy"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_sine_lands_in_its_bin(backend):
    n_fft, k = 1024, 37
    x = torch.from_numpy(sine(k * SR / n_fft, SR, 8192))
    mag = STFT(n_fft=n_fft, hop_length=256, output_format="Magnitude", backend=backend)(x)[0]
    assert (mag[:, 4:-4].argmax(0) == k).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_and_batch_consistency(backend):
    stft = STFT(n_fft=256, hop_length=64, output_format="Magnitude", backend=backend)
    x = torch.from_numpy(np.stack([SIGNALS[k](SR, 3000, i) for i, k in enumerate(SIGNALS)]))
    single = torch.stack([stft(item)[0] for item in x])
    assert stft(x[0]).shape == (1, 129, 47)
    torch.testing.assert_close(stft(x), single, **TOL["batch"])
    torch.testing.assert_close(stft(x[:, None]), single, **TOL["batch"])
    multi = stft(torch.stack([x, x.flip(0), x], 0))  # (B=3, C=2, T)
    assert multi.shape == (3, 2, 129, 47)
    torch.testing.assert_close(multi[1, 0], single[1], **TOL["batch"])
    complex_out = STFT(n_fft=256, hop_length=64, return_complex=True, backend=backend)(x)
    assert complex_out.is_complex() and complex_out.shape == (2, 129, 47)
    torch.testing.assert_close(complex_out.abs(), single, **TOL["batch"])


@settings(max_examples=25, deadline=None)
@given(log2_n_fft=st.integers(4, 8), hop_div=st.sampled_from([1, 2, 4, 8]),
       extra=st.integers(1, 600), center=st.booleans())
def test_frame_count_and_backend_agreement(log2_n_fft, hop_div, extra, center):
    n_fft = 2 ** log2_n_fft
    hop, t = max(n_fft // hop_div, 1), n_fft + extra
    x = torch.from_numpy(chords(SR, t, extra))
    outs = [STFT(n_fft=n_fft, hop_length=hop, center=center, output_format="Magnitude",
                 backend=b)(x) for b in BACKENDS]
    n_frames = 1 + t // hop if center else 1 + (t - n_fft) // hop
    assert outs[0].shape == outs[1].shape == (1, n_fft // 2 + 1, n_frames)
    torch.testing.assert_close(outs[0], outs[1], **TOL["backends"])
    wcos = STFT(n_fft=n_fft, backend="fft").wcos
    torch.testing.assert_close(wcos, STFT(n_fft=n_fft, backend="conv1d").wcos)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_input_computes_in_float32(dtype):
    x = torch.from_numpy(chords(SR, 4000))
    out = STFT(n_fft=256, output_format="Magnitude")(x.to(dtype))
    ref = STFT(n_fft=256, output_format="Magnitude")(x.to(dtype).float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_fft,hop,win_length", [(512, 128, 512), (1024, 256, 700), (255, 64, 255)])
def test_inverse_round_trip(backend, n_fft, hop, win_length):
    x = torch.from_numpy(np.stack([chords(SR, 7000), SIGNALS["speech"](SR, 7000)]))
    stft = STFT(n_fft=n_fft, hop_length=hop, win_length=win_length, iSTFT=True, backend=backend)
    X = stft(x)
    torch.testing.assert_close(stft.inverse(X, length=7000), x, **TOL["inverse"])
    inv = iSTFT(n_fft=n_fft, hop_length=hop, win_length=win_length, backend=backend)
    torch.testing.assert_close(inv(X, onesided=True, length=7000), x, **TOL["inverse"])
    Xc = torch.view_as_complex(X.contiguous())
    full = torch.cat([Xc, Xc[:, 1:n_fft - Xc.shape[1] + 1].flip(1).conj()], 1)
    torch.testing.assert_close(inv(full, length=7000), x, **TOL["inverse"])


def test_gradcheck_trainable_stft():
    stft = STFT(n_fft=16, hop_length=4, trainable=True, output_format="Complex").double()
    x = torch.randn(2, 40, dtype=torch.float64)
    k = stft.kernel.detach().clone().requires_grad_(True)
    assert gradcheck(lambda k: functional_call(stft, {"kernel": k}, (x,)), (k,))
    mag = STFT(n_fft=16, hop_length=4, trainable=True, output_format="Magnitude").double()
    assert gradcheck(lambda k: functional_call(mag, {"kernel": k}, (x,)), (k,))


@pytest.mark.parametrize("which", ["kernels", "window"])
def test_gradcheck_trainable_istft(which):
    inv = iSTFT(n_fft=16, hop_length=4, trainable_kernels=which == "kernels",
                trainable_window=which == "window").double()
    X = STFT(n_fft=16, hop_length=4).double()(torch.randn(2, 40, dtype=torch.float64))
    names = ["kernel_cos", "kernel_sin"] if which == "kernels" else ["window_mask"]
    params = tuple(getattr(inv, n).detach().clone().requires_grad_(True) for n in names)
    assert gradcheck(lambda *p: functional_call(inv, dict(zip(names, p)), (X,), {"length": 40}), params)


def test_training_moves_kernel_and_lowers_loss():
    torch.manual_seed(0)
    x = torch.from_numpy(np.stack([chords(SR, 2048, s) for s in range(4)]))
    target = STFT(n_fft=128, hop_length=32, window="hamming", output_format="Magnitude")(x)
    stft = STFT(n_fft=128, hop_length=32, trainable=True, output_format="Magnitude")
    before = stft.kernel.detach().clone()
    opt = torch.optim.Adam(stft.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(stft(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert (stft.kernel.detach() - before).abs().max() > 1e-3


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_fft=0), "n_fft must be a positive int"),
    (dict(n_fft=256, win_length=300), r"win_length must be <= n_fft \(256\), got 300"),
    (dict(hop_length=-1), "hop_length must be a positive int"),
    (dict(freq_scale="mel"), "freq_scale must be one of"),
    (dict(freq_scale="log", fmax=30000), r"fmax <= sr / 2 \(11025.0\)"),
    (dict(output_format="Power"), "output_format must be one of"),
    (dict(pad_mode="circular"), "pad_mode must be one of"),
    (dict(backend="fft", trainable=True), "backend='fft' cannot train"),
    (dict(backend="gpu"), "backend must be one of"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        STFT(**kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"signal length must be > n_fft // 2 \(128\)"):
        STFT(n_fft=256)(torch.randn(2, 100))
    with pytest.raises(ValueError, match="X must be a complex spectrogram"):
        iSTFT(n_fft=256)(torch.randn(2, 129, 10))
    with pytest.raises(ValueError, match=r"X must have n_fft // 2 \+ 1 \(129\)"):
        iSTFT(n_fft=256)(torch.randn(2, 100, 10, 2))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("fmt", ["Magnitude", "Complex"])
def test_cuda_backends_agree_with_cpu(fmt):
    x = torch.from_numpy(np.stack([chords(SR, 6000, s) for s in range(3)]))
    ref = STFT(n_fft=512, hop_length=128, output_format=fmt)(x)
    for backend in BACKENDS:
        stft = STFT(n_fft=512, hop_length=128, output_format=fmt, backend=backend).cuda()
        torch.testing.assert_close(stft(x.cuda()).cpu(), ref, **TOL["backends"])
        assert stft(x.cuda().half()).dtype == torch.float32


def test_loads_nnaudio_state_dicts():
    from nnAudio.features import MelSpectrogram as NNAudioMel, STFT as NNAudioSTFT

    x = torch.from_numpy(np.stack([chords(SR, 5000, s) for s in range(2)]))
    theirs = NNAudioSTFT(n_fft=256, hop_length=64, trainable=True, iSTFT=True, verbose=False)
    with torch.no_grad():
        theirs.wcos.mul_(1.5)  # a "trained" kernel
    ours = STFT(n_fft=256, hop_length=64, trainable=True)
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x), theirs(x), **TOL["nnaudio"])
    with pytest.raises(RuntimeError, match="load them into an STFT with backend='conv1d'"):
        STFT(n_fft=256, hop_length=64).load_state_dict(theirs.state_dict())
    plain = NNAudioMel(sr=SR, n_fft=512, hop_length=128, n_mels=40, verbose=False)
    mel = MelSpectrogram(sr=SR, n_fft=512, hop_length=128, n_mels=40)  # fft backend, same kernels
    mel.load_state_dict(plain.state_dict())
    torch.testing.assert_close(mel(x), plain(x), **TOL["nnaudio"])


def test_istft_loads_nnaudio_state_dicts():
    from nnAudio.features import iSTFT as NNAudioISTFT

    x = torch.from_numpy(chords(SR, 5000))[None]
    X = STFT(n_fft=256, hop_length=64)(x)
    theirs = NNAudioISTFT(n_fft=256, hop_length=64, trainable_kernels=True, trainable_window=True,
                          verbose=False)
    for backend, kwargs in (("conv1d", dict(trainable_kernels=True, trainable_window=True)),
                            ("fft", dict(trainable_window=True))):
        ours = iSTFT(n_fft=256, hop_length=64, backend=backend, **kwargs)
        ours.load_state_dict(theirs.state_dict())
        torch.testing.assert_close(ours(X, onesided=True, length=5000),
                                   theirs(X, onesided=True, length=5000).float(), **TOL["inverse"])
    with torch.no_grad():
        theirs.kernel_cos.mul_(1.1)  # a "trained" inverse kernel cannot go to the FFT backend
    with pytest.raises(RuntimeError, match="load them with backend='conv1d'"):
        iSTFT(n_fft=256, hop_length=64, trainable_window=True).load_state_dict(theirs.state_dict())
