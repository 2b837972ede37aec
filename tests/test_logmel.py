"""The rate and the scale: dB conversions against librosa, "logmel" / "logstft" collate kinds with
spectrogram augmentation on the log values, the clips' sample rate carried into the collate,
non-negative trainable filterbanks, and the collate as the owner of the kernel's parameters."""
import librosa
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shardkit import write_shards
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.augment import FrequencyMasking, Gain, TimeMasking
from nnaudio_data.features import AmplitudeToDB, MelSpectrogram, PowerToDB

# Tolerances (dB). The reference is librosa in float64; ours computes log10 in float32, whose
# relative error (~6e-8) is ~1e-6 dB at 100 dB: the 1e-3 dB bound holds with room.
DB_TOL = 1e-3


@st.composite
def spectrograms(draw):
    """(B, F, N) power spectrograms over a wide dynamic range, with exact zeros and tiny values."""
    b, f, n = draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    s = 10.0 ** rng.uniform(-14, 4, (b, f, n))
    s[rng.random((b, f, n)) < 0.1] = 0.0
    return s.astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(spectrograms(), st.sampled_from([80.0, 40.0, None]))
def test_power_to_db_equals_librosa_per_clip(s, top_db):
    got = PowerToDB(amin=1e-10, top_db=top_db)(torch.from_numpy(s)).numpy()
    for i in range(s.shape[0]):
        want = librosa.power_to_db(s[i].astype(np.float64), ref=1.0, amin=1e-10, top_db=top_db)
        np.testing.assert_allclose(got[i], want, rtol=0, atol=DB_TOL)


@settings(max_examples=40, deadline=None)
@given(spectrograms())
def test_amplitude_to_db_equals_librosa_per_clip(s):
    a = np.sqrt(s)
    got = AmplitudeToDB(top_db=80.0)(torch.from_numpy(a)).numpy()
    for i in range(a.shape[0]):
        want = librosa.amplitude_to_db(a[i].astype(np.float64), ref=1.0, amin=1e-5, top_db=80.0)
        np.testing.assert_allclose(got[i], want, rtol=0, atol=DB_TOL)


def test_db_arguments_are_validated():
    with pytest.raises(ValueError, match="amin must be > 0, got 0"):
        PowerToDB(amin=0)
    with pytest.raises(ValueError, match="top_db must be >= 0 or None, got -1"):
        PowerToDB(top_db=-1)


def clips(n=4, t=2000, sr=8000):
    g = torch.Generator().manual_seed(0)
    return [{"waveform": torch.randn(1, t, generator=g), "key": f"k{i}", "label": i % 2, "sr": sr}
            for i in range(n)]


KW = dict(n_fft=256, hop_length=128)


@pytest.mark.parametrize("kind, ref", [
    ("logmel", lambda: torch.nn.Sequential(MelSpectrogram(sr=8000, n_mels=20, **KW), PowerToDB())),
    ("logstft", lambda: torch.nn.Sequential(nd.features.STFT(output_format="Magnitude", **KW),
                                            AmplitudeToDB())),
])
def test_log_kinds_and_spec_augment_on_log_values(kind, ref):
    extra = dict(n_mels=20) if kind == "logmel" else {}
    collate = nd.GPUSpectrogramCollate(kind, device="cpu", sr=8000,
                                       spec_augment=FrequencyMasking(5, value=-123.0), **KW, **extra)
    samples = clips()
    batch = collate(samples)
    log = ref()(nd.collate_audio(samples).waveform[:, 0])
    masked = batch.spec == -123.0
    assert masked.any() and (log > -123.0).all()
    torch.testing.assert_close(batch.spec[~masked], log[~masked], rtol=0, atol=0)
    assert torch.equal(FrequencyMasking(5, value=-123.0)(log, params=batch.params["spec_augment"]).x,
                       batch.spec), "the masks are applied to the log values"


def test_logmel_matches_librosa_in_db():
    """End to end against librosa: log-mel of a tone within a loose bound (the mel kernels agree
    with librosa to float32 accuracy; in dB that is far below 0.01 above the top_db floor; both
    pad reflecting, nnAudio's default)."""
    sr, t = 8000, 4000
    x = np.sin(2 * np.pi * 440 * np.arange(t) / sr).astype(np.float32) + 0.01
    collate = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=sr, n_mels=20, **KW)
    got = collate([{"waveform": torch.from_numpy(x), "sr": sr}]).spec[0].numpy()
    want = librosa.power_to_db(librosa.feature.melspectrogram(y=x.astype(np.float64), sr=sr, n_mels=20,
                                                              htk=False, norm="slaney", pad_mode="reflect",
                                                              **KW),
                               ref=1.0, amin=1e-10, top_db=80.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=0.01)


