"""CQT1992v2 / CQT2010v2 / CQT against nnAudio 0.3 (mode "nnaudio") and librosa.cqt (mode "librosa"),
known-answer signals, shapes, batching, errors, backends, trainable kernels."""
import math
import warnings

import numpy as np
import pytest
import scipy.signal
import torch

from nnaudio_data.features._cqt import CQT, CQT1992v2, CQT2010v2
from nnaudio_data.features._vqt import VQT

librosa = pytest.importorskip("librosa")
nnaudio_features = pytest.importorskip("nnAudio.features")

TOL = {
    # mode "nnaudio" vs nnAudio's module, compared as log(floor + |C|) with rtol / atol 1e-3, where
    # floor = 1e-3 * max|C| (-60 dB). Both sides carry absolute errors of ~2e-6 * max|C|: nnAudio's
    # own float32 rounding of 16k-tap sums (its float32 and float64 outputs differ by that much),
    # and on our side the kernels' spectrum beyond each octave's band (< 3e-6 of it), which the
    # per-octave decimation drops. At the floor such an error moves the log by ~2e-3, inside
    # atol + rtol * |log| (~6e-3 there); without a floor, bins holding nothing but rounding noise
    # would be compared.
    "nnaudio_log": dict(rtol=1e-3, atol=1e-3),
    "nnaudio_floor": 1e-3,
    # max |ours - nnAudio| / max |nnAudio| on complex output: the errors above, with margin.
    "nnaudio_complex": 1e-5,
    # mode "librosa" vs librosa.cqt: ||ours - librosa|| / ||librosa|| (the brief's bound; measured
    # ~1e-3: the only difference left is our FFT decimation vs soxr_hq).
    "librosa_rel": 2e-2,
    # the same transform computed two ways (batched vs stacked, fft vs conv backend): float32 rounding.
    "same": dict(rtol=1e-4, atol=1e-5),
    # VQT in mode "nnaudio" runs nnAudio's filters and kernels in the same order: float32 rounding.
    "nnaudio_vqt": 1e-5,
    # float16 input is rounded to 11 bits before the float32 transform.
    "half_rel": 2e-3,
}


