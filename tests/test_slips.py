"""Common slips get a clear error (or librosa's warning) at construction, naming the argument, the
rule and the value found, with the way out."""
import warnings

import librosa
import numpy as np
import pytest
import torch

import nnaudio_data as nd
from nnaudio_data.augment import Compose, Gain, PolarityInversion
from nnaudio_data.features import MelSpectrogram
from nnaudio_data.features._kinds import make_transform, resolve_kind
from nnaudio_data.functional._mel import mel_filterbank


@pytest.mark.parametrize("name", ["augment", "spec_augment"])
@pytest.mark.parametrize("chain", [[Gain(), PolarityInversion()], (Gain(),)])
def test_a_list_of_augmentations_points_to_compose(name, chain):
    with pytest.raises(TypeError, match=rf"{name} must be one augmentation .* got a "
                                        rf"{type(chain).__name__} of {len(chain)}; .*Compose\(\[\.\.\.\]\)"):
        nd.GPUSpectrogramCollate("stft", device="cpu", **{name: chain})
    # the way out the message names works
    collate = nd.GPUSpectrogramCollate("stft", device="cpu", n_fft=64, **{name: Compose(list(chain))})
    assert collate([torch.randn(256)]).spec.shape[0] == 1


def test_an_augmentation_that_is_not_callable_is_named():
    with pytest.raises(TypeError, match="augment must be an augmentation .* got str"):
        nd.GPUSpectrogramCollate("stft", device="cpu", augment="gain")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the slip is asking for CUDA where there is none")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)],
                         ids=["name", "indexed", "torch.device"])  # an id "cuda" would mark it skipped
def test_cuda_without_cuda_fails_at_construction(device):
    with pytest.raises(ValueError, match=r"device must be available .*got device='cuda.*"
                                         r"torch.cuda.is_available\(\) is False.*device='cpu'"):
        nd.GPUSpectrogramCollate("mel", device=device, sr=16000)
    collate = nd.GPUSpectrogramCollate("stft", device="cpu", n_fft=64)
    with pytest.raises(ValueError, match="device must be available"):
        collate.to("cuda")
    assert collate.device == torch.device("cpu")  # a refused move leaves the collate as it was
    with pytest.raises(ValueError, match="device must be available"):  # the same rule for the loader
        nd.DeviceLoader([], device=device)
    assert nd.DeviceLoader([]).device == torch.device("cpu")


@pytest.mark.parametrize("given,meant", [("MEL", "mel"), ("LogMel", "logmel"), ("Stft", "stft"),
                                         ("CQT", "cqt")])
def test_kinds_match_case_insensitively(given, meant):
    assert resolve_kind(given) == meant
    collate = nd.GPUSpectrogramCollate(given, device="cpu", sr=16000)
    assert collate.kind == meant
    assert type(collate.transform) is type(make_transform(meant, sr=16000))


@pytest.mark.parametrize("given,suggested", [("mell", "'mel'"), ("spectrogram", None), ("mfc", "'mfcc'"),
                                             ("log_mel", "'logmel'"), ("gamatone", "'gammatone'"),
                                             ("sftf", "'stft'")])
def test_a_misspelt_kind_says_what_was_meant(given, suggested):
    hint = rf"did you mean [^?]*{suggested}[^?]*\? " if suggested else ""
    for build in (lambda: nd.GPUSpectrogramCollate(given, device="cpu"), lambda: make_transform(given)):
        with pytest.raises(ValueError, match=rf"kind '{given}' is not a spectrogram kind; {hint}"
                                             r"kind must be one of \[.*'mel'.*\] or an nn.Module"):
            build()
    if suggested is None:
        with pytest.raises(ValueError) as err:
            resolve_kind(given)
        assert "did you mean" not in str(err.value)


def test_kind_of_another_type_is_named():
    with pytest.raises(TypeError, match="kind must be a kind name .* got int"):
        nd.GPUSpectrogramCollate(3, device="cpu")


# (sr, n_fft, n_mels, fmin, fmax) worlds: librosa's empty-filter test decides, and we must agree
MEL_WORLDS = [(16000, 256, 128, 0.0, None), (8000, 512, 40, 0.0, None), (22050, 2048, 128, 0.0, None),
              (16000, 128, 64, 300.0, 4000.0), (44100, 1024, 256, 0.0, None), (16000, 1024, 80, 20.0, 8000.0)]


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", MEL_WORLDS)
def test_empty_mel_filters_warn_as_librosa_does(sr, n_fft, n_mels, fmin, fmax):
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    librosa_warns = any("Empty filters" in str(w.message) for w in theirs)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    ours = [w for w in ours if "Empty filters" in str(w.message)]
    assert bool(ours) == librosa_warns
    np.testing.assert_allclose(fb.numpy(), ref, rtol=1e-5, atol=1e-8)  # librosa computes in float32
    if ours:
        empty = int((fb.max(dim=1).values <= 0).sum())
        assert f"of n_mels={n_mels} filters are all zeros" in str(ours[0].message)
        assert f"sr={sr}, n_fft={n_fft}" in str(ours[0].message) and empty > 0


