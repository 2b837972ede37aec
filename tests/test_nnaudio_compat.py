"""nnAudio 0.3.4 drop-in: every feature class by name, its constructor defaults, its state dicts
(trainable and fixed, loaded strictly, same outputs), the legacy ``Spectrogram`` module path, and
upstream's CQT cases (the logarithmic chirp, VQT(gamma=0))."""
import contextlib
import inspect
import io
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import assume, given, settings, strategies as st
from torch import nn

import nnaudio_data.features as ours

nnaudio_features = pytest.importorskip("nnAudio.features")

TOL = {
    # state dicts: max |ours - nnAudio| / max |nnAudio| after a strict load (the bound).
    # Measured: 0 where both run the same conv1d, ~1e-7 where ours runs an FFT or decimates.
    "state": 1e-5,
    # the log chirp, layout="full": nnAudio's own full-rate float32 convolution; what is left is
    # float32 rounding of the same sums (measured 1.5e-7 of the peak).
    "chirp_full": 4e-7,
    # the log chirp, default per-octave layout, against nnAudio run in float64: measured 6.8e-7 of
    # the peak (nnAudio's float32 output is 7.2e-6 off the same reference: its 32k-tap sums).
    "chirp_octaves_f64": 1e-6,
    # upstream's own check on log(|C| + 1e-5) (its ground truths are nnAudio float32 outputs).
    "upstream_log": dict(rtol=1e-3, atol=1e-3),
}

# Keyword arguments ours adds to nnAudio's constructors (docs/features.md lists them).
EXTRA_ARGS = {
    "STFT": {"backend", "return_complex"},
    "iSTFT": {"backend"},
    "CQT1992v2": {"mode", "backend", "sparsity", "layout"},
    "CQT": {"mode", "backend", "sparsity", "layout"},
    "CQT2010v2": {"mode", "backend", "sparsity"},
    "VQT": {"mode", "backend", "sparsity"},
}


def _nnaudio_classes():
    out = []
    for name, obj in vars(nnaudio_features).items():
        if isinstance(obj, type) and issubclass(obj, nn.Module) and \
                obj.__module__.startswith("nnAudio.features."):
            out.append(name)
    return sorted(out)


@contextlib.contextmanager
def _nnaudio_env():
    """nnAudio prints while building, and its CFP calls ``scipy.signal.blackmanharris``, which
    current scipy only has under ``scipy.signal.windows``."""
    patched = not hasattr(scipy.signal, "blackmanharris")
    if patched:
        scipy.signal.blackmanharris = scipy.signal.windows.blackmanharris
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        if patched:
            del scipy.signal.blackmanharris


def _log_chirp(sr=44100, seconds=1.0, f0=55.0):
    s = np.linspace(0, seconds, int(sr * seconds))
    return torch.from_numpy(scipy.signal.chirp(s, f0, seconds, sr / 2, method="logarithmic")
                            .astype(np.float32))[None]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# ---------------------------------------------------------------------------------------- names

def test_every_nnaudio_feature_class_is_here():
    names = _nnaudio_classes()
    assert {"CQT1992", "CQT2010", "Combined_Frequency_Periodicity", "STFTBase"} <= set(names)
    assert [n for n in names if not hasattr(ours, n)] == []
    assert issubclass(ours.STFT, ours.STFTBase) and issubclass(ours.iSTFT, ours.STFTBase)


def test_legacy_spectrogram_module_reexports_the_features():
    import nnaudio_data.Spectrogram as legacy

    namespace: dict = {}
    exec("from nnaudio_data.Spectrogram import *", namespace)
    for name in _nnaudio_classes():
        assert getattr(legacy, name) is getattr(ours, name)
        assert namespace[name] is getattr(ours, name)
    assert namespace["np"] is np  # nnAudio's star import hands out numpy too; old scripts use it


