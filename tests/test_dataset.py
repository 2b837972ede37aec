"""ShardedAudioDataset over real tar shards: every clip once, contents, formats, labels, collate."""
import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data import expand_urls, write_index
from shardkit import encode, keys_of, source_clips, write_shards

# Tolerances, one table. PCM_16 quantises to 1/32768 (half a step of rounding, doubled for margin);
# FLAC is lossless at 16 bits (same bound); Vorbis is lossy, so OGG is only checked for length and
# a high correlation; a resampled tone's peak must land within one FFT bin; peak RSS may grow 5%
# over 10 epochs (allocator noise; a per-epoch leak of the batches would exceed it).
TOL = {"pcm16": 2 / 32768, "ogg_corr": 0.99, "tone_bins": 1, "rss_growth": 0.05}

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")

# (shard clip counts, workers): fewer shards than workers, and more
CASES = [([7], 3), ([4, 6], 3), ([3, 5, 2, 4, 6], 3), ([5, 3, 4], 1), ([5, 3, 4], 0), ([2, 2], 0)]


@pytest.mark.parametrize("counts,workers", CASES)
def test_every_clip_once(tmp_path, counts, workers):
    urls = write_shards(str(tmp_path), counts)
    ds = nd.ShardedAudioDataset(urls, sr=8000)
    loader = DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=nd.collate_audio)
    keys = keys_of(loader)
    assert sorted(keys) == sorted(source_clips(counts))
    assert ds.stats.delivered == sum(counts) and ds.stats.total_skipped == 0


def test_contents_equal_source_slice(tmp_path):
    counts = [4, 3]
    urls = write_shards(str(tmp_path), counts)
    src = source_clips(counts)
    ds = nd.ShardedAudioDataset(urls, sr=8000, offset=50, length=400)
    n = 0
    for item in ds:
        ref = src[item["key"]][:, 50:450]
        assert item["waveform"].dtype == torch.float32 and item["waveform"].shape == (1, 400)
        assert item["length"] == ref.shape[1] and item["sr"] == 8000 and item["url"] in urls
        valid = item["waveform"][:, : item["length"]].numpy()
        np.testing.assert_allclose(valid, ref, atol=TOL["pcm16"])
        assert not item["waveform"][:, item["length"]:].any()  # padding is zeros
        n += 1
    assert n == 7


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_formats_and_stereo(tmp_path, ext):
    x = np.stack([np.sin(np.arange(4000) * 0.05), 0.5 * np.cos(np.arange(4000) * 0.03)]).astype(np.float32) * 0.5
    import webdataset as wds
    url = str(tmp_path / "f.tar")
    with wds.TarWriter(url) as w:
        w.write({"__key__": "a", ext: encode(x, 8000, ext), "txt": "hello"})
    mono = next(iter(nd.ShardedAudioDataset(url, sr=8000)))
    stereo = next(iter(nd.ShardedAudioDataset(url, sr=8000, mono=False)))
    assert mono["label"] == "hello" and mono["waveform"].shape == (1, 4000)
    assert stereo["waveform"].shape == (2, 4000)
    if ext == "ogg":
        c = np.corrcoef(stereo["waveform"][0].numpy(), x[0])[0, 1]
        assert c > TOL["ogg_corr"]
    else:
        np.testing.assert_allclose(stereo["waveform"].numpy(), x, atol=TOL["pcm16"])
        np.testing.assert_allclose(mono["waveform"][0].numpy(), x.mean(0), atol=TOL["pcm16"])


def test_resample_keeps_tone_frequency(tmp_path):
    import webdataset as wds
    sr_in, sr_out, f0 = 16000, 8000, 1000.0
    x = 0.5 * np.sin(2 * np.pi * f0 * np.arange(sr_in) / sr_in)
    url = str(tmp_path / "t.tar")
    with wds.TarWriter(url) as w:
        w.write({"__key__": "tone", "flac": encode(x, sr_in, "flac")})
    item = next(iter(nd.ShardedAudioDataset(url, sr=sr_out)))
    y = item["waveform"][0].numpy()
    assert abs(y.shape[0] - sr_out) <= 1
    spec = np.abs(np.fft.rfft(y))
    peak_hz = np.argmax(spec) * sr_out / y.shape[0]
    assert abs(peak_hz - f0) <= TOL["tone_bins"] * sr_out / y.shape[0]


