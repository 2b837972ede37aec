"""FLAC clips cut to a fixed length are decoded window-only (only the kept samples, straight into
the padded clip): the items equal those of the whole-file path, sample for sample, in random
worlds; a stream that breaks off inside the window is a named "truncated" skip."""
import io

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.data import _samples as samples
from nnaudio_data.data._decode import flac_streaminfo
from nnaudio_data.data._errors import SampleError
from nnaudio_data.data._samples import ClipSpec, decode_probed, make_item, prepare_clip


def _flac(frames: int, channels: int, sr: int, seed: int, subtype: str = "PCM_16") -> bytes:
    x = np.random.default_rng(seed).uniform(-0.9, 0.9, (frames, channels))
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="FLAC", subtype=subtype)
    return buf.getvalue()


def _whole_file_item(data: bytes, spec: ClipSpec, crop_seed: int):
    x, sr = decode_probed(data, None)
    return prepare_clip(x, sr, spec, "u.tar", "k", None, torch.Generator().manual_seed(crop_seed))


@settings(max_examples=40, deadline=None)
@given(frames=st.integers(1, 9000), channels=st.sampled_from([1, 2]), mono=st.booleans(),
       length=st.integers(1, 10000), offset=st.integers(0, 3000),
       crop=st.sampled_from(["start", "center", "random"]), subtype=st.sampled_from(["PCM_16", "PCM_24"]),
       seed=st.integers(0, 2**16))
def test_window_decode_equals_the_whole_file_path(frames, channels, mono, length, offset, crop, subtype, seed):
    data = _flac(frames, channels, 8000, seed, subtype)
    spec = ClipSpec(sr=8000, length=length, offset=offset, crop=crop, mono=mono, silence=None)
    info = flac_streaminfo(data)
    assert info == (8000, channels, frames)
    assert samples._window_applies(info, spec) == (channels == 1 or not mono)
    sample = {"__key__": "k", "__url__": "u.tar", "flac": data}
    try:
        want = _whole_file_item(data, spec, seed)
    except SampleError as e:
        with pytest.raises(SampleError) as got:
            make_item(sample, spec, torch.Generator().manual_seed(seed))
        assert got.value.reason == e.reason
        return
    got = make_item(sample, spec, torch.Generator().manual_seed(seed))
    assert torch.equal(got["waveform"], want["waveform"])
    assert (got["length"], got["sr"], got["key"]) == (want["length"], want["sr"], want["key"])


def test_window_path_is_taken_and_reads_only_the_window(monkeypatch):
    data = _flac(40000, 1, 8000, 0)
    calls = []
    real = samples.read_flac_window
    monkeypatch.setattr(samples, "read_flac_window", lambda *a: calls.append(a[2:4]) or real(*a))
    item = make_item({"__key__": "k", "__url__": "u", "flac": data}, ClipSpec(sr=8000, length=500, offset=30000))
    assert item["length"] == 500
    assert [(start, out.shape) for start, out in calls] == [(30000, (1, 500))]
    # another rate: the window and the resampling filter's reach (not the 40000 frames)
    calls.clear()
    make_item({"__key__": "k", "__url__": "u", "flac": data}, ClipSpec(sr=4000, length=500))
    assert [(start, out.shape[0]) for start, out in calls] == [(0, 1)] and 1000 <= calls[0][1].shape[1] < 1100
    # mono from stereo at the same rate: the whole-file path (mix-down)
    calls.clear()
    make_item({"__key__": "k", "__url__": "u", "flac": _flac(900, 2, 8000, 1)}, ClipSpec(sr=8000, length=500))
    assert calls == []


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_stream_breaking_off_inside_the_window_is_truncated(cut):
    data = _flac(30000, 1, 8000, 2)
    short = data[: int(len(data) * cut)]
    with pytest.raises(SampleError) as e:
        make_item({"__key__": "k", "__url__": "u", "flac": short}, ClipSpec(sr=8000, length=30000))
    assert e.value.reason == "truncated"


def test_hostile_frame_count_sizes_nothing():
    """A STREAMINFO claiming 2**36 - 1 frames: the clip is sized by length; the missing samples
    are a "truncated" skip, not an allocation of the claimed size."""
    data = bytearray(_flac(1000, 1, 8000, 3))
    packed = int.from_bytes(data[18:26], "big") | ((1 << 36) - 1)
    data[18:26] = packed.to_bytes(8, "big")
    data[26:42] = bytes(16)  # no MD5
    assert flac_streaminfo(bytes(data)).frames == (1 << 36) - 1
    with pytest.raises(SampleError) as e:
        make_item({"__key__": "k", "__url__": "u", "flac": bytes(data)}, ClipSpec(sr=8000, length=4000))
    assert e.value.reason in ("truncated", "decode")