@pytest.mark.parametrize("name", _nnaudio_classes())
def test_constructor_defaults_match_nnaudio(name):
    if name == "STFTBase":
        return
    theirs = inspect.signature(getattr(nnaudio_features, name).__init__).parameters
    mine = inspect.signature(getattr(ours, name).__init__).parameters
    for arg, p in theirs.items():
        assert arg in mine, f"{name}: nnAudio's argument {arg!r} is missing"
        d, e = p.default, mine[arg].default
        assert d is e or (type(d) is type(e) and d == e), f"{name}({arg}=...): nnAudio {d!r}, ours {e!r}"
    positional = [a for a, p in theirs.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [a for a, p in mine.items() if p.kind is p.POSITIONAL_OR_KEYWORD][:len(positional)] == positional
    assert set(mine) - set(theirs) == EXTRA_ARGS.get(name, set())


# ---------------------------------------------------------------------------------- state dicts

STATE_CASES = [
    ("STFT", dict(n_fft=512, hop_length=128)),
    ("STFT", dict(n_fft=512, hop_length=128, trainable=True)),
    ("STFT", dict(n_fft=512, hop_length=128, freq_scale="log", fmin=50, fmax=8000, trainable=True)),
    ("iSTFT", dict(n_fft=512, hop_length=128)),
    ("iSTFT", dict(n_fft=512, hop_length=128, trainable_kernels=True, trainable_window=True)),
    ("MelSpectrogram", dict(n_fft=1024, n_mels=64)),
    ("MelSpectrogram", dict(n_fft=1024, n_mels=64, trainable_mel=True, trainable_STFT=True)),
    ("MFCC", dict(n_fft=1024, n_mels=64)),
    ("MFCC", dict(n_fft=1024, n_mels=64, trainable_mel=True, trainable_STFT=True)),
    ("Gammatonegram", dict(n_fft=1024, n_bins=48)),
    ("Gammatonegram", dict(n_fft=1024, n_bins=48, trainable_bins=True, trainable_STFT=True)),
    ("CQT1992", dict(fmin=55.0, n_bins=72, hop_length=256)),
    ("CQT1992", dict(fmin=110.0, n_bins=60, bins_per_octave=24, trainable_STFT=True,
                     trainable_CQT=True)),
    ("CQT2010", dict(fmin=55.0, n_bins=72)),
    ("CQT2010", dict(n_bins=84, hop_length=256, trainable_STFT=True, trainable_CQT=True)),
    ("CQT1992v2", dict(fmin=55.0, n_bins=72, hop_length=256)),
    ("CQT1992v2", dict(fmin=55.0, n_bins=72, hop_length=256, trainable=True)),
    ("CQT2010v2", dict()),
    ("CQT2010v2", dict(trainable=True)),
    ("CQT2010v2", dict(sr=44100, fmin=55.0, n_bins=60, bins_per_octave=24, hop_length=256)),
    ("CQT", dict(fmin=55.0, n_bins=72, hop_length=256)),
    ("VQT", dict(gamma=5.0)),
    ("VQT", dict(gamma=0)),
    ("VQT", dict(gamma=5.0, trainable=True)),
    ("CFP", dict(fs=16000, fr=4, window_size=2049)),
    ("Combined_Frequency_Periodicity", dict(fs=16000, fr=4, window_size=2049)),
    ("Griffin_Lim", dict(n_fft=512)),
]
CQT_LIKE = {"CQT", "CQT1992", "CQT2010", "CQT1992v2", "CQT2010v2", "VQT"}


def _signal(name: str) -> torch.Tensor:
    sr = 16000 if name in ("CFP", "Combined_Frequency_Periodicity") else 22050
    t = np.arange(sr) / sr
    rng = np.random.default_rng(0)
    x = sum(a * np.sin(2 * np.pi * f * t) for a, f in [(0.5, 261.6), (0.3, 329.6), (0.25, 1567.9)])
    return torch.from_numpy((x + 0.05 * rng.standard_normal(sr)).astype(np.float32))[None]


def _outputs(name: str, module: nn.Module, x: torch.Tensor):
    with torch.no_grad():
        if name in CQT_LIKE:
            return [module(x, output_format=f) for f in ("Magnitude", "Complex")]
        if name == "STFT":
            return [module(x, output_format=f) for f in ("Magnitude", "Complex")]
        if name == "iSTFT":
            spec = nnaudio_features.STFT(n_fft=512, hop_length=128, verbose=False)(x)
            return [module(spec, onesided=True, length=x.shape[-1])]
        out = module(x)
        return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("name,kw", STATE_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(STATE_CASES)])
