"""Augmentation inside GPUSpectrogramCollate, on CPU: train applies, eval does not, parameters are
recorded and replay them, seeds derive per worker and epoch."""
import pytest
import torch
from torch.utils.data import DataLoader

from nnaudio_data import GPUSpectrogramCollate, collate_audio
from nnaudio_data.augment import (AddBackgroundNoise, AddColoredNoise, Compose, FrequencyMasking,
                                  Gain, Mixup, TimeMasking, TimeShift)


class StftMagnitude(torch.nn.Module):
    """Stand-in kernel: torch.stft magnitude, (B, T) -> (B, F, N)."""

    def forward(self, x):
        return torch.stft(x, 128, 32, window=torch.hann_window(128, device=x.device),
                          return_complex=True).abs()


def clips(n=6, t=2048, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"waveform": torch.randn(1, t, generator=g), "key": f"k{i}", "label": i % 3} for i in range(n)]


def make(seed=0, **kw):
    return GPUSpectrogramCollate(StftMagnitude(), device="cpu", seed=seed,
                                 augment=Compose([Gain((-6.0, 6.0)), AddColoredNoise(10.0), TimeShift(0.2)]),
                                 spec_augment=Compose([FrequencyMasking(10, value=-1.0),
                                                       TimeMasking(5, value=-1.0)]),
                                 **kw)


def test_train_applies_and_eval_does_not():
    samples = clips()
    plain = collate_audio(samples).waveform
    collate = make()
    train = collate(samples)
    assert not torch.equal(train.waveform, plain)
    assert (train.spec == -1.0).any(), "spectrogram masks ran"
    assert set(train.params) == {"augment", "spec_augment"}
    assert train.params["augment"]["children"][0]["gain_db"].shape == (6,)
    ev = collate.eval()(samples)
    assert torch.equal(ev.waveform, plain) and ev.params == {}
    assert torch.equal(ev.spec, StftMagnitude()(plain[:, 0]))
    assert collate.train().training


def test_params_replay_the_batch_exactly():
    samples = clips()
    collate = make()
    first = collate(samples)
    second = collate(samples)
    assert not torch.equal(first.spec, second.spec), "the generator advances"
    again = collate.replay(samples, first.params)
    assert torch.equal(again.waveform, first.waveform) and torch.equal(again.spec, first.spec)
    assert torch.equal(collate.eval().replay(samples, second.params).spec, second.spec), \
        "replay applies recorded params in eval mode too"
    plain = collate.eval()(samples)
    assert torch.equal(collate.train().replay(samples, plain.params).spec, plain.spec), \
        "a batch recorded without augmentation replays without it"


def test_same_seed_same_batches_other_seed_other_batches():
    samples = clips()
    a, b, c = make(1)(samples), make(1)(samples), make(2)(samples)
    assert torch.equal(a.spec, b.spec) and not torch.equal(a.spec, c.spec)
    collate = make(1)
    collate.set_epoch(1)
    assert not torch.equal(collate(samples).spec, a.spec), "the epoch enters the seed"


def test_plain_callable_augment_still_works():
    collate = GPUSpectrogramCollate(StftMagnitude(), device="cpu", augment=lambda x: 2 * x)
    samples = clips(2)
    out = collate(samples)
    assert torch.equal(out.waveform, 2 * collate_audio(samples).waveform) and out.params["augment"] == {}


def test_mixup_in_collate_mixes_labels_by_the_same_weights():
    samples = clips(8)
    collate = GPUSpectrogramCollate(StftMagnitude(), device="cpu", augment=Mixup(alpha=0.4, num_classes=3))
    out = collate(samples)
    p = out.params["augment"]
    lam, perm = p["lam"], p["perm"]
    x0 = collate_audio(samples).waveform
    onehot = torch.nn.functional.one_hot(torch.tensor([i % 3 for i in range(8)]), 3).float()
    torch.testing.assert_close(out.waveform, lam.view(-1, 1, 1) * x0 + (1 - lam.view(-1, 1, 1)) * x0[perm])
    torch.testing.assert_close(out.labels, lam[:, None] * onehot + (1 - lam[:, None]) * onehot[perm])
    again = collate.replay(samples, out.params)
    assert torch.equal(again.labels, out.labels) and torch.equal(again.waveform, out.waveform)
    assert collate.eval()(samples).labels.dtype == torch.long, "eval: labels as collated"


def test_workers_draw_differently_and_reproducibly():
    same = [{"waveform": torch.ones(1, 512), "label": 0}] * 8

    def run():
        loader = DataLoader(same, batch_size=2, num_workers=2, collate_fn=GPUSpectrogramCollate(
            StftMagnitude(), device="cpu", augment=Gain((-20.0, 20.0)), seed=3))
        return [b.params["augment"]["gain_db"] for b in loader]

    first = run()
    gains = torch.cat(first)
    assert len(set(gains.tolist())) == 8, "no two workers repeat a draw"
    assert all(torch.equal(a, b) for a, b in zip(first, run()))


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        GPUSpectrogramCollate(StftMagnitude(), device="cpu", seed=-1)


class NoiseStream(torch.utils.data.IterableDataset):
    """A stream of noise clips as a second dataset would yield them (dicts with "waveform")."""

    def __iter__(self):
        g = torch.Generator().manual_seed(7)
        for i in range(3):
            yield {"waveform": torch.randn(1, 700, generator=g), "key": f"noise{i}"}


def test_background_noise_streams_from_a_dataset_in_workers():
    import pickle

    aug = AddBackgroundNoise(NoiseStream(), snr_db=10.0)
    aug(torch.randn(2, 1, 100))                      # the main process has an iterator open
    copy = pickle.loads(pickle.dumps(aug))           # what a spawned worker receives
    first = copy(torch.randn(1, 1, 100), generator=torch.Generator().manual_seed(0)).params["noise"]
    clip0 = next(iter(NoiseStream()))["waveform"]
    assert any(torch.equal(first[0, 0], clip0[0, o:o + 100]) for o in range(601)), "restarts at the start"
    loader = DataLoader(clips(8, 1024), batch_size=4, num_workers=2, collate_fn=GPUSpectrogramCollate(
        StftMagnitude(), device="cpu", augment=aug))
    batches = list(loader)
    assert all(b.params["augment"]["noise"].shape == (4, 1, 1024) for b in batches)
