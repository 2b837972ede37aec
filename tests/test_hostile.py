"""Untrusted bytes never crash the loader: hostile WAV headers and mixed channel counts become
named, counted skips, and nothing read from a shard sizes an unbounded allocation."""
import io
import struct

import numpy as np
import pytest
import soundfile as sf
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data._samples import MAX_RATE, MIN_RATE
from shardkit import encode, keys_of, source_clips, write_shards

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")

GOOD = [3, 2]


def wav_with_rate(rate: int, subtype: str = "PCM_16") -> bytes:
    """A valid WAV whose header's sample-rate field (and byte rate) says ``rate``."""
    buf = io.BytesIO()
    sf.write(buf, np.full(400, 0.25), 8000, format="WAV", subtype=subtype)
    data = bytearray(buf.getvalue())
    pos = data.index(b"fmt ") + 8
    struct.pack_into("<I", data, pos + 4, rate)
    struct.pack_into("<I", data, pos + 8, (rate * 2) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("rate", [0, 999, 768_001, 0xFFFFFFFF, 2_000_000_011, 767_999])
@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_hostile_sample_rate_is_a_named_skip(tmp_path, rate, subtype):
    """Regression: rate 0 raised ValueError; 0xFFFFFFFF or 2000000011 made resample_poly ask for
    128-298 GiB (MemoryError). Rates outside [MIN_RATE, MAX_RATE], or whose ratio to the target
    needs a huge polyphase filter (767999 Hz), are "bad_rate" skips."""
    urls = write_shards(str(tmp_path), GOOD, extra={0: [{"__key__": "evil", "wav": wav_with_rate(rate, subtype)}]})
    ds = nd.ShardedAudioDataset(urls, sr=16000, on_error="skip")
    keys = keys_of(DataLoader(ds, batch_size=2, num_workers=0, collate_fn=nd.collate_audio))
    assert sorted(keys) == sorted(source_clips(GOOD)) and ds.stats.skipped == {"bad_rate": 1}


def test_rate_bounds_keep_real_rates(tmp_path):
    urls = write_shards(str(tmp_path), [0], extra={0: [{"__key__": f"r{r}", "wav": wav_with_rate(r)}
                                                       for r in (MIN_RATE, 8000, 11025, 44100, 96000, MAX_RATE)]})
    ds = nd.ShardedAudioDataset(urls, sr=16000, on_error="raise")
    assert [it["key"] for it in ds] == ["r1000", "r8000", "r11025", "r44100", "r96000", "r768000"]


def test_any_exception_while_making_a_sample_is_a_named_skip(tmp_path, monkeypatch):
    """An exception that is not a SampleError (a bug, or a library surprised by the bytes) is the
    sample's "unexpected" skip, naming its type, not the end of the epoch."""
    import nnaudio_data.data._samples as samples

    urls = write_shards(str(tmp_path), GOOD)
    real = samples.parse_label

    def flaky(sample, url, key, required):
        if key == "k0_1":
            raise MemoryError("hostile bytes")
        return real(sample, url, key, required)

    monkeypatch.setattr(samples, "parse_label", flaky)
    ds = nd.ShardedAudioDataset(urls, sr=8000)
    with pytest.warns(nd.SampleWarning, match="key='k0_1': unexpected: MemoryError: hostile bytes"):
        keys = [it["key"] for it in ds]
    assert sorted(keys) == sorted(set(source_clips(GOOD)) - {"k0_1"})
    assert ds.stats.skipped == {"unexpected": 1}


@pytest.mark.parametrize("channels", [None, 2])
@pytest.mark.parametrize("workers", [0, 2])
def test_mixed_channel_counts_are_a_rule_not_a_crash(tmp_path, channels, workers):
    """Regression: mono=False with clips of different channel counts ended the loop in the collate.
    Clips whose count differs from ``channels`` (or from the first clip's) are "channels" skips."""
    stereo = {f"st{i}": encode(np.tile(np.full(300, 0.1 * (i + 1)), (2, 1)), 8000) for i in range(3)}
    extra = [{"__key__": "mono1", "wav": encode(np.full(300, 0.3), 8000)}]
    extra += [{"__key__": k, "wav": v} for k, v in stereo.items()]
    urls = write_shards(str(tmp_path), [0], extra={0: extra})
    ds = nd.ShardedAudioDataset(urls, sr=8000, mono=False, channels=channels, on_error="skip")
    batches = list(DataLoader(ds, batch_size=4, num_workers=workers, collate_fn=nd.collate_audio))
    keys = keys_of(batches)
    assert all(b.waveform.shape[1] == (channels or b.waveform.shape[1]) for b in batches)
    if channels == 2 or workers == 0:  # the first clip (mono1) fixes 1 channel when channels=None
        want = set(stereo) if channels == 2 else {"mono1"}
        assert set(keys) == want and ds.stats.skipped == {"channels": 4 - len(want)}
    assert len(keys) + ds.stats.skipped.get("channels", 0) == 4
    with pytest.raises(ValueError, match="channels must be None, or an int >= 1 with mono=False, got 2"):
        nd.ShardedAudioDataset(urls, sr=8000, channels=2)
