"""Many windows per recording: fixed windows with a hop, or a manifest's segments, carried by the shard
writer into the index's ``windows`` field; each window one sample of the plan, decoded alone.

The streaming guarantees over windows (exactly once, equal batches, resume, counted skips) are the
invariant harness's (tests/test_invariants.py, windowed worlds); this module checks the rest on
real shards (soundfile WAV and FLAC, webdataset tars, DataLoader workers)."""
import csv
import io
import itertools
import json
import os

import numpy as np
import pytest
import soundfile as sf
import webdataset as wds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.cli import main
from nnaudio_data.data._errors import ErrorPolicy
from nnaudio_data.data._index import parse_index
from nnaudio_data.data._memberview import MemberView
from nnaudio_data.data._remote import Retry
from nnaudio_data.data._assign import Slice
from nnaudio_data.data._stream import samples
from nnaudio_data.data._windows import MAX_WINDOWS_PER_CLIP, fixed_count, window_frames

pytestmark = pytest.mark.filterwarnings("ignore::nnaudio_data.data._errors.SampleWarning")

SR = 8000
TOL = {
    # a window is the same frames of the same file, decoded by the same libsndfile (PCM_16 -> float32
    # is exact), with no resampling (the dataset's rate is the file's): bit-exact
    "window_vs_whole_decode": 0.0,
}


def _recording(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr))
    return (0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t / sr) + 0.01 * (t % 97) / 97).astype(np.float32)


def _encode(x: np.ndarray, ext: str, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=ext.upper(), subtype="PCM_16")
    return buf.getvalue()


def _shard(root, members, windows, name="w-000000.tar"):
    """One shard of ``members`` (key, ext, bytes, label), and an index with ``windows``."""
    url = os.path.join(root, name)
    with wds.TarWriter(url) as tw:
        for key, ext, data, label in members:
            tw.write({"__key__": key, ext: data, **({"cls": label} if label is not None else {})})
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"format": "nnaudio_data.index/1", "shards": {name: len(members)}, "windows": {name: windows}}, f)
    return url


# -- the fixed-window rule -----------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(frames=st.integers(0, 5000), rate=st.sampled_from([100, 8000, 44100]),
       window=st.floats(0.001, 0.5), hop=st.floats(0.001, 0.5), last=st.sampled_from(["drop", "pad"]))
def test_fixed_windows_are_whole_under_drop_and_cover_every_frame_under_pad(frames, rate, window, hop, last):
    n = fixed_count(frames, rate, window, hop, last)
    entry = {"window": window, "hop": hop, "last": last, "n": n}
    spans = [window_frames(entry, k, rate) for k in range(n + 1)]  # one past the count, to see it stop
    inside = [(a, b) for a, b in spans if (b <= frames if last == "drop" else a < frames)]
    if last == "drop":  # every whole window, the next one is not
        assert len(inside) == n and all(b <= frames for a, b in spans[:n])
    else:
        assert all(a < frames for a, b in spans[:n])
        covered = set()
        for a, b in spans[:n]:
            covered.update(range(a, min(b, frames)))
        step = spans[1][0] - spans[0][0] if len(spans) > 1 else 1
        if step <= spans[0][1] - spans[0][0]:  # hop <= window: no gaps, every frame lies in a window
            assert covered == set(range(frames))
        assert n == 0 or spans[n - 1][1] >= frames or spans[n][0] >= frames  # the last one reaches the end


# -- decoding a window alone ---------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["wav", "flac"])
@pytest.mark.parametrize("how", ["local", "pipe"])
def test_a_window_decodes_only_its_frames_and_equals_the_whole_decode(tmp_path, ext, how):
    x = _recording(20.0)
    data = _encode(x, ext)
    windows = [{"window": 1.0, "hop": 0.75, "last": "pad", "n": fixed_count(len(x), SR, 1.0, 0.75, "pad")}]
    url = _shard(str(tmp_path), [("rec", ext, data, 3)], windows)
    full, _ = sf.read(io.BytesIO(data), dtype="float32")
    src = url if how == "local" else f"pipe:cat {url}"
    ds = nd.ShardedAudioDataset(src, sr=SR, index=str(tmp_path / "index.json"), on_error="raise")
    items = list(ds)
    assert len(items) == len(ds) == windows[0]["n"] == 27
    for k, item in enumerate(items):
        a = round(k * 0.75 * SR)
        want = full[a:a + SR]
        assert item["key"] == f"rec#{k}" and item["label"] == 3 and item["length"] == len(want)
        np.testing.assert_allclose(item["waveform"][0].numpy(), want, atol=TOL["window_vs_whole_decode"], rtol=0)
    # a local shard hands the member over as a view (read where it lies); a pipe as its bytes
    raw = next(samples(ds.urls, [Slice(0)], {0: lambda i: True}, ErrorPolicy("raise"), None, Retry(), None,
                       None, ds.windows))
    assert isinstance(raw[ext], MemberView if how == "local" else bytes)


WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(WAV_SUBTYPES), st.integers(1, 3), st.integers(2, 4000), st.floats(0, 1),
       st.floats(0.001, 1), st.integers(0, 3000), st.booleans(), st.integers(0, 2**31 - 1))
def test_a_wav_window_read_by_its_header_is_soundfiles_seek_and_read(tmp_path_factory, subtype, channels, frames,
                                                                       where, size, extra, view, seed):
    # the WAV fast path (the header, then the window's bytes alone) against soundfile's seek + read
    # of the same file, bit for bit, from bytes and from a view of the member in a file, with a
    # chunk of ``extra`` bytes before the audio
    from nnaudio_data.data import _window_stream
    from nnaudio_data.data._samples import ClipSpec

    rng = np.random.default_rng(seed)
    x = np.clip(rng.standard_normal((frames, channels)) * 0.3, -1, 1)
    buf = io.BytesIO()
    sf.write(buf, x, SR, format="WAV", subtype=subtype)
    data = buf.getvalue()
    if extra:  # a LIST chunk between the fmt chunk and the data chunk, as taggers write
        at = data.index(b"data")
        chunk = b"LIST" + (extra + (extra & 1)).to_bytes(4, "little") + bytes(extra + (extra & 1))
        data = data[:4] + (len(data) + len(chunk) - 8).to_bytes(4, "little") + data[8:at] + chunk + data[at:]
    a = int(where * (frames - 1))
    n = max(1, int(size * (frames - a)))
    entry = {"segments": [[a / SR, (a + n) / SR]]}
    with sf.SoundFile(io.BytesIO(data)) as snd:
        snd.seek(a)
        want = snd.read(n, dtype="float32", always_2d=True).T
    src = data
    if view:
        path = tmp_path_factory.mktemp("wav") / "m.bin"
        path.write_bytes(b"x" * 512 + data + b"y" * 100)
        src = MemberView(str(path), 512, len(data))
    got, rate = _window_stream.read_window(src, entry, 0, ClipSpec(sr=SR, mono=False))
    assert rate == SR and got.dtype == np.float32 and np.array_equal(got, want)
    assert _window_stream._wav_header(src) is not None, "the fast path read it"