def test_nnaudio_state_dict_loads_strictly_and_gives_its_outputs(name, kw):
    with _nnaudio_env():
        ref_cls = getattr(nnaudio_features, name)
        extra = {"verbose": False} if "verbose" in inspect.signature(ref_cls).parameters else {}
        ref = ref_cls(**kw, **extra)
    mod = getattr(ours, name)(**kw)
    missing, unexpected = mod.load_state_dict(ref.state_dict(), strict=True)
    assert missing == [] and unexpected == []
    if name == "Griffin_Lim":  # no kernels; nnAudio draws its initial phase from the global RNG
        return
    x = _signal(name)
    with _nnaudio_env():
        expected = _outputs(name, ref, x)
    got = _outputs(name, mod, x)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        assert _rel(g, e) <= TOL["state"]


TRAINED_CASES = [
    ("CQT1992", dict(fmin=110.0, n_bins=60, bins_per_octave=24, trainable_CQT=True)),
    ("CQT1992v2", dict(fmin=55.0, n_bins=72, hop_length=256)),  # fixed: switches to layout "full"
    ("CQT1992v2", dict(fmin=55.0, n_bins=72, hop_length=256, trainable=True)),
    ("CQT2010v2", dict(trainable=True)),
    ("VQT", dict(gamma=0)),
    ("VQT", dict(gamma=5.0)),
]


@pytest.mark.parametrize("name,kw", TRAINED_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(TRAINED_CASES)])
def test_trained_nnaudio_kernels_load_exactly(name, kw):
    """Kernels that are not the built ones (here: perturbed, as training leaves them) still load,
    and the outputs follow them."""
    gen = torch.Generator().manual_seed(0)
    with _nnaudio_env():
        ref = getattr(nnaudio_features, name)(**kw, verbose=False) if name != "CQT1992" else \
            getattr(nnaudio_features, name)(**kw)
        state = {k: v + 1e-3 * v.abs().max() * torch.randn(v.shape, generator=gen)
                 if "cqt_kernels" in k else v for k, v in ref.state_dict().items()}
        ref.load_state_dict(state)
    mod = getattr(ours, name)(**kw)
    mod.load_state_dict(state, strict=True)
    x = _signal(name)
    with _nnaudio_env():
        expected = _outputs(name, ref, x)
    for g, e in zip(_outputs(name, mod, x), expected):
        assert _rel(g, e) <= TOL["state"]


def _state_moves_with_its_outputs(name, nn_kw, our_kw, x, trained, gen):
    """nnAudio's ``name`` (its kernels perturbed when ``trained``) loads strictly into ours, and the
    complex outputs on ``x`` agree within TOL["state"]; worlds nnAudio itself refuses are assumed away
    (its own limits, e.g. the hop against the octave count or the reflection length)."""
    with _nnaudio_env():
        try:
            ref = getattr(nnaudio_features, name)(**nn_kw)
            ref(x)
        except Exception:
            assume(False)
        state = ref.state_dict()
        if trained:
            state = {k: v + 1e-3 * v.abs().max() * torch.randn(v.shape, generator=gen)
                     if "cqt_kernels" in k else v for k, v in state.items()}
            ref.load_state_dict(state)
        with torch.no_grad():
            expected = ref(x, output_format="Complex")
    mod = getattr(ours, name)(**our_kw)
    mod.load_state_dict(state, strict=True)
    with torch.no_grad():
        got = mod(x, output_format="Complex")
    assert got.shape == expected.shape
    assert _rel(got, expected) <= TOL["state"]


