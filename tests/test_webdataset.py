"""webdataset pipelines meet nnaudio_data: real ``wds.WebDataset`` pipelines over real tar shards
(written by ``wds.TarWriter``, decoded by soundfile) with ``collate_fn=GPUSpectrogramCollate``,
``wds.WebLoader``, ``.batched(n, collation_fn=collate)``; and :func:`nnaudio_data.prepare_stage`
as a ``.map`` / ``.compose`` stage, in real DataLoader worker processes."""
import io
import os
import multiprocessing as mp
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
import webdataset as wds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data._errors import SampleError, SampleWarning
from nnaudio_data.features import STFT

from shardkit import encode, source_clips, write_shards

# tolerances: the collate and the stage move samples without arithmetic (compared bit-exact)
PCM16_ATOL = 1 / 32768  # a clip written as 16-bit PCM is its float source to within one step
# the spectrogram is computed in a worker process and the reference in this one: the FFT may run
# with another thread count and blocking there, so float32 rounding differs (seen: 2.4e-7 absolute
# on magnitudes up to ~20); 1e-5 is far below a wrong frame or bin (differences of order 1)
SPEC_TOL = dict(rtol=1e-5, atol=1e-5)
COUNTS = [5, 4, 3, 6]  # four shards: each of two workers gets two under webdataset's worker split
KW = dict(n_fft=64, hop_length=16)


def sf_audio(key, data):
    """A webdataset decoder handler: audio members -> ((C, T) float32 tensor, sr), by soundfile."""
    if key.rsplit(".", 1)[-1] not in ("wav", "flac"):
        return None
    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(x.T)), sr


def sf_numpy(key, data):
    """As :func:`sf_audio`, but a (T,) numpy array for mono (soundfile's own shape) and the rate."""
    if key.rsplit(".", 1)[-1] not in ("wav", "flac"):
        return None
    return sf.read(io.BytesIO(data), dtype="float32")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("wds")
    return write_shards(str(root / "wav"), COUNTS), write_shards(str(root / "flac"), COUNTS, ext="flac")


def _collate():
    return nd.GPUSpectrogramCollate("stft", device="cpu", **KW)


def _check_batches(batches, ext="wav"):
    """Every clip exactly once, as written (to 16-bit), its label, its rate, its spectrogram."""
    src = source_clips(COUNTS)
    labels = {k: i for i, k in enumerate(src)}
    seen = []
    for b in batches:
        assert isinstance(b, nd.AudioBatch) and b.sr == 8000
        torch.testing.assert_close(b.spec, STFT(output_format="Magnitude", verbose=False, **KW)(b.waveform[:, 0]),
                                   **SPEC_TOL)
        for i, key in enumerate(b.keys):
            n = int(b.lengths[i])
            np.testing.assert_allclose(b.waveform[i, 0, :n].numpy(), src[key][0], atol=PCM16_ATOL, rtol=0)
            assert not b.waveform[i, :, n:].any()
            assert int(b.labels[i]) == labels[key]
        seen += b.keys
    assert sorted(seen) == sorted(src), f"{ext}: clips lost or repeated"


@pytest.mark.parametrize("ext", ["wav", "flac"])
@pytest.mark.parametrize("decoder", [sf_audio, sf_numpy], ids=["tensor_pair", "numpy_pair"])
def test_decoded_dicts_with_dataloader_collate_fn(shards, ext, decoder):
    urls = shards[0] if ext == "wav" else shards[1]
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode(decoder)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=_collate())
    _check_batches(loader, ext)


@pytest.mark.parametrize("fields", [("wav", "cls"), ("__key__", "wav", "cls")], ids=["audio_label", "key_first"])
def test_tuples_with_webloader(shards, fields):
    ds = wds.WebDataset(shards[0], shardshuffle=False).decode(sf_audio).to_tuple(*fields)
    batches = list(wds.WebLoader(ds, batch_size=3, num_workers=2, collate_fn=_collate()))
    if fields[0] == "__key__":
        _check_batches(batches)
    else:  # no key in the tuple: the keys are positions, the clips still all arrive
        assert sum(len(b.keys) for b in batches) == sum(COUNTS)
        assert sorted(int(v) for b in batches for v in b.labels) == list(range(sum(COUNTS)))