def _chord(sr, seconds=1.5, seed=0):
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(seed)
    x = sum(a * np.sin(2 * np.pi * f * t) for a, f in [(0.5, 261.63), (0.3, 329.63), (0.25, 392.0)])
    return (x + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def _sweep(sr, seconds=1.5):
    t = np.arange(int(sr * seconds)) / sr
    return scipy.signal.chirp(t, 40, t[-1], sr / 2 * 0.8, method="logarithmic").astype(np.float32)


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _log_close(ours, ref):
    floor = TOL["nnaudio_floor"] * np.abs(ref).max()
    np.testing.assert_allclose(np.log(floor + ours), np.log(floor + ref), **TOL["nnaudio_log"])


NN_CASES = [
    (22050, dict()),
    (44100, dict(hop_length=256, fmin=55.0, n_bins=72)),
    (16000, dict(hop_length=160, fmin=50.0, n_bins=48, bins_per_octave=24, filter_scale=0.8)),
]


@pytest.mark.parametrize("name,sr,kw", [(n, sr, kw) for n in ("CQT1992v2", "CQT2010v2") for sr, kw in NN_CASES]
                         + [("CQT2010v2", 22050, dict(earlydownsample=False, hop_length=256, n_bins=72))])
def test_nnaudio_mode_matches_nnaudio(name, sr, kw):
    x = torch.from_numpy(_chord(sr))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_mod = getattr(nnaudio_features, name)(sr=sr, verbose=False, **kw)
    ours_mod = {"CQT1992v2": CQT1992v2, "CQT2010v2": CQT2010v2}[name](sr=sr, **kw)
    ref, ours = ref_mod(x).numpy(), ours_mod(x).numpy()
    assert ours.shape == ref.shape
    _log_close(ours, ref)
    for norm in ("convolutional", "wrap"):
        _log_close(ours_mod(x, normalization_type=norm).numpy(),
                   ref_mod(x, normalization_type=norm).numpy())


def test_nnaudio_mode_complex_and_phase_match():
    sr, x = 22050, torch.from_numpy(_chord(22050))
    for cls, ours_cls in [(nnaudio_features.CQT1992v2, CQT1992v2), (nnaudio_features.CQT2010v2, CQT2010v2)]:
        ref_mod, ours_mod = cls(sr=sr, verbose=False), ours_cls(sr=sr)
        ref, ours = ref_mod(x, output_format="Complex"), ours_mod(x, output_format="Complex")
        peak = ref.abs().max()
        err = (ours - ref).abs().max() / peak
        assert err < TOL["nnaudio_complex"]
        # phase is only defined where the bin holds signal
        mag = ref.norm(dim=-1)
        strong = mag > 1e-2 * peak
        ph_ref, ph = ref_mod(x, output_format="Phase"), ours_mod(x, output_format="Phase")
        assert (ph - ph_ref).abs()[strong].max() < 1e-2


@pytest.mark.parametrize("cls", [CQT1992v2, CQT2010v2])
@pytest.mark.parametrize("signal", ["chord", "sweep"])
@pytest.mark.parametrize("sr,kw", [
    (22050, dict()),
    (44100, dict(hop_length=256)),
    (16000, dict(hop_length=160, fmin=50.0, n_bins=96, bins_per_octave=24)),
])
def test_librosa_mode_matches_librosa(cls, signal, sr, kw):
    x = (_chord if signal == "chord" else _sweep)(sr)
    args = dict(dict(hop_length=512, fmin=32.70, n_bins=84, bins_per_octave=12), **kw)
    ref = librosa.cqt(x, sr=sr, **args)
    out = cls(sr=sr, mode="librosa", pad_mode="constant", **kw)(torch.from_numpy(x),
                                                                   output_format="Complex")[0].numpy()
    assert out.shape[:2] == ref.shape
    ours = out[..., 0] + 1j * out[..., 1]
    assert _rel(np.abs(ours), np.abs(ref)) <= TOL["librosa_rel"]
    assert _rel(ours, ref) <= TOL["librosa_rel"]


def test_librosa_mode_reflect_padding_matches_librosa():
    sr, x = 22050, _chord(22050, 1.0)
    ref = np.abs(librosa.cqt(x, sr=sr, fmin=32.70, pad_mode="reflect"))
    ours = CQT(sr=sr, mode="librosa", pad_mode="reflect")(torch.from_numpy(x))[0].numpy()
    assert _rel(ours, ref) <= TOL["librosa_rel"]


def _midi_hz(m):
    return 440.0 * 2 ** ((m - 69) / 12)


@pytest.mark.parametrize("mode", ["nnaudio", "librosa"])
@pytest.mark.parametrize("cls", [CQT1992v2, CQT2010v2])
@pytest.mark.parametrize("k", [5, 30, 47, 70])
def test_tone_at_bin_centre_peaks_in_that_bin(cls, mode, k):
    sr, fmin = 22050, _midi_hz(24)
    t = torch.arange(sr) / sr
    x = torch.sin(2 * math.pi * fmin * 2 ** (k / 12) * t)
    mod = cls(sr=sr, fmin=fmin, n_bins=84, mode=mode)
    c = mod(x, normalization_type="wrap")[0, :, 10:-10]
    assert int(c.mean(-1).argmax()) == k
    # "wrap": a unit tone at a bin's centre gives about 1 in that bin
    assert abs(float(c[k].median()) - 1.0) < 0.05


@pytest.mark.parametrize("mode", ["nnaudio", "librosa"])
def test_chord_notes_land_in_their_bins(mode):
    sr, fmin = 22050, _midi_hz(36)  # C2
    t = torch.arange(sr) / sr
    notes = [60, 64, 67, 72]  # C4 E4 G4 C5
    x = sum(torch.sin(2 * math.pi * _midi_hz(m) * t) for m in notes)
    c = CQT1992v2(sr=sr, fmin=fmin, n_bins=60, mode=mode)(x)[0].mean(-1)
    top = sorted(int(i) for i in c.topk(len(notes)).indices)
    assert top == [m - 36 for m in notes]


@pytest.mark.parametrize("mode", ["nnaudio", "librosa"])
@pytest.mark.parametrize("cls", [CQT1992v2, CQT2010v2])
def test_shapes(cls, mode):
    sr, hop, t = 8000, 128, 3000
    mod = cls(sr=sr, hop_length=hop, fmin=55.0, n_bins=48, mode=mode)
    n = t // hop + 1
    x = torch.randn(3, 2, t)
    assert mod(x[0, 0]).shape == (1, 48, n)
    assert mod(x[:, 0]).shape == (3, 48, n)
    assert mod(x[:, :1]).shape == (3, 48, n)
    assert mod(x).shape == (3, 2, 48, n)
    assert mod(x[:, 0], output_format="Complex").shape == (3, 48, n, 2)
    assert mod(x[:, 0], output_format="Phase").shape == (3, 48, n, 2)
    with pytest.raises(ValueError, match="x must be"):
        mod(torch.randn(1, 1, 1, t))


@pytest.mark.parametrize("mode", ["nnaudio", "librosa"])
@pytest.mark.parametrize("cls", [CQT1992v2, CQT2010v2])
def test_batched_equals_stacked(cls, mode):
    mod = cls(sr=8000, hop_length=64, fmin=40.0, n_bins=60, mode=mode)
    x = torch.randn(3, 2, 2500, generator=torch.Generator().manual_seed(0))
    batched = mod(x)
    stacked = torch.stack([torch.stack([mod(x[b, c])[0] for c in range(2)]) for b in range(3)])
    torch.testing.assert_close(batched, stacked, **TOL["same"])


@pytest.mark.parametrize("mode", ["nnaudio", "librosa"])
def test_fft_backend_equals_conv_backend(mode):
    x = torch.from_numpy(_chord(22050, 1.0))
    conv = CQT1992v2(sr=22050, mode=mode, backend="conv")(x)
    fft = CQT1992v2(sr=22050, mode=mode, backend="fft")(x)
    torch.testing.assert_close(fft, conv, rtol=1e-4, atol=1e-4 * float(conv.max()))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_input_is_computed_in_float32(dtype):
    mod = CQT1992v2(sr=22050, mode="librosa")
    x = torch.from_numpy(_chord(22050, 1.0))
    out = mod(x.to(dtype))
    assert out.dtype == dtype
    ref = mod(x.to(dtype).float())
    assert _rel(out.float().numpy(), ref.numpy()) < TOL["half_rel"] * (8 if dtype == torch.bfloat16 else 1)


def test_kernels_are_much_smaller_than_nnaudios():
    ref = nnaudio_features.CQT1992v2(sr=44100, verbose=False)
    nn_bytes = sum(b.numel() * b.element_size() for n, b in ref.named_buffers() if "kernel" in n)
    assert CQT1992v2(sr=44100, layout="octaves").kernel_nbytes * 20 < nn_bytes
    assert CQT1992v2(sr=44100, mode="librosa").kernel_nbytes * 20 < nn_bytes


@pytest.mark.parametrize("kwargs,match", [
    (dict(fmax=30000.0), r"fmax must be <= sr / 2 \(11025.0\), got 30000.0"),
    (dict(fmin=0.0), "fmin must be > 0"),
    (dict(hop_length=0), "hop_length must be a positive int"),
    (dict(n_bins=0), "n_bins must be a positive int"),
    (dict(n_bins=200), "top bin must be <= sr / 2"),
    (dict(filter_scale=-1), "filter_scale must be > 0"),
    (dict(mode="torchaudio"), "mode must be one of"),
    (dict(output_format="dB"), "output_format must be one of"),
    (dict(pad_mode="circular"), "pad_mode must be"),
    (dict(backend="cufft"), "backend must be one of"),
    (dict(mode="librosa", center=False), "center must be True"),
    (dict(sparsity=1.0), r"sparsity must be in \[0, 1\), got 1.0"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CQT1992v2(sr=22050, **kwargs)


def test_bad_forward_arguments_raise():
    mod = CQT1992v2(sr=8000, fmin=55.0, n_bins=24)
    with pytest.raises(ValueError, match="normalization_type must be one of"):
        mod(torch.randn(2000), normalization_type="peak")
    with pytest.raises(ValueError, match="output_format must be one of"):
        mod(torch.randn(2000), output_format="dB")


def test_verbose_prints_nothing(capsys):
    CQT2010v2(sr=22050, verbose=True)
    CQT1992v2(sr=22050, verbose=True)
    assert capsys.readouterr().out == ""


def test_center_false_matches_nnaudio():
    sr, x = 22050, torch.from_numpy(_chord(22050))
    ref = nnaudio_features.CQT1992v2(sr=sr, fmin=65.0, n_bins=60, center=False, verbose=False)(x)
    ours = CQT1992v2(sr=sr, fmin=65.0, n_bins=60, center=False)(x)
    assert ours.shape == ref.shape
    _log_close(ours.numpy(), ref.numpy())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backend", ["conv", "fft"])
@pytest.mark.parametrize("make", [lambda b: CQT1992v2(sr=22050, mode="librosa", backend=b),
                                  lambda b: CQT1992v2(sr=22050, backend=b),
                                  lambda b: CQT2010v2(sr=22050, backend=b),
                                  lambda b: VQT(sr=22050, gamma=5.0, mode="librosa", backend=b)])
def test_cuda_matches_cpu(make, backend):
    x = torch.from_numpy(_chord(22050, 1.0))
    mod = make(backend)
    ref = mod(x)
    out = mod.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(out, ref, rtol=1e-3, atol=1e-4 * float(ref.max()))


VQT_CASES = [
    (22050, dict(gamma=0)),
    (22050, dict(gamma=10.0)),
    (44100, dict(gamma=20.0, hop_length=256)),
    (16000, dict(gamma=5.0, hop_length=160, fmin=50.0, n_bins=96, bins_per_octave=24)),
]


@pytest.mark.parametrize("sr,kw", VQT_CASES)
def test_vqt_nnaudio_mode_matches_nnaudio(sr, kw):
    x = torch.from_numpy(_chord(sr))
    ref = nnaudio_features.VQT(sr=sr, verbose=False, **kw)(x, output_format="Complex")
    ours = VQT(sr=sr, **kw)(x, output_format="Complex")
    assert ours.shape == ref.shape
    assert float((ours - ref).abs().max() / ref.abs().max()) < TOL["nnaudio_vqt"]


@pytest.mark.parametrize("sr,kw", VQT_CASES)
@pytest.mark.parametrize("signal", ["chord", "sweep"])
def test_vqt_librosa_mode_matches_librosa(sr, kw, signal):
    x = (_chord if signal == "chord" else _sweep)(sr)
    args = dict(dict(hop_length=512, fmin=32.70, n_bins=84, bins_per_octave=12), **kw)
    ref = librosa.vqt(x, sr=sr, **args)
    out = VQT(sr=sr, mode="librosa", pad_mode="constant", **kw)(torch.from_numpy(x),
                                                                 output_format="Complex")[0].numpy()
    assert _rel(out[..., 0] + 1j * out[..., 1], ref) <= TOL["librosa_rel"]


def test_vqt_gamma_zero_is_the_cqt():
    x = torch.from_numpy(_chord(22050, 1.0))
    for mode in ("nnaudio", "librosa"):
        torch.testing.assert_close(VQT(sr=22050, gamma=0, mode=mode)(x),
                                   CQT2010v2(sr=22050, mode=mode)(x), **TOL["same"])


def test_vqt_gamma_widens_low_filters():
    sr, f = 22050, _midi_hz(33)  # A1, bin 9 from C1
    t = torch.arange(sr) / sr
    x = torch.sin(2 * math.pi * f * t)
    spread = []
    for gamma in (0.0, 30.0):
        c = VQT(sr=sr, gamma=gamma, mode="librosa")(x)[0, :, 10:-10].mean(-1)
        assert int(c.argmax()) == 9
        spread.append(float(c[7] / c[9]))
    assert spread[1] > 2 * spread[0]  # shorter filters: wider bands, more energy in the neighbours


@pytest.mark.parametrize("gamma", [-1.0, "wide"])
def test_vqt_bad_gamma_raises(gamma):
    with pytest.raises(ValueError, match="gamma must be a number >= 0"):
        VQT(sr=22050, gamma=gamma)


@pytest.mark.parametrize("cls,mode,backend", [(CQT1992v2, "nnaudio", "conv"), (CQT1992v2, "librosa", "conv"),
                                              (CQT1992v2, "librosa", "fft"), (CQT2010v2, "nnaudio", "conv"),
                                              (VQT, "librosa", "conv")])
def test_trainable_kernels_gradcheck(cls, mode, backend):
    mod = cls(sr=2000, hop_length=32, fmin=100.0, n_bins=18, trainable=True, mode=mode,
              backend=backend).double()
    params = dict(mod.named_parameters())
    assert params and all(p.requires_grad for p in params.values())
    assert not any(n.startswith("kernel_") for n, _ in mod.named_buffers())
    x = torch.randn(2, 300, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    names = list(params)

    def f(x, *ps):
        return torch.func.functional_call(mod, dict(zip(names, ps)), (x,), {"output_format": "Complex"})

    assert torch.autograd.gradcheck(f, (x.requires_grad_(), *params.values()), eps=1e-6, atol=1e-5,
                                    fast_mode=True)


def test_trainable_kernels_learn():
    torch.manual_seed(0)
    sr, x = 4000, torch.randn(4, 2000, generator=torch.Generator().manual_seed(1))
    target = CQT1992v2(sr=sr, hop_length=64, fmin=60.0, n_bins=36, filter_scale=0.7)(x)
    mod = CQT1992v2(sr=sr, hop_length=64, fmin=60.0, n_bins=36, trainable=True)
    before = [p.detach().clone() for p in mod.parameters()]
    opt = torch.optim.Adam(mod.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.mse_loss(mod(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert any((p - b).abs().max() > 1e-4 for p, b in zip(mod.parameters(), before))


def test_fmax_sets_n_bins_as_nnaudio():
    sr, x = 22050, torch.from_numpy(_chord(22050, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nnAudio warns that n_bins is ignored
        ref = nnaudio_features.CQT1992v2(sr=sr, fmin=55.0, fmax=3000.0, verbose=False)(x)
    ours = CQT1992v2(sr=sr, fmin=55.0, fmax=3000.0)
    assert ours.n_bins == math.ceil(12 * math.log2(3000.0 / 55.0)) == ref.shape[1]
    _log_close(ours(x).numpy(), ref.numpy())


def test_gaussian_window_reads_attenuation_as_nnaudio():
    sr, x = 22050, torch.from_numpy(_chord(22050, 1.0))
    kw = dict(fmin=65.0, n_bins=60, window=("gaussian", 40.0))
    ref = nnaudio_features.CQT1992v2(sr=sr, verbose=False, **kw)(x)
    _log_close(CQT1992v2(sr=sr, **kw)(x).numpy(), ref.numpy())


def test_collate_kind_cqt_and_pickling():
    import pickle

    from nnaudio_data import GPUSpectrogramCollate

    kw = dict(sr=16000, hop_length=256, fmin=55.0, n_bins=72)
    clips = [torch.randn(1, 16000, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    batch = GPUSpectrogramCollate("cqt", device="cpu", **kw)([{"waveform": c} for c in clips])
    direct = CQT(**kw)
    torch.testing.assert_close(batch.spec, direct(torch.cat(clips)), **TOL["same"])
    for mod in (direct, VQT(gamma=5.0, mode="librosa", **kw)):
        copy = pickle.loads(pickle.dumps(mod))  # DataLoader workers receive the module pickled
        torch.testing.assert_close(copy(clips[0]), mod(clips[0]), rtol=0, atol=0)