@pytest.mark.parametrize("extra", [70_000, 0])
def test_a_wav_header_longer_than_the_bytes_read_goes_to_soundfile(tmp_path, extra):
    from nnaudio_data.data import _window_stream
    from nnaudio_data.data._samples import ClipSpec

    x = _recording(2.0)
    data = _encode(x, "wav")
    at = data.index(b"data")
    chunk = b"LIST" + extra.to_bytes(4, "little") + bytes(extra)
    data = data[:4] + (len(data) + len(chunk) - 8).to_bytes(4, "little") + data[8:at] + chunk + data[at:]
    (tmp_path / "m.wav").write_bytes(data)
    view = MemberView(str(tmp_path / "m.wav"), 0, len(data))
    assert (_window_stream._wav_header(view) is None) == (extra > _window_stream.WAV_HEADER_BYTES)
    got, _ = _window_stream.read_window(view, {"segments": [[0.5, 1.0]]}, 0, ClipSpec(sr=SR))
    full, _ = sf.read(io.BytesIO(data), dtype="float32")
    assert np.array_equal(got[0], full[SR // 2:SR])


def test_a_local_view_is_not_held_to_max_sample_bytes_a_streamed_member_is(tmp_path):
    x = _recording(4.0)
    url = _shard(str(tmp_path), [("rec", "wav", _encode(x, "wav"), None)],
                 [{"segments": [[0.0, 1.0], [2.0, 3.0]]}])
    limit = len(x)  # bytes: half the member's 2 * len(x)
    local = nd.ShardedAudioDataset(url, sr=SR, max_sample_bytes=limit, on_error="skip")
    assert [i["key"] for i in local] == ["rec#0", "rec#1"]
    piped = nd.ShardedAudioDataset(f"pipe:cat {url}", sr=SR, index=str(tmp_path / "index.json"),
                                   max_sample_bytes=limit, on_error="skip")
    with pytest.raises(nd.EmptyEpochError, match="'too_large': 2"):  # the member's error, once per window
        list(piped)


# -- windows past the end, hostile indexes -------------------------------------------------------
def test_a_window_past_the_end_is_a_counted_named_skip(tmp_path):
    x = _recording(2.0)
    windows = [{"segments": [[0.0, 0.5], [1.5, 2.5], [3.0, 4.0], [1.0, 2.0]]},
               {"window": 1.0, "hop": 1.0, "last": "drop", "n": 3}]  # the third lies past 2 s
    url = _shard(str(tmp_path), [("a", "wav", _encode(x, "wav"), None), ("b", "flac", _encode(x, "flac"), None)],
                 windows)
    ds = nd.ShardedAudioDataset(url, sr=SR, on_error="skip")
    assert [i["key"] for i in ds] == ["a#0", "a#3", "b#0", "b#1"]
    assert ds.stats.skipped == {"window_past_end": 3} and ds.stats.delivered == 4
    with pytest.raises(nd.data.SampleError, match="a#1.*window_past_end.*another file"):
        list(nd.ShardedAudioDataset(url, sr=SR, on_error="raise"))


GOOD = {"window": 1.0, "hop": 0.5, "last": "drop", "n": 3}
HOSTILE = [
    ({"x.tar": [GOOD, GOOD]}, "one entry per member \\(1\\), got 2"),
    ({"y.tar": [GOOD]}, "lists shard 'y.tar', which 'shards' does not count"),
    ({"x.tar": [{**GOOD, "n": MAX_WINDOWS_PER_CLIP + 1}]}, "n must be an int in"),
    ({"x.tar": [{**GOOD, "n": -1}]}, "n must be an int in"),
    ({"x.tar": [{**GOOD, "n": 2.5}]}, "n must be an int in"),
    ({"x.tar": [{**GOOD, "hop": 0}]}, "window and hop must be seconds"),
    ({"x.tar": [{**GOOD, "window": float("nan")}]}, "window and hop must be seconds"),
    ({"x.tar": [{**GOOD, "last": "wrap"}]}, "last must be one of"),
    ({"x.tar": [{**GOOD, "extra": 1}]}, "a fixed entry has the keys"),
    ({"x.tar": [{"segments": [[2.0, 1.0]]}]}, "segment 0 must be"),
    ({"x.tar": [{"segments": [[-1.0, 1.0]]}]}, "segment 0 must be"),
    ({"x.tar": [{"segments": [[0.0, 1e12]]}]}, "segment 0 must be"),
    ({"x.tar": [{"segments": [[0.0, 1.0, "a", "b"]]}]}, "segment 0 must be"),
    ({"x.tar": [{"segments": "0-1"}]}, "'segments' must be the entry's only key"),
    ({"x.tar": [7]}, "an entry must be null or an object"),
    ({"x.tar": "all"}, "one entry per member"),
    ([], "'windows' must map shard names"),
]


@pytest.mark.parametrize("windows,match", HOSTILE)
def test_a_hostile_windows_field_is_refused_naming_the_rule(windows, match):
    text = json.dumps({"format": "nnaudio_data.index/1", "shards": {"x.tar": 1}, "windows": windows})
    with pytest.raises(ValueError, match=match):
        parse_index(text, "i.json")


def test_old_indexes_and_states_still_load_and_a_state_over_other_windows_is_refused(tmp_path):
    x = _recording(3.0)
    url = _shard(str(tmp_path), [("a", "wav", _encode(x, "wav"), None)], [{"segments": [[0.0, 1.0], [1.0, 2.0]]}])
    plain = str(tmp_path / "plain.json")
    with open(plain, "w") as f:
        json.dump({"format": "nnaudio_data.index/1", "shards": {"w-000000.tar": 1}}, f)
    old = nd.ShardedAudioDataset(url, sr=SR, index=plain)
    assert old.windows is None and old.sizes == [1] and [i["key"] for i in old] == ["a"]
    state = old.state_dict()
    assert "windows" not in state["plan"]
    nd.ShardedAudioDataset(url, sr=SR, index=plain).load_state_dict(state)  # as before windows
    ds = nd.ShardedAudioDataset(url, sr=SR)
    assert ds.sizes == [2] and len(ds) == 2
    saved = ds.state_dict()
    other = str(tmp_path / "other.json")  # the same counts, other windows
    with open(other, "w") as f:
        json.dump({"format": "nnaudio_data.index/1", "shards": {"w-000000.tar": 1},
                   "windows": {"w-000000.tar": [{"segments": [[0.0, 1.5], [1.5, 3.0]]}]}}, f)
    with pytest.raises(ValueError, match="another epoch plan \\(windows:"):
        nd.ShardedAudioDataset(url, sr=SR, index=other).load_state_dict(saved)


# -- the shard writer: segments and fixed windows, through the CLI ---------------------------------
def _sources(root):
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    for name, seconds, ext in (("long", 6.0, "wav"), ("mid", 2.5, "flac"), ("short", 0.4, "wav")):
        sf.write(os.path.join(root, "src", f"{name}.{ext}"), _recording(seconds, seed=len(name)), SR,
                 subtype="PCM_16")


def test_manifest_segments_reach_the_batch_with_their_labels(tmp_path):
    root = str(tmp_path)
    _sources(root)
    rows = [("src/long.wav", 0.0, 1.0, "speech"), ("src/long.wav", 1.0, 2.5, "music"),
            ("src/long.wav", 5.5, 7.0, "speech"),  # past the end (6 s): left out, listed
            ("src/mid.flac", 0.5, 2.0, "noise"), ("src/short.wav", "", "", "music")]
    with open(os.path.join(root, "m.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "start", "end", "label"])
        w.writerows(rows)
    out = os.path.join(root, "out")
    assert main(["shard", os.path.join(root, "m.csv"), out, "--quiet"]) == 0
    doc = json.load(open(os.path.join(out, "index.json")))
    assert doc["classes"] == ["music", "noise", "speech"]
    assert doc["windows"]["shard-000000.tar"] == [{"segments": [[0.0, 1.0, "speech"], [1.0, 2.5, "music"]]},
                                                  {"segments": [[0.5, 2.0, "noise"]]}, None]
    ds = nd.ShardedAudioDataset(os.path.join(out, "shard-000000.tar"), sr=16000, on_error="raise")
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=nd.collate_audio, timeout=120)
    got = {}
    for b in loader:
        for key, label, n in zip(b.keys, b.labels.tolist(), b.lengths.tolist()):
            assert key not in got
            got[key] = (label, n)
    assert got == {"src__long#0": (2, 16000), "src__long#1": (0, 24000), "src__mid#0": (1, 24000),
                   "src__short": (0, 6400)}


def test_fixed_windows_through_the_cli_drop_or_pad_the_last(tmp_path, capsys):
    root = str(tmp_path)
    _sources(root)
    out = os.path.join(root, "drop")
    assert main(["shard", os.path.join(root, "src"), out, "--quiet", "--window", "1", "--hop", "0.5"]) == 0
    said = capsys.readouterr().out
    assert "(15 windows)" in said and "short.wav: no window: shorter than one window (0.400 s" in said
    ds = nd.ShardedAudioDataset(os.path.join(out, "shard-000000.tar"), sr=SR)
    keys = [i["key"] for i in ds]
    assert keys == [f"long#{k}" for k in range(11)] + [f"mid#{k}" for k in range(4)] and len(ds) == 15
    out = os.path.join(root, "pad")
    assert main(["shard", os.path.join(root, "src"), out, "--quiet", "--window", "1", "--last", "pad"]) == 0
    items = list(nd.ShardedAudioDataset(os.path.join(out, "shard-000000.tar"), sr=SR, length=SR))
    assert [(i["key"], i["length"]) for i in items] == [*((f"long#{k}", SR) for k in range(6)), ("mid#0", SR),
                                                        ("mid#1", SR), ("mid#2", SR // 2), ("short#0", 3200)]
    assert all(float(i["waveform"][0, i["length"]:].abs().sum()) == 0 for i in items)  # zero-padded


def test_a_windowed_index_keeps_lengths_per_recording_and_runs_endless(tmp_path):
    root = str(tmp_path)
    _sources(root)
    out = os.path.join(root, "out")
    assert main(["shard", os.path.join(root, "src"), out, "--quiet", "--window", "1", "--hop", "0.5"]) == 0
    doc = json.load(open(os.path.join(out, "index.json")))
    shard = "shard-000000.tar"
    # one [frames, rate] per member (the whole recording), beside its windows (short.wav: none, left out)
    assert doc["lengths"][shard] == [[6 * SR, SR], [int(2.5 * SR), SR]]
    assert [e["n"] for e in doc["windows"][shard]] == [11, 4]
    ds = nd.ShardedAudioDataset(os.path.join(out, shard), sr=SR, endless=True, shuffle=False)
    keys = [i["key"] for i in itertools.islice(iter(ds), 30)]  # two epochs of 15 windows, no gap
    assert keys == 2 * ([f"long#{k}" for k in range(11)] + [f"mid#{k}" for k in range(4)])


# what packing 1-second windows (the last of mid and short partial: 0.5 s, 0.4 s) into batches of
# at most 2 s (padding included) gives, each window measured by its own length: the two partial
# ones together, the whole ones in pairs. Measured by their recordings (6 s, 2.5 s, 0.4 s, each
# over the budget), every window would go alone.
PAIRED = sorted([("mid#2", "short#0"), ("long#0", "long#1"), ("long#2", "long#3"), ("long#4", "long#5"),
                 ("mid#0", "mid#1")])


def test_batches_by_duration_pack_windows_by_their_own_lengths_and_resume_exactly(tmp_path):
    # regression: batches by duration over a windowed index were refused ("its lengths are per recording")
    root = str(tmp_path)
    _sources(root)
    out = os.path.join(root, "out")
    assert main(["shard", os.path.join(root, "src"), out, "--quiet", "--window", "1", "--last", "pad"]) == 0
    url = os.path.join(out, "shard-000000.tar")
    for arg in ({"max_duration": 2.0}, {"max_samples": 2 * SR}):
        ds = nd.ShardedAudioDataset(url, sr=SR, bucket=10, **arg)
        batches = [sorted(i["key"] for i in b) for b in ds]
        assert sorted(map(tuple, batches)) == PAIRED and len(ds) == len(PAIRED)
    # through workers, cut after two batches and resumed with another worker count: each window once
    ds = nd.ShardedAudioDataset(url, sr=SR, bucket=10, max_duration=2.0)
    got = []
    it = iter(ds.track(DataLoader(ds, batch_size=None, num_workers=2, collate_fn=nd.collate_audio)))
    for _ in range(2):
        b = next(it)
        assert b.waveform.shape[0] * b.waveform.shape[-1] <= 2 * SR
        got.append(tuple(sorted(b.keys)))
    del it
    state = json.loads(json.dumps(ds.state_dict()))
    again = nd.ShardedAudioDataset(url, sr=SR, bucket=10, max_duration=2.0)
    again.load_state_dict(state)
    assert len(again) == len(PAIRED) - 2
    got += [tuple(sorted(b.keys)) for b in again.track(DataLoader(again, batch_size=None, num_workers=1,
                                                                  collate_fn=nd.collate_audio))]
    assert sorted(got) == PAIRED
    # two ranks under equal batches: the same batch count each, every window once over both
    from nnaudio_data.data._progress import tags_of

    runs = [list(DataLoader(nd.ShardedAudioDataset(url, sr=SR, max_duration=2.0, bucket=10, rank=r, world_size=2,
                                                   remainder="wrap"), batch_size=None, collate_fn=nd.collate_audio))
            for r in range(2)]
    assert len(runs[0]) == len(runs[1])
    seen = [t.index for run in runs for b in run for t in tags_of(b) if not t.repeat]
    assert sorted(seen) == list(range(len(PAIRED) * 2))  # every window (unit) once


@settings(max_examples=40, deadline=None)
@given(seconds=st.floats(0.05, 1.5), rate=st.sampled_from([8000, 11025, 16000]), ext=st.sampled_from(["wav", "flac"]),
       window=st.floats(0.01, 0.6), hop=st.floats(0.01, 0.6), last=st.sampled_from(["drop", "pad"]),
       segments=st.lists(st.tuples(st.floats(0, 1.6), st.floats(0.001, 0.5)), max_size=4),
       offset=st.integers(0, 300))
def test_the_window_lengths_the_plan_batches_by_are_the_decoded_windows_lengths(seconds, rate, ext, window, hop,
                                                                                last, segments, offset):
    """Property: for every window of a recording (fixed, either last rule, or segments, some past
    the end), the length the plan packs by (``unit_lengths`` -> ``extents``, at the dataset's rate
    after ``offset``) is the decoded and prepared window's length; a window it measures 0 is one
    the read rejects (past the end, or nothing left after ``offset``)."""
    from nnaudio_data.data._batches import extents
    from nnaudio_data.data._errors import SampleError
    from nnaudio_data.data._samples import ClipSpec, prepare_clip
    from nnaudio_data.data._window_stream import read_window
    from nnaudio_data.data._windows import Table, unit_lengths

    x = _recording(seconds, rate)
    data = _encode(x, ext, rate)
    frames = len(x)
    fixed = {"window": window, "hop": hop, "last": last, "n": fixed_count(frames, rate, window, hop, last)}
    segs = {"segments": [[a, a + d] for a, d in segments]}
    spec = ClipSpec(sr=SR, offset=offset)
    for entry in (fixed, segs):
        planned = extents(unit_lengths([[[frames, rate]]], [Table([entry])]), SR, offset, None)[0]
        assert len(planned) == len(entry.get("segments", ())) or len(planned) == entry.get("n")
        for k, want in enumerate(planned):
            try:
                y, r = read_window(data, entry, k, spec)
                got = prepare_clip(y, r, spec, "u", "k", None)["length"]
            except SampleError as e:
                assert want == 0 and e.reason in ("window_past_end", "too_short"), (k, e.reason, want)
                continue
            assert got == want, (entry, k)


@pytest.mark.parametrize("rows,match", [
    ([{"path": "a.wav"}, {"path": "a.wav", "start": 0, "end": 1}], "both segment rows"),
    ([{"path": "a.wav", "start": 0, "end": 1}, {"path": "a.wav"}], "both segment rows"),
    ([{"path": "a.wav", "start": "x", "end": 1}], "a number 'start'"),
    ([{"path": "a.wav", "start": 2, "end": 1}], "0 <= start < end"),
    ([{"path": "a.wav", "start": 0, "end": 1, "split": "train"}, {"path": "a.wav", "start": 1, "end": 2,
                                                                 "split": "test"}], "name splits"),
])
def test_bad_segment_rows_are_named_errors(tmp_path, rows, match):
    sf.write(str(tmp_path / "a.wav"), _recording(3.0), SR)
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=match):
        nd.write_shards(tmp_path / "m.jsonl", tmp_path / "out")


def test_segment_rows_take_a_duration_as_lhotse_supervisions_do(tmp_path):
    sf.write(str(tmp_path / "a.flac"), _recording(3.0), SR)
    rows = [{"path": "a.flac", "start": 0.5, "duration": 1.0, "label": ["x", "y"]}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = nd.write_shards(tmp_path / "m.jsonl", tmp_path / "out")
    assert summary.windows == 1
    item, = nd.ShardedAudioDataset(str(tmp_path / "out" / "shard-000000.tar"), sr=SR)
    assert item["length"] == SR and item["label"].tolist() == [1.0, 1.0]  # multi-hot over classes x, y


def test_the_docs_snippet_runs_and_prints_what_its_comments_say(capsys):
    import re

    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "data.md")) as f:
        text = f.read()
    code = re.search(r"```python\n(.*?)```", text[text.index("## Many windows per recording"):], re.S).group(1)
    exec(compile(code, "docs/data.md", "exec"), {})
    said = [line.rsplit("# ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
    assert capsys.readouterr().out.splitlines() == said