def test_labels_json_cls_txt(tmp_path):
    import webdataset as wds
    wav = encode(np.full(100, 0.1), 8000)
    url = str(tmp_path / "l.tar")
    with wds.TarWriter(url) as w:
        w.write({"__key__": "a", "wav": wav, "json": {"label": 7, "x": 1}})
        w.write({"__key__": "b", "wav": wav, "json": {"speaker": "z"}})
        w.write({"__key__": "c", "wav": wav, "cls": 3})
        w.write({"__key__": "d", "wav": wav, "txt": "word"})
        w.write({"__key__": "e", "wav": wav})
    labels = {it["key"]: it["label"] for it in nd.ShardedAudioDataset(url, sr=8000)}
    assert labels == {"a": 7, "b": {"speaker": "z"}, "c": 3, "d": "word", "e": None}


def test_epoch_shuffle_is_deterministic(tmp_path):
    urls = write_shards(str(tmp_path), [3] * 6)
    ds = nd.ShardedAudioDataset(urls, sr=8000, shuffle=8, seed=5)
    orders = []
    for epoch in (0, 1, 0):
        ds.set_epoch(epoch)
        orders.append([it["key"] for it in ds])
    assert orders[0] == orders[2] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1]) == sorted(source_clips([3] * 6))
    ds.set_epoch(0)
    other = nd.ShardedAudioDataset(urls, sr=8000, shuffle=8, seed=6)
    assert [it["key"] for it in other] != orders[0]


def test_random_crop_depends_on_seed_not_split(tmp_path):
    urls = write_shards(str(tmp_path), [3, 3], n=1000)

    def crops(workers):
        ds = nd.ShardedAudioDataset(urls, sr=8000, length=200, crop="random", seed=1)
        loader = DataLoader(ds, batch_size=None, num_workers=workers)
        return {it["key"]: it["waveform"][0, 0].item() for it in loader}

    a, b = crops(0), crops(2)
    assert a == b and len(set(a.values())) == 6


def test_variable_length_pads_and_masks(tmp_path):
    urls = write_shards(str(tmp_path), [6])
    loader = DataLoader(nd.ShardedAudioDataset(urls, sr=8000), batch_size=6, collate_fn=nd.collate_audio)
    batch = next(iter(loader))
    lengths = sorted(batch.lengths.tolist())
    assert lengths[0] < lengths[-1] == batch.waveform.shape[-1]
    assert torch.equal(batch.mask.sum(1), batch.lengths)
    assert not (batch.waveform[:, 0] * ~batch.mask).any()


def test_bucketing_cuts_padding(tmp_path):
    urls = write_shards(str(tmp_path), [40])

    def padding(bucket):
        ds = nd.ShardedAudioDataset(urls, sr=8000, bucket=bucket)
        loader = DataLoader(ds, batch_size=4, collate_fn=nd.collate_audio)
        batches = list(loader)
        assert sorted(keys_of(batches)) == sorted(source_clips([40]))
        return sum(int((~b.mask).sum()) for b in batches)

    assert padding(40) < padding(None) / 2


class Energy(nn.Module):
    """A tiny spectrogram stand-in: frame energies (B, T) -> (B, 1, N)."""

    def forward(self, x):
        return x.unfold(-1, 64, 32).pow(2).mean(-1)[:, None]


def test_collate_contract_with_workers(tmp_path):
    urls = write_shards(str(tmp_path), [5, 5, 4])
    collate = nd.GPUSpectrogramCollate(Energy(), device="cpu")
    ds = nd.ShardedAudioDataset(urls, sr=8000, length=320)
    batches = list(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate))
    assert sorted(keys_of(batches)) == sorted(source_clips([5, 5, 4]))
    for b in batches:
        assert isinstance(b, nd.AudioBatch) and not b.pending
        assert b.spec.shape == (len(b), 1, 9) and b.waveform.shape == (len(b), 1, 320)
        assert torch.allclose(b.spec, Energy()(b.waveform[:, 0]))
        assert len(b.info) == len(b) and all(t.url in urls and str(t).startswith(t.url) for t in b.info)
        assert b.labels.dtype == torch.int64
    assert ds.stats.delivered == 14