@pytest.mark.parametrize("make_loader", [
    lambda ds: DataLoader(ds, batch_size=None, num_workers=2),
    lambda ds: wds.WebLoader(ds, batch_size=None, num_workers=2),
], ids=["DataLoader", "WebLoader"])
def test_batched_in_the_pipeline(shards, make_loader):
    ds = wds.WebDataset(shards[0], shardshuffle=False).decode(sf_audio).batched(4, collation_fn=_collate())
    batches = list(make_loader(ds))
    assert all(len(b.keys) <= 4 for b in batches)
    _check_batches(batches)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_prepare_stage_map_matches_the_dataset(shards, start, tmp_path):
    """The stage gives the items ShardedAudioDataset gives (one clip path), through .map in workers
    started by fork and spawn (the stage pickles); clips at 16 kHz are resampled to 8 kHz."""
    high = write_shards(str(tmp_path / "hi"), [3, 2], sr=16000, n=800, prefix="h")
    urls = shards[0] + high
    stage = nd.prepare_stage(sr=8000, length=300, crop="center")
    ds = wds.WebDataset(urls, shardshuffle=False).map(stage)
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=mp.get_context(start))
    got = {(os.path.basename(i["url"]), i["key"]): i for i in loader}  # keys repeat across the two sets
    want = {(os.path.basename(i["url"]), i["key"]): i for part in (shards[0], high)
            for i in nd.ShardedAudioDataset(part, sr=8000, length=300, crop="center", on_error="raise")}
    assert sorted(got) == sorted(want) and len(got) == sum(COUNTS) + 5
    for name, item in got.items():
        assert item["waveform"].shape == (1, 300) and item["length"] == want[name]["length"]
        assert torch.equal(item["waveform"], want[name]["waveform"]) and item["label"] == want[name]["label"]
    batch = _collate()([got[name] for name in sorted(got)[:6]])  # and they collate
    assert batch.waveform.shape == (6, 1, 300) and batch.sr == 8000


def test_prepare_stage_random_crop_is_per_sample_and_to_tuple_works(shards):
    stage = nd.prepare_stage(sr=8000, length=100, crop="random", seed=3)
    first = {t[0]: t[1] for t in wds.WebDataset(shards[0], shardshuffle=False).map(stage).to_tuple("__key__", "waveform")}
    again = {t[0]: t[1] for t in wds.WebDataset(shards[0][::-1], shardshuffle=False).map(stage).to_tuple("__key__", "waveform")}
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    stage.set_epoch(1)
    other = {t[0]: t[1] for t in wds.WebDataset(shards[0], shardshuffle=False).map(stage).to_tuple("__key__", "waveform")}
    assert any(not torch.equal(first[k], other[k]) for k in first)  # a new epoch, new crops


def test_prepare_stage_after_decode(shards):
    """Samples already decoded by webdataset (a (waveform, sr) pair) go through the same clip path."""
    stage = nd.prepare_stage(sr=4000, length=150)
    decoded = list(wds.WebDataset(shards[0], shardshuffle=False).decode(sf_audio).map(stage))
    raw = {i["key"]: i for i in wds.WebDataset(shards[0], shardshuffle=False).map(stage)}
    assert len(decoded) == sum(COUNTS)
    for item in decoded:
        assert item["label"] == raw[item["key"]]["label"] and item["sr"] == 4000
        torch.testing.assert_close(item["waveform"], raw[item["key"]]["waveform"], rtol=0, atol=0)


@pytest.fixture()
def broken(tmp_path):
    extra = {0: [{"__key__": "bad", "wav": b"RIFF not audio at all"}],
             1: [{"__key__": "quiet", "wav": encode(np.zeros(400, np.float32), 8000), "cls": 9}]}
    return write_shards(str(tmp_path), [2, 2], extra=extra)


