"""The whole path, end to end, with every real part: audio files -> `write_shards` -> tar shards ->
ShardedAudioDataset in 2 worker processes -> GPUSpectrogramCollate with augmentation ->
DeviceLoader -> spectrograms equal to the transform applied to the delivered waveforms."""

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.augment import AddColoredNoise, Compose, FrequencyMasking, Gain, TimeMasking

TOL = {"rtol": 1e-4, "atol": 1e-5}  # same float32 kernels on the same data; only op order differs
SR, N, CLIPS = 16000, 4000, 24
MEL = dict(sr=SR, n_fft=512, hop_length=128, n_mels=40)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(0)
    for i in range(CLIPS):  # label from the folder name; rates and channels vary
        folder = root / "src" / str(i % 3)
        folder.mkdir(parents=True, exist_ok=True)
        rate, channels = (SR, 1) if i % 2 else (22050, 2)
        x = 0.3 * rng.standard_normal((int(rate * 0.3), channels))
        sf.write(folder / f"c{i:03d}.{'wav' if i % 4 else 'flac'}", x, rate)
    summary = nd.write_shards(root / "src", root / "out", prefix="p", max_count=7, progress=False)
    assert summary.clips == CLIPS and not summary.skipped
    return [str(root / "out" / name) for name in sorted(summary.shards)]


def loader(urls, collate, workers=2):
    ds = nd.ShardedAudioDataset(urls, sr=SR, length=N, seed=1)
    return ds, nd.DeviceLoader(DataLoader(ds, batch_size=5, num_workers=workers, collate_fn=collate))


def test_eval_spectrograms_equal_the_transform_of_the_delivered_waveforms(shards):
    collate = nd.GPUSpectrogramCollate("mel", device="cpu", **MEL).eval()
    ds, dl = loader(shards, collate)
    reference = nd.features.MelSpectrogram(**MEL)
    keys = []
    for batch in dl:
        assert batch.waveform.shape[1:] == (1, N) and batch.spec.shape[:2] == (len(batch), 40)
        torch.testing.assert_close(batch.spec, reference(batch.waveform[:, 0]), **TOL)
        assert set(batch.labels.tolist()) <= {0, 1, 2}
        keys += batch.keys
    assert len(keys) == len(set(keys)) == CLIPS  # every clip once, across both workers
    assert ds.stats.delivered == CLIPS and ds.stats.total_skipped == 0


def test_training_batches_are_augmented_and_replayable(shards):
    collate = nd.GPUSpectrogramCollate(
        "mel", device="cpu", seed=5, **MEL,
        augment=Compose([Gain((-6.0, 6.0)), AddColoredNoise((10.0, 20.0), color="pink")]),
        spec_augment=Compose([FrequencyMasking(8), TimeMasking(6)]))
    clean = nd.GPUSpectrogramCollate("mel", device="cpu", **MEL).eval()
    ds, dl = loader(shards, collate, workers=0)
    for batch in dl:
        assert set(batch.params) == {"augment", "spec_augment"}
        plain = clean(ds_items(shards, batch.keys))
        assert not torch.allclose(batch.spec, plain.spec)  # augmented
        again = collate.replay(ds_items(shards, batch.keys), batch.params)
        torch.testing.assert_close(again.spec, batch.spec, rtol=0, atol=0)  # replay is exact


def ds_items(urls, keys):
    wanted = {it["key"]: it for it in nd.ShardedAudioDataset(urls, sr=SR, length=N)}
    return [wanted[k] for k in keys]


@pytest.mark.parametrize("kind, kwargs", [("stft", dict(n_fft=256)), ("mfcc", dict(sr=SR, n_mfcc=13)),
                                          ("cqt", dict(sr=SR, hop_length=128, n_bins=48)),
                                          ("gammatone", dict(sr=SR, n_fft=512))])
def test_every_kind_streams_through_workers(shards, kind, kwargs):
    collate = nd.GPUSpectrogramCollate(kind, device="cpu", **kwargs)
    reference = nd.features.make_transform(kind, **kwargs)
    _, dl = loader(shards, collate)
    for batch in dl:
        torch.testing.assert_close(batch.spec, reference(batch.waveform[:, 0]), **TOL)


@pytest.mark.cuda
def test_cuda_end_to_end(shards):
    collate = nd.GPUSpectrogramCollate("mel", device="cuda", **MEL).eval()
    _, dl = loader(shards, collate)
    reference = nd.features.MelSpectrogram(**MEL)
    for batch in dl:
        assert batch.spec.is_cuda
        torch.testing.assert_close(batch.spec.cpu(), reference(batch.waveform[:, 0].cpu()), rtol=1e-3, atol=1e-3)