def test_default_collate_keeps_tags(tmp_path):
    urls = write_shards(str(tmp_path), [4])
    ds = nd.ShardedAudioDataset(urls, sr=8000, length=300)
    batches = list(DataLoader(ds, batch_size=2, num_workers=1))
    assert [b["waveform"].shape for b in batches] == [(2, 1, 300)] * 2
    assert [str(t) for b in batches for t in b["info"]] == [f"{urls[0]}#{i}" for i in range(4)]
    assert ds.stats.delivered == 4


def test_urls_index_and_len(tmp_path):
    write_shards(str(tmp_path), [2, 3, 4], index=False)
    pattern = str(tmp_path / "s-{0000..0002}.tar")
    assert expand_urls(pattern) == expand_urls(str(tmp_path / "s-*.tar")) == expand_urls([pattern])
    ds = nd.ShardedAudioDataset(pattern, sr=8000)
    with pytest.raises(TypeError, match="index"):
        len(ds)
    assert len(nd.ShardedAudioDataset(pattern, sr=8000, count=True)) == 9
    path = write_index(pattern)
    assert json.load(open(path)) == {"format": "nnaudio_data.index/1",
                                     "shards": {"s-0000.tar": 2, "s-0001.tar": 3, "s-0002.tar": 4}}
    assert len(nd.ShardedAudioDataset(pattern, sr=8000)) == 9
    with pytest.raises(ValueError, match="no index file"):
        nd.ShardedAudioDataset(pattern, sr=8000, index=str(tmp_path / "nope.json"))
    with open(path, "w") as f:
        json.dump({"shards": {}}, f)
    with pytest.raises(ValueError, match="format"):
        nd.ShardedAudioDataset(pattern, sr=8000)
    with pytest.raises(ValueError, match="glob"):
        expand_urls(str(tmp_path / "none-*.tar"))


@pytest.mark.parametrize("kw,match", [
    ({"sr": 0}, "sr must be an int > 0, got 0"),
    ({"offset": -1}, "offset must be an int >= 0, got -1"),
    ({"length": 0}, "length must be None or an int > 0, got 0"),
    ({"crop": "end"}, "crop must be one of"),
    ({"shuffle": -2}, "shuffle must be"),
    ({"remainder": "pad"}, "remainder must be one of"),
    ({"on_error": "ignore"}, "on_error must be one of"),
    ({"rank": 2, "world_size": 2}, "rank must be in"),
])
def test_validation_names_argument(tmp_path, kw, match):
    urls = write_shards(str(tmp_path), [1])
    with pytest.raises(ValueError, match=match):
        nd.ShardedAudioDataset(urls, **{"sr": 8000, **kw})


def test_repr_shows_non_defaults(tmp_path):
    urls = write_shards(str(tmp_path), [1, 1])
    r = repr(nd.ShardedAudioDataset(urls, sr=8000, length=100, shuffle=True, on_error="skip"))
    assert r == "ShardedAudioDataset(2 shards, sr=8000, length=100, shuffle=True, on_error='skip')"


def test_memory_flat_over_epochs(tmp_path):
    """Peak RSS of the main process plus 2 persistent workers, 10 epochs: under 5% growth from epoch
    2 to 10 (epoch 1 warms caches up)."""
    from nnaudio_data.tools.bench.loader import memory_per_epoch

    urls = write_shards(str(tmp_path), [30, 30], n=40000)  # 10 MB of clips an epoch: a leak of the
    peaks = memory_per_epoch(urls, sr=8000, length=40000, batch=8, epochs=10)  # batches shows
    assert min(peaks) > 0 and peaks[-1] / peaks[1] - 1 < TOL["rss_growth"], peaks
