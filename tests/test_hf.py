"""nd.wrap over the real Hugging Face ``datasets`` library: a map-style ``Dataset`` and streaming
``IterableDataset`` s built from ``{"audio": {"array", "sampling_rate"}, "label"}`` dicts, with a
``ClassLabel`` column, through DataLoader worker processes."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

datasets = pytest.importorskip("datasets")

import nnaudio_data as nd  # noqa: E402

# A tone resampled 8 kHz -> 16 kHz must peak within one FFT bin (16000 / 1600 = 10 Hz) of its
# frequency; float32 storage of the source array.
TOL = {"tone_bins": 1}
NAMES = ["dog", "cat", "bird"]
SR_IN, SR_OUT, N = 8000, 16000, 800
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


def freq(i: int) -> float:
    return 200.0 + 100.0 * i


def rows(n: int = 10):
    t = np.arange(N) / SR_IN
    for i in range(n):
        yield {"audio": {"array": (0.5 * np.sin(2 * np.pi * freq(i) * t)).astype(np.float32),
                         "sampling_rate": SR_IN}, "label": i % 3, "id": f"utt{i}"}


FEATURES = datasets.Features({
    "audio": {"array": datasets.List(datasets.Value("float32")), "sampling_rate": datasets.Value("int32")},
    "label": datasets.ClassLabel(names=NAMES), "id": datasets.Value("string")})


def check(batches, n=10):
    seen = {}
    for b in batches:
        assert b.labels.dtype == torch.int64 and b.waveform.shape[1:] == (1, 2 * N)
        for key, label, row in zip(b.keys, b.labels.tolist(), b.waveform[:, 0]):
            i = int(key[3:])
            assert key not in seen and label == i % 3
            spectrum = np.abs(np.fft.rfft(row.numpy()))
            assert abs(np.argmax(spectrum) * SR_OUT / len(row) - freq(i)) <= TOL["tone_bins"] * SR_OUT / len(row)
            seen[key] = label
    assert sorted(seen) == sorted(f"utt{i}" for i in range(n))  # every row exactly once


@pytest.mark.parametrize("fmt", [None, "numpy"])
def test_map_style_dataset_with_workers(fmt):
    ds = datasets.Dataset.from_list(list(rows()), features=FEATURES)
    if fmt:
        ds = ds.with_format(fmt)
    wrapped = nd.wrap(ds, sr=SR_OUT, length=2 * N, on_error="raise")
    assert isinstance(wrapped, nd.data.WrappedDataset) and len(wrapped) == 10
    assert wrapped.classes == NAMES
    check(DataLoader(wrapped, batch_size=4, num_workers=2, collate_fn=nd.collate_audio))


def _gen(parts):
    all_rows = list(rows())
    for p in parts:
        yield from all_rows[p::2]


@pytest.mark.parametrize("build", ["to_iterable", "from_generator"])
def test_streaming_iterable_dataset_with_workers(build):
    if build == "to_iterable":
        ds = datasets.Dataset.from_list(list(rows()), features=FEATURES).to_iterable_dataset(num_shards=2)
    else:
        ds = datasets.IterableDataset.from_generator(_gen, features=FEATURES, gen_kwargs={"parts": [0, 1]})
    assert ds.num_shards == 2
    wrapped = nd.wrap(ds, sr=SR_OUT, length=2 * N, on_error="raise")
    assert isinstance(wrapped, nd.data.WrappedIterableDataset) and wrapped.classes == NAMES
    check(DataLoader(wrapped, batch_size=3, num_workers=2, collate_fn=nd.collate_audio))
    check(DataLoader(wrapped, batch_size=3, num_workers=0, collate_fn=nd.collate_audio))


def test_plain_label_column_has_no_classes():
    ds = datasets.Dataset.from_list([{**r, "label": NAMES[r["label"]]} for r in rows(3)])
    wrapped = nd.wrap(ds, sr=SR_OUT)
    assert wrapped.classes is None and [wrapped[i]["label"] for i in range(3)] == NAMES