def test_prepare_stage_rejections(broken):
    stage = nd.prepare_stage(sr=8000, on_error="warn")
    with pytest.raises(SampleError, match=r"s-0000.tar.*bad.*decode"):
        list(wds.WebDataset(broken, shardshuffle=False).map(stage))
    kept = list(wds.WebDataset(broken, shardshuffle=False).map(stage, handler=wds.ignore_and_continue))
    assert sorted(i["key"] for i in kept) == ["k0_0", "k0_1", "k1_0", "k1_1"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = list(wds.WebDataset(broken, shardshuffle=False).compose(stage.stream))
    assert len(kept) == 4
    named = sorted(str(w.message) for w in caught if issubclass(w.category, SampleWarning))
    assert len(named) == 2 and "s-0000.tar key='bad': decode" in named[0] and "key='quiet': silent" in named[1]
    assert dict(stage.policy.stats.skipped) == {"decode": 1, "silent": 1} and stage.policy.stats.delivered == 4


def test_prepare_stage_arguments_are_validated():
    for kw, match in [(dict(sr=0), "sr must be an int > 0, got 0"), (dict(sr=8000, length=0), "length must be"),
                      (dict(sr=8000, crop="middle"), "crop must be one of"),
                      (dict(sr=8000, on_error="ignore"), "on_error must be one of")]:
        with pytest.raises(ValueError, match=match):
            nd.prepare_stage(**kw)
    with pytest.raises(TypeError, match="webdataset dict with '__key__', got list"):
        nd.prepare_stage(sr=8000)([1, 2])
    assert repr(nd.prepare_stage(sr=8000, length=100)) == "prepare_stage(sr=8000, length=100)"


def test_collate_names_undecoded_and_transposed_samples():
    with pytest.raises(ValueError, match=r"sample 'a': entry 'flac' holds undecoded bytes; .*\.decode\(.*prepare_stage"):
        nd.collate_audio([{"__key__": "a", "flac": b"fLaC..."}])
    with pytest.raises(ValueError, match=r"sample 'b': waveform must be \(C, T\), got shape \(1000, 2\).*x\.T"):
        nd.collate_audio([{"__key__": "b", "wav": (np.zeros((1000, 2), np.float32), 8000)}])
    with pytest.raises(KeyError, match="without a 'waveform' entry or an audio entry"):
        nd.collate_audio([{"__key__": "c", "txt": "hello"}])


def _as_form(form, key, wav, sr, label):
    """One clip in one of webdataset's (and torchaudio's) sample shapes."""
    arr = wav.numpy()
    return [
        {"waveform": wav, "key": key, "label": label, "sr": sr},
        {"__key__": key, "flac": (wav, sr), "cls": label},
        {"__key__": key, "audio.wav": (arr, sr), "label": label},
        {"__key__": key, "wav": wav, "cls": label, "sr": sr},
        (key, (wav, sr), label),
    ][form]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 60), st.integers(0, 9)), min_size=1, max_size=6),
       st.integers(1, 2))
def test_every_sample_shape_collates_alike(clips, channels):
    """Random worlds of mixed sample shapes collate to the batch of the plain "waveform" dicts."""
    g = torch.Generator().manual_seed(len(clips))
    plain, mixed = [], []
    for i, (form, n, label) in enumerate(clips):
        wav = torch.randn(channels, n, generator=g)
        plain.append({"waveform": wav, "key": f"k{i}", "label": label, "sr": 8000})
        mixed.append(_as_form(form, f"k{i}", wav, 8000, label))
    a, b = nd.collate_audio(plain), nd.collate_audio(mixed)
    assert torch.equal(a.waveform, b.waveform) and torch.equal(a.lengths, b.lengths)
    assert a.keys == b.keys and torch.equal(a.labels, b.labels) and a.sr == b.sr == 8000


@pytest.mark.filterwarnings("ignore:WebDataset\\(shardshuffle=...\\) is None")  # webdataset's own default, as the page keeps it
def test_the_first_block_of_the_webdataset_page_runs_with_soundfile_alone(shards):
    """docs/webdataset.md's first block, as written but for the kernel's arguments (these shards
    hold clips of a few hundred samples at 8 kHz) and 2 workers (CI has 2 cores), over real FLAC shards."""
    text = open(os.path.join(os.path.dirname(__file__), "..", "docs", "webdataset.md")).read()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "torch_audio" not in block.split("loader", 1)[0]  # the decoder is soundfile's
    scope = {"urls": shards[1]}
    block = block.replace("sr=16000", "sr=8000, n_fft=128, n_mels=32").replace("num_workers=4", "num_workers=2")
    exec(compile(block, "docs/webdataset.md", "exec"), scope)
    batch = scope["batch"]
    assert isinstance(batch, nd.AudioBatch) and batch.spec.shape[:2] == (batch.waveform.shape[0], 32)