# -- the rate travels with the clips ------------------------------------------------------------
def test_rate_from_the_shards_builds_the_kernel(tmp_path):
    urls = write_shards(str(tmp_path), [4], sr=16000, n=800)
    ds = nd.ShardedAudioDataset(urls, sr=16000, length=800)
    collate = nd.GPUSpectrogramCollate("mel", device="cpu", n_mels=16, **KW)
    assert collate.transform is None and collate.sr is None
    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate)))
    assert batch.sr == 16000 and collate.sr == 16000 and collate.transform.sr == 16000
    ref = MelSpectrogram(sr=16000, n_mels=16, **KW)(batch.waveform[:, 0])
    torch.testing.assert_close(batch.spec, ref, rtol=0, atol=0)
    # deferred to the main process (as for a CUDA target): the worker only checks, the main builds
    main = nd.GPUSpectrogramCollate("mel", device="cpu", n_mels=16, where="main", **KW)
    for b in DataLoader(ds, batch_size=2, num_workers=1, collate_fn=main):
        assert b.pending and main.transform is None or main.transform.sr == 16000
        torch.testing.assert_close(b.spec, MelSpectrogram(sr=16000, n_mels=16, **KW)(b.waveform[:, 0]))
    assert main.sr == 16000


def test_mismatching_rate_raises_naming_both():
    collate = nd.GPUSpectrogramCollate("mel", device="cpu", sr=44100, n_mels=16, **KW)
    with pytest.raises(ValueError, match=r"clips are at sr=16000 Hz .* built for sr=44100 Hz"):
        collate(clips(sr=16000))
    with pytest.raises(ValueError, match=r"same sample rate, got \[8000, 16000\]"):
        nd.collate_audio(clips(2, sr=8000) + clips(2, sr=16000))
    with pytest.raises(ValueError, match="needs the sample rate"):
        nd.GPUSpectrogramCollate("mel", device="cpu")([torch.randn(1000)])
    with pytest.raises(ValueError, match="trainable kernel needs sr="):
        nd.GPUSpectrogramCollate("mel", device="cpu", trainable_mel=True)
    b = nd.collate_audio([(torch.ones(10), 16000, "dog")])
    assert b.sr == 16000 and b.labels == ["dog"]


# -- trainable filterbanks stay non-negative ----------------------------------------------------
def _train_logmel(nonnegative, steps=30, lr=1.0):
    collate = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=8000, n_mels=16, trainable_mel=True,
                                       nonnegative=nonnegative, top_db=None, **KW)
    opt = torch.optim.Adam(collate.parameters(), lr=lr)
    samples = clips(4)
    finite = True
    for _ in range(steps):
        spec = collate(samples).spec
        finite &= bool(torch.isfinite(spec).all())
        loss = spec.mean()  # pushes every weight down, towards and past zero
        opt.zero_grad()
        loss.backward()
        opt.step()
    return collate.transform.spectrogram, finite


def test_trainable_filterbank_stays_non_negative_and_finite_at_a_large_learning_rate():
    mel, finite = _train_logmel(True)
    assert finite and (mel.basis >= 0).all()
    raw, _ = _train_logmel(False)
    assert (raw.basis < 0).any(), "without the parametrisation the same steps go negative"


def test_nonnegative_filterbank_gradient_matches_finite_differences():
    v = torch.tensor([0.3, -0.2, 0.7], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(nd.features._base.nonnegative, (v,))


# -- the collate owns the kernel's parameters ---------------------------------------------------
def test_collate_parameters_state_dict_and_to():
    collate = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=8000, n_mels=16, trainable_mel=True,
                                       augment=Gain((-3.0, 3.0)), **KW)
    model = torch.nn.Linear(16, 2)
    opt = torch.optim.Adam(list(model.parameters()) + list(collate.parameters()), lr=0.05)
    names = [n for n, _ in collate.named_parameters()]
    assert names == ["spectrogram.mel_basis"]
    samples = clips(4)
    for _ in range(3):
        loss = model(collate(samples).spec.mean(-1)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = collate.state_dict()
    fresh = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=8000, n_mels=16, trainable_mel=True, **KW)
    assert not torch.equal(fresh.eval()(samples).spec, collate.eval()(samples).spec), "training moved it"
    fresh.load_state_dict(state)
    assert torch.equal(fresh.eval()(samples).spec, collate.eval()(samples).spec)
    assert collate.to("cpu") is collate and collate.device == torch.device("cpu")
    fixed = nd.GPUSpectrogramCollate("mel", device="cpu", n_mels=16, **KW)
    assert list(fixed.parameters()) == [] and fixed.state_dict() == {}


def test_spec_augment_time_masks_run_after_the_log():
    collate = nd.GPUSpectrogramCollate("logmel", device="cpu", sr=8000, n_mels=16,
                                       spec_augment=TimeMasking(3, value=0.0), **KW)
    spec = collate(clips()).spec
    assert (spec == 0.0).any() and (spec < 0).any(), "masked frames read 0 dB among negative dB"
