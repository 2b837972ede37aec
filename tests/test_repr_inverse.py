"""A transform's repr shows the arguments it was given that differ from the defaults; STFT.inverse
honours ``onesided`` and says what ``refresh_win`` does, instead of accepting and ignoring them."""
import inspect

import pytest
import torch

from nnaudio_data import features as F

# round trip of STFT -> inverse in float32: the overlap-add of n_fft / hop = 4 frames sums
# float32 rounding of a unit-scale signal; 1e-5 is ~100 ulp, far below any wrong-bin error (~1)
ROUNDTRIP_ATOL = 1e-5

# (class, kwargs, what the repr must show, what it must not show: defaults)
GIVEN = [
    (F.MelSpectrogram, dict(sr=16000, n_mels=40), ["sr=16000", "n_mels=40"], ["fmin=", "htk=", "norm="]),
    (F.MelSpectrogram, dict(sr=22050, fmax=4000.0, htk=True), ["fmax=4000.0", "htk=True"], ["sr=", "n_mels="]),
    (F.STFT, dict(n_fft=256, center=False), ["n_fft=256", "center=False"], ["pad_mode=", "window="]),
    (F.MFCC, dict(sr=16000, n_mfcc=13), ["sr=16000", "n_mfcc=13"], ["n_mels="]),
    (F.Gammatonegram, dict(sr=8000, n_bins=32), ["sr=8000", "n_bins=32"], ["power=1"]),
    (F.CQT, dict(sr=8000, n_bins=24), ["sr=8000", "n_bins=24"], ["bins_per_octave="]),
    (F.VQT, dict(sr=8000, gamma=2.0), ["sr=8000", "gamma=2.0"], ["n_bins="]),
    (F.CQT2010, dict(sr=8000, n_bins=24), ["sr=8000", "n_bins=24"], ["hop_length="]),
    (F.iSTFT, dict(n_fft=128, center=False), ["n_fft=128", "center=False"], ["window="]),
    (F.Griffin_Lim, dict(n_fft=128, n_iter=4), ["n_fft=128", "n_iter=4"], ["window=", "center="]),
    (F.PowerToDB, dict(top_db=None), ["top_db=None"], []),
    (F.AmplitudeToDB, dict(ref=2.0), ["ref=2.0"], []),
]


@pytest.mark.parametrize("cls,kwargs,shown,hidden", GIVEN, ids=[f"{g[0].__name__}-{i}" for i, g in enumerate(GIVEN)])
def test_repr_shows_the_non_default_arguments(cls, kwargs, shown, hidden):
    quiet = {"verbose": False} if "verbose" in inspect.signature(cls).parameters else {}
    module = cls(**kwargs, **quiet)
    assert repr(module).startswith(f"{cls.__name__}(")
    head = module.extra_repr()  # the module's own line of its repr (children follow on their own)
    assert head in repr(module)
    for text in shown:
        assert text in head, f"{text!r} missing from {head!r}"
    for text in hidden:
        assert text not in head, f"default {text!r} shown in {head!r}"
    assert "verbose" not in head  # a logging switch, not part of the transform
    for name in (text.split("=")[0] for text in shown):  # each name once: the class's own summary does not repeat a given argument
        assert [p.split("=")[0] for p in head.split(", ")].count(name) == 1, head


def test_the_issue_example_and_defaults_only():
    text = repr(F.MelSpectrogram(sr=16000, n_mels=40))
    assert text.splitlines()[:2] == ["MelSpectrogram(", "  sr=16000, n_mels=40, mel_basis=(40, 1025), power=2.0"]
    assert repr(F.STFT()) == "STFT(n_fft=2048, hop_length=512, backend='fft', output_format='Complex')"
    assert F.MelSpectrogram().given_args() == {}
    assert F.MelSpectrogram(sr=16000, backend="conv1d").given_args() == {"sr": 16000, "backend": "conv1d"}


def test_a_tensor_argument_is_shown_by_shape():
    head = repr(F.STFT(n_fft=64, window=torch.hann_window(64)))
    assert "window=tensor(shape=(64,), dtype=torch.float32)" in head


def _signal(n=2048):
    return torch.randn(2, n, generator=torch.Generator().manual_seed(0))


def test_inverse_onesided_round_trip():
    stft = F.STFT(n_fft=128, hop_length=32, output_format="Complex", verbose=False)
    x = _signal()
    X = stft(x)
    assert X.shape[1] == 65
    for refresh_win in (True, False):  # the envelope is computed per call: the same, correct result
        y = stft.inverse(X, onesided=True, length=x.shape[-1], refresh_win=refresh_win)
        torch.testing.assert_close(y, x, atol=ROUNDTRIP_ATOL, rtol=0)
    # a later call of another length after refresh_win=False still gets its own envelope
    short = stft.inverse(X[..., :20], length=600, refresh_win=False)
    torch.testing.assert_close(short[..., 64:500], x[..., 64:500], atol=ROUNDTRIP_ATOL, rtol=0)


def test_inverse_of_a_full_spectrum_needs_onesided_false():
    stft = F.STFT(n_fft=128, hop_length=32, output_format="Complex", verbose=False)
    x = _signal()
    full = torch.stft(x, 128, 32, window=stft.window, center=True, pad_mode="reflect",
                      onesided=False, return_complex=True)
    assert full.shape[1] == 128
    y = stft.inverse(full, onesided=False, length=x.shape[-1])
    torch.testing.assert_close(y, x, atol=ROUNDTRIP_ATOL, rtol=0)
    with pytest.raises(ValueError, match=r"X must have 65 frequency bins for onesided=True "
                                         r"\(n_fft // 2 \+ 1, n_fft=128\), got 128; pass onesided=False"):
        stft.inverse(full)
    with pytest.raises(ValueError, match=r"X must have 128 frequency bins for onesided=False .* got 65; "
                                         r"pass onesided=True"):
        stft.inverse(stft(x), onesided=False)


def test_inverse_arguments_must_be_bools():
    stft = F.STFT(n_fft=64, output_format="Complex", verbose=False)
    X = stft(_signal(512))
    with pytest.raises(TypeError, match="onesided and refresh_win must be bool, got onesided='yes'"):
        stft.inverse(X, onesided="yes")
    with pytest.raises(TypeError, match="refresh_win=None"):
        stft.inverse(X, refresh_win=None)


def test_istft_refresh_win_gives_the_same_result_for_any_length():
    stft = F.STFT(n_fft=128, hop_length=32, output_format="Complex", verbose=False)
    istft = F.iSTFT(n_fft=128, hop_length=32, verbose=False)
    x = _signal()
    X = stft(x)
    full = istft(X, length=x.shape[-1], refresh_win=False)
    torch.testing.assert_close(full, x, atol=ROUNDTRIP_ATOL, rtol=0)
    part = istft(X[..., :20], length=600, refresh_win=False)  # another length after a "cached" call
    torch.testing.assert_close(part[..., 64:500], x[..., 64:500], atol=ROUNDTRIP_ATOL, rtol=0)
    with pytest.raises(TypeError, match="refresh_win must be a bool or None, got 'no'"):
        istft(X, refresh_win="no")


def test_module_arguments_show_as_children_only():
    log = F.LogSpectrogram(F.MelSpectrogram(sr=8000, n_fft=256, n_mels=20, verbose=False), F.PowerToDB())
    lines = repr(log).splitlines()
    assert lines[0] == "LogSpectrogram(" and lines[1].strip().startswith("(spectrogram): MelSpectrogram(")
    assert "sr=8000, n_fft=256, n_mels=20" in lines[2]
