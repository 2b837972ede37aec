"""nd.wrap over tuple, dict and path datasets, map-style and iterable, through a real DataLoader."""
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

import nnaudio_data as nd
from nnaudio_data.data import SampleError, SampleWarning
from nnaudio_data.data._wrap import WrappedDataset, WrappedIterableDataset


def tone(freq: float, sr: int, seconds: float, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return np.repeat((amp * np.sin(2 * np.pi * freq * t))[None], channels, axis=0).astype(np.float32)


def peak_hz(x: torch.Tensor, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.numpy()))
    return float(np.argmax(spectrum) * sr / len(x))


class TorchaudioLike:
    """(waveform (C, T) Tensor, sample_rate, label, speaker) items at 8 kHz, stereo."""

    def __init__(self, n=6):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.from_numpy(tone(200 + 100 * i, 8000, 0.5, channels=2)), 8000, i, f"spk{i}"


def loader(ds, batch_size=4):
    return DataLoader(ds, batch_size=batch_size, num_workers=2, collate_fn=nd.collate_audio)


def test_tuple_dataset_map_style_resamples_and_pads():
    ds = nd.wrap(TorchaudioLike(), sr=16000, length=12000)
    assert isinstance(ds, WrappedDataset) and len(ds) == 6
    batches = list(loader(ds))
    assert [b.waveform.shape for b in batches] == [torch.Size([4, 1, 12000]), torch.Size([2, 1, 12000])]
    keys = sum((b.keys for b in batches), [])
    labels = torch.cat([b.labels for b in batches]).tolist()
    assert keys == [str(i) for i in range(6)] and labels == list(range(6))
    for b in batches:
        assert b.lengths.tolist() == [8000] * len(b)  # 0.5 s at 16 kHz, then zero padding
        assert torch.all(b.waveform[:, :, 8000:] == 0)
        for row, label in zip(b.waveform[:, 0], b.labels.tolist()):
            assert abs(peak_hz(row[:8000], 16000) - (200 + 100 * label)) <= 2  # 2 Hz bins
            assert abs(row[1000:7000].abs().max().item() - 0.5) < 0.01  # mono mean of equal channels


def hf_items(n=5, sr=22050):
    return [{"audio": {"array": np.arange(1000, dtype=np.float64) / 1000 + i, "sampling_rate": sr,
                       "path": None}, "label": f"class-{i % 2}", "id": f"utt{i}"} for i in range(n)]


def test_hf_dict_dataset_trims_exactly():
    ds = nd.wrap(hf_items(), sr=22050, offset=100, length=300)
    batch = next(iter(loader(ds, batch_size=5)))
    assert batch.keys == [f"utt{i}" for i in range(5)]
    assert batch.labels == ["class-0", "class-1", "class-0", "class-1", "class-0"]
    expected = torch.stack([torch.arange(100, 400) / 1000 + i for i in range(5)]).float()
    torch.testing.assert_close(batch.waveform[:, 0], expected, rtol=0, atol=1e-6)
    centred = nd.wrap(hf_items(1), sr=22050, length=300, crop="center")[0]
    torch.testing.assert_close(centred["waveform"][0], torch.arange(350, 650) / 1000, rtol=0, atol=1e-6)


def test_hf_custom_fields_and_bytes():
    import io
    buf = io.BytesIO()
    sf.write(buf, tone(1000, 16000, 0.25)[0], 16000, format="FLAC")
    items = [{"sound": {"bytes": buf.getvalue(), "path": "a.flac"}, "target": 7}]
    s = nd.wrap(items, sr=8000, audio_field="sound", label_field="target")[0]
    assert s["label"] == 7 and s["sr"] == 8000 and s["waveform"].shape == (1, 2000)
    assert abs(peak_hz(s["waveform"][0], 8000) - 1000) <= 4


def test_path_dataset(tmp_path):
    paths = []
    for i, freq in enumerate([300, 600, 900]):
        p = tmp_path / f"clip{i}.wav"
        sf.write(p, tone(freq, 48000, 0.5, channels=2).T, 48000, subtype="PCM_16")
        paths.append(p if i % 2 else str(p))  # PathLike and str both work
    ds = nd.wrap(paths, sr=16000, mono=False)
    batch = next(iter(loader(ds)))
    assert batch.waveform.shape == (3, 2, 8000) and batch.keys == [str(p) for p in paths]
    assert batch.labels is None
    for row, freq in zip(batch.waveform[:, 1], [300, 600, 900]):
        assert abs(peak_hz(row, 16000) - freq) <= 2