def test_empty_mel_filters_warn_through_the_transform_and_the_collate():
    with pytest.warns(UserWarning, match=r"Empty filters detected .* n_mels=128 .* sr=16000, n_fft=256"):
        MelSpectrogram(sr=16000, n_fft=256, n_mels=128)
    with pytest.warns(UserWarning, match="Empty filters detected"):
        nd.GPUSpectrogramCollate("logmel", device="cpu", sr=16000, n_fft=256, n_mels=128)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MelSpectrogram(sr=16000, n_fft=512, n_mels=40)  # a sound filterbank stays quiet


# -- the first day of a user: each slip below once gave a message that did not say what went wrong --

def test_a_folder_passed_as_urls_is_named_a_folder_with_the_pattern_of_its_shards(tmp_path):
    (tmp_path / "a.tar").write_bytes(b"")
    for given in (str(tmp_path), str(tmp_path) + "/", [str(tmp_path)]):
        with pytest.raises(ValueError, match=rf"urls: .* is a folder, not a shard; name its shards, e\.g\. "
                                             rf"urls='{tmp_path}/\*\.tar' \(the folder holds 1 \.tar files\)"):
            nd.ShardedAudioDataset(given, sr=16000)


@pytest.mark.parametrize("sr,hint", [(16, r"did you mean sr=16000 \(Hz, not kHz\)\?"), (48, r"did you mean sr=48000"),
                                     (500, r"e\.g\. sr=16000"), (800_000, r"e\.g\. sr=16000")])
def test_a_target_rate_is_bounded_as_file_rates_are(sr, hint):
    for make in (lambda: nd.ShardedAudioDataset("x.tar", sr=sr), lambda: nd.wrap([], sr=sr),
                 lambda: nd.prepare_stage(sr=sr)):
        with pytest.raises(ValueError, match=rf"sr must be a rate in Hz within \[1000, 768000\] .* got {sr}; {hint}"):
            make()


@pytest.mark.parametrize("kind,cls", [("mel", "MelSpectrogram"), ("logmel", "MelSpectrogram"), ("mfcc", "MFCC")])
def test_a_misspelt_kernel_argument_names_the_kind_and_the_closest_argument(kind, cls):
    message = rf"kind '{kind}' \(features\.{cls}\) takes no argument 'n_mel'; did you mean 'n_mels'\?"
    with pytest.raises(TypeError, match=message):
        nd.GPUSpectrogramCollate(kind, device="cpu", sr=16000, n_mel=64)
    # without sr the kernel is built for the clips' rate at the first batch: the same message then
    collate = nd.GPUSpectrogramCollate(kind, device="cpu", n_mel=64)
    with pytest.raises(TypeError, match=message):
        collate([{"waveform": torch.randn(4000), "sr": 16000}])
    with pytest.raises(TypeError, match=r"kind 'stft' \(features\.STFT\) takes no argument 'hop'; "
                                        r"did you mean 'hop_length'\?"):
        nd.GPUSpectrogramCollate("stft", device="cpu", hop=128)
    nd.GPUSpectrogramCollate(kind, device="cpu", sr=16000, n_mels=64)  # the suggestion works


@pytest.mark.parametrize("make", [lambda: MelSpectrogram(sr=16000, n_fft=256, n_mels=32),
                                  lambda: nd.features.STFT(n_fft=256, verbose=False),
                                  lambda: nd.features.MFCC(sr=16000, n_fft=256, n_mels=32)], ids=["mel", "stft", "mfcc"])
def test_feature_classes_follow_the_collates_shape_rules(make):
    transform = make()
    with pytest.raises(ValueError, match=r"x must be \(T,\), \(B, T\) or \(B, C, T\), got shape \(2, 3, 1, 4000\); "
                                         r"merge the leading axes first"):
        transform(torch.randn(2, 3, 1, 4000))
    with pytest.raises(ValueError, match=r"got shape \(16000, 2\), which reads as 16000 clips of 2 samples; "
                                         r"a \(T, C\) array \(soundfile's layout\) needs a transpose: x\.T"):
        transform(torch.randn(16000, 2))
    # the collate says the same of the same array
    with pytest.raises(ValueError, match=r"a \(T, C\) array \(soundfile's layout\) needs a transpose: x\.T"):
        nd.collate_audio([torch.randn(16000, 2)])
    x = torch.randn(2, 3, 4000)
    assert transform(x).shape[:2] == (2, 3)  # (B, C, T) stays accepted


def test_collate_audio_on_a_list_of_numbers_says_what_it_expected():
    with pytest.raises(ValueError, match=r"each sample must be a clip \(a waveform \(T,\) or \(C, T\), a dict or a "
                                         r"tuple\), got a single number, float 0\.5; .*"
                                         r"collate_audio\(\[torch\.tensor\(numbers\)\]\)"):
        nd.collate_audio([0.5, 0.25, 0.125])
    assert nd.collate_audio([torch.tensor([0.5, 0.25, 0.125])]).waveform.shape == (1, 1, 3)