@settings(max_examples=int(os.environ.get("NNAUDIO_COMPAT_EXAMPLES", 12)), deadline=None)
@given(name=st.sampled_from(["CQT1992v2", "CQT2010v2", "VQT"]),
       sr=st.sampled_from([8000, 16000, 22050]), bpo=st.sampled_from([12, 24, 36]),
       octaves=st.floats(1.0, 6.0), fmin=st.floats(30.0, 120.0),
       hop=st.sampled_from([64, 128, 200, 256, 512]), gamma=st.floats(0.0, 20.0),
       trainable=st.booleans(), trained=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_any_nnaudio_cqt_state_loads_and_gives_its_outputs(name, sr, bpo, octaves, fmin, hop, gamma,
                                                         trainable, trained, seed):
    """Random constant-Q worlds: nnAudio's state (built, or perturbed as training leaves it) loads
    strictly and the complex outputs agree within TOL["state"]."""
    n_bins = max(1, int(octaves * bpo))
    assume(fmin * 2 ** ((n_bins - 1) / bpo) * 1.1 < sr / 2)
    kw = dict(sr=sr, fmin=fmin, n_bins=n_bins, bins_per_octave=bpo, hop_length=hop,
              trainable=trainable, **({"gamma": gamma} if name == "VQT" else {}))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, sr // 2, generator=gen)
    _state_moves_with_its_outputs(name, dict(kw, verbose=False), kw, x, trained, gen)


@settings(max_examples=int(os.environ.get("NNAUDIO_COMPAT_EXAMPLES", 8)), deadline=None)
@given(name=st.sampled_from(["CQT1992", "CQT2010"]), sr=st.sampled_from([8000, 16000]),
       bpo=st.sampled_from([12, 24]), octaves=st.floats(1.0, 5.0), fmin=st.floats(40.0, 120.0),
       hop=st.sampled_from([64, 128, 256]), trainable_cqt=st.booleans(), trained=st.booleans(),
       pad_mode=st.sampled_from(["reflect", "constant"]), seed=st.integers(0, 2 ** 16))
def test_any_legacy_cqt_state_loads_and_gives_its_outputs(name, sr, bpo, octaves, fmin, hop,
                                                        trainable_cqt, trained, pad_mode, seed):
    n_bins = max(1, int(octaves * bpo))
    assume(fmin * 2 ** ((n_bins - 1) / bpo) * 1.1 < sr / 2)
    kw = dict(sr=sr, fmin=fmin, n_bins=n_bins, bins_per_octave=bpo, hop_length=hop,
              trainable_CQT=trainable_cqt or trained, pad_mode=pad_mode)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, sr // 2, generator=gen)
    _state_moves_with_its_outputs(name, kw, kw, x, trained, gen)


def test_nnaudio_state_into_librosa_mode_is_refused():
    with _nnaudio_env():
        state = nnaudio_features.CQT2010v2(verbose=False).state_dict()
    with pytest.raises(RuntimeError, match=r"build CQT2010v2\(mode='nnaudio'\) to load it"):
        ours.CQT2010v2(mode="librosa").load_state_dict(state)


def test_our_own_state_dicts_still_round_trip():
    for make in (lambda: ours.MFCC(n_fft=512, n_mels=40), lambda: ours.CQT1992v2(trainable=True),
                 lambda: ours.CQT1992v2(), lambda: ours.VQT(gamma=3.0)):
        a, b = make(), make()
        b.load_state_dict(a.state_dict(), strict=True)


# ------------------------------------------------------------------------------- upstream cases

@pytest.fixture(scope="module")
def chirp_refs():
    """nnAudio's CQT1992v2 on upstream's log chirp (44.1 kHz, fmin 55, 207 bins, 24 per octave),
    in float32 (what upstream's ground truths hold) and float64."""
    x = _log_chirp()
    kw = dict(sr=44100, fmin=55, n_bins=207, bins_per_octave=24)
    with _nnaudio_env(), torch.no_grad():
        ref = nnaudio_features.CQT1992v2(verbose=False, **kw)
        out32 = ref(x, output_format="Complex")
        out64 = ref.double()(x.double(), output_format="Complex")
    return x, kw, out32, out64


def test_chirp_full_layout_matches_nnaudio_in_quiet_bins(chirp_refs):
    x, kw, out32, _ = chirp_refs
    with torch.no_grad():
        got = ours.CQT1992v2(layout="full", **kw)(x, output_format="Complex")
    mag, ref_mag = got.norm(dim=-1), out32.norm(dim=-1)
    assert _rel(mag, ref_mag) <= TOL["chirp_full"]
    # upstream's check: log magnitude, where the quiet bins weigh as much as the loud ones
    np.testing.assert_allclose(torch.log(mag + 1e-5).numpy(), torch.log(ref_mag + 1e-5).numpy(),
                               **TOL["upstream_log"])


def test_chirp_octave_layout_is_closer_to_float64_than_nnaudio(chirp_refs):
    x, kw, out32, out64 = chirp_refs
    with torch.no_grad():
        got = ours.CQT1992v2(layout="octaves", **kw)(x, output_format="Complex")
    mag64 = out64.norm(dim=-1)
    ours_err = _rel(got.norm(dim=-1).double(), mag64)
    assert ours_err <= TOL["chirp_octaves_f64"]
    assert ours_err < _rel(out32.norm(dim=-1).double(), mag64)


def test_vqt_gamma_zero_equals_cqt2010v2_exactly():
    """Upstream's ``test_vqt_gamma_zero`` (which nnAudio 0.3.4 itself fails)."""
    x = _signal("VQT").repeat(1, 3)
    for mode in ("nnaudio", "librosa"):
        c = ours.CQT2010v2(mode=mode)(x, output_format="Magnitude", normalization_type="librosa")
        v = ours.VQT(gamma=0, mode=mode)(x, output_format="Magnitude", normalization_type="librosa")
        assert bool((c == v).all())
    # in mode "librosa" all three are librosa.cqt; in mode "nnaudio" CQT1992v2 is nnAudio's other
    # algorithm (one full-rate convolution, no FIR chain) and differs from both, as in nnAudio
    v = ours.VQT(gamma=0, mode="librosa")(x)
    assert bool((ours.CQT1992v2(mode="librosa")(x) == v).all())


# --------------------------------------------------------------------- upstream suite, if present

UPSTREAM = os.environ.get("NNAUDIO_UPSTREAM_TESTS")
_IMPORTS = [(re.compile(r"^from nnAudio\.Spectrogram import ", re.MULTILINE), "from nnaudio_data.Spectrogram import "),
            (re.compile(r"^from nnAudio\.features import ", re.MULTILINE), "from nnaudio_data.features import ")]


def _librosa_examples_offline() -> bool:
    librosa = pytest.importorskip("librosa")
    try:
        for key in ("vibeace", "choice"):
            librosa.example(key, hq=False)
        return True
    except Exception:
        return False


# Written next to the copied tests when librosa's example recordings are not cached (they are
# downloaded on first use): a synthetic piano-like clip in their place, quiet at both ends and
# at a recording's level, as upstream's STFT tests (librosa pads with zeros, nnAudio reflects)
# need. Only librosa.example / librosa.ex are replaced; no test code changes.
_STAND_IN = """
import os, sys
import numpy as np, soundfile as sf, librosa
sys.path.insert(0, {tests!r})
from test_cqt_music import piano
_PATH = os.path.join(os.path.dirname(__file__), "example.wav")
if not os.path.exists(_PATH):
    sr = 22050
    x = np.concatenate([piano(sr, 80000, seed=s) for s in range(2)])
    n = np.arange(len(x))
    fade = np.clip((np.minimum(n, n[::-1]) - 0.15 * sr) / (0.2 * sr), 0, 1)
    sf.write(_PATH, 0.1 * x * fade, sr)
librosa.example = lambda *a, **k: _PATH
librosa.ex = librosa.example
"""

# Upstream tests that fail here, each for a reason outside this package:
KNOWN_FAILURES = {
    "test_mel_spectrogram": "calls librosa.feature.melspectrogram(x, ...) positionally (librosa >= 0.10)",
    "test_mfcc": "calls librosa.feature.mfcc(x, ...) positionally (librosa >= 0.10)",
    "test_cfp_original": "its ground truth cfp_original.pt is not published",
    "test_cfp_new": "its ground truth holds the real recording's CFP (fails on the stand-in)",
}


@pytest.mark.slow
@pytest.mark.skipif(not UPSTREAM, reason="set NNAUDIO_UPSTREAM_TESTS to nnAudio's Installation/tests")
def test_upstream_suite_with_only_the_imports_changed(tmp_path):
    """nnAudio's own tests (not shipped here), run with their import lines pointed at us."""
    src = os.path.abspath(UPSTREAM)
    dst = tmp_path / "tests"
    subprocess.run(["cp", "-r", src, str(dst)], check=True)
    for path in dst.glob("*.py"):
        text = path.read_text()
        for pattern, repl in _IMPORTS:
            text = pattern.sub(repl, text)
        path.write_text(text)
    here = os.path.dirname(os.path.abspath(__file__))
    if not _librosa_examples_offline():
        (dst / "conftest.py").write_text(_STAND_IN.format(tests=here))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(here))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-o", "python_files=test*.py", str(dst)], cwd=dst, env=env,
                         capture_output=True, text=True, timeout=3600)
    failed = re.findall(r"^FAILED \S+::(\w+)", run.stdout, re.MULTILINE)
    assert sorted(set(failed) - set(KNOWN_FAILURES)) == [], run.stdout[-3000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= 43, run.stdout[-3000:]