class SelfSplitting(IterableDataset):
    """A torch IterableDataset that splits its items among workers itself."""

    def __iter__(self):
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        for i in range(wid, 10, nw):
            yield {"audio": {"array": np.full(100, i, np.float32), "sampling_rate": 1000}, "label": i}


class PlainIterable:
    """An iterable that knows nothing of workers: the wrapper splits it."""

    def __iter__(self):
        for i in range(10):
            yield torch.full((1, 100), float(i)), 1000, i


@pytest.mark.parametrize("source", [SelfSplitting(), PlainIterable()], ids=["torch-iterable", "plain-iterable"])
def test_iterable_sources_each_item_once(source):
    ds = nd.wrap(source, sr=1000)
    assert isinstance(ds, WrappedIterableDataset)
    batches = list(loader(ds))
    labels = sorted(sum((b.labels.tolist() for b in batches), []))
    assert labels == list(range(10))  # each item exactly once over 2 workers
    keys = sum((b.keys for b in batches), [])
    assert sorted(keys, key=int) == [str(i) for i in range(10)]  # default keys unique across workers
    for b in batches:
        assert torch.equal(b.waveform[:, 0, 0], b.labels.float())


def bad_items():
    good = {"audio": {"array": np.ones(50, np.float32), "sampling_rate": 1000}, "label": 1}
    nan = {"audio": {"array": np.array([0.0, np.nan]), "sampling_rate": 1000}, "label": 2}
    no_rate = {"audio": {"array": np.ones(50), "sampling_rate": None}, "label": 3}
    return [good, nan, good, no_rate, {"label": 5}, good]


def test_map_style_bad_items_skip_become_dropped():
    ds = nd.wrap(bad_items(), sr=1000, on_error="skip")
    batches = list(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=nd.collate_audio))
    assert [len(b) for b in batches] == [2, 1]
    assert [b.dropped for b in batches] == [1, 2]
    assert sum((b.keys for b in batches), []) == ["0", "2", "5"]
    assert ds[1] is None and ds.policy.stats.skipped == {"non_finite": 1}
    assert ds[3] is None and ds[4] is None
    assert ds.policy.stats.skipped == {"non_finite": 1, "sample_rate": 1, "missing_audio": 1}


def test_map_style_raise_and_warn():
    with pytest.raises(SampleError) as info:
        nd.wrap(bad_items(), sr=1000, on_error="raise", name="my-set")[1]
    assert (info.value.url, info.value.key, info.value.reason) == ("my-set", "1", "non_finite")
    with pytest.warns(SampleWarning, match="non_finite"):
        assert nd.wrap(bad_items(), sr=1000)[1] is None


def test_iterable_bad_items_are_dropped_and_counted():
    ds = nd.wrap(iter(bad_items()), sr=1000, on_error="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = list(ds)
    assert [s["key"] for s in out] == ["0", "2", "5"]
    assert ds.policy.stats.delivered == 3 and ds.policy.stats.total_skipped == 3
    assert len([w for w in caught if issubclass(w.category, SampleWarning)]) == 3


def test_random_crop_is_deterministic():
    items = [(torch.arange(1000.0)[None], 1000, 0)] * 3

    def starts(seed, epoch=0):
        ds = nd.wrap(items, sr=1000, length=10, crop="random", seed=seed)
        ds.set_epoch(epoch)
        return [int(ds[i]["waveform"][0, 0]) for i in range(3)]

    assert starts(0) == starts(0)
    assert len(set(starts(0))) > 1  # items draw different windows
    assert starts(0) != starts(1) and starts(0) != starts(0, epoch=1)
    assert all(0 <= s <= 990 for s in starts(3))


def test_argument_validation():
    """The dataset's messages (ClipSpec checks the clip arguments of all three entry points)."""
    with pytest.raises(ValueError, match="sr must be an int > 0, got 0"):
        nd.wrap([], sr=0)
    with pytest.raises(ValueError, match="crop must be one of"):
        nd.wrap([], sr=1000, crop="middle")
    with pytest.raises(ValueError, match="on_error must be one of"):
        nd.wrap([], sr=1000, on_error="ignore")
    with pytest.raises(ValueError, match="length must be None or an int > 0, got 0"):
        nd.wrap([], sr=1000, length=0)
    with pytest.raises(TypeError, match="map-style"):
        nd.wrap(5, sr=1000)
