"""From a labelled corpus to training: splits, shuffled shards, label maps, tensor labels.

Real files (soundfile), real shards (the writer, read back by ShardedAudioDataset and a real
DataLoader with worker processes), the real CLI in a subprocess.
"""
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import webdataset as wds
from hypothesis import given, settings, strategies as st
from torch.utils.data import DataLoader

import nnaudio_data as nd
from nnaudio_data.data._labels import LabelMap, label_space
from nnaudio_data.authoring._splits import assign_splits, parse_fractions
from nnaudio_data.authoring._writer import write_shards

ROOT = Path(__file__).resolve().parents[1]
# Split sizes, one table. Systematic sampling over label groups laid end to end: a label's count in
# the first split drawn is its fraction of the label rounded down or up (< 1 off); a later split
# draws from what is left, whose size is itself up to 1 off per label, so < 2 off.
TOL = {"first_split": 1.0, "later_split": 2.0}

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


def wav_bytes(seed: int, sr: int = 8000, frames: int = 800, channels: int = 1, fmt: str = "WAV") -> bytes:
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, channels))
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype="PCM_16")
    return buf.getvalue()


# -- the split draw, over random worlds -----------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6),
       fracs=st.lists(st.floats(0.05, 0.45), min_size=1, max_size=2),
       fixed_every=st.integers(0, 5), seed=st.integers(0, 2 ** 31))
def test_split_draw_is_stratified_seeded_and_complete(sizes, fracs, fixed_every, seed):
    labels = [f"c{k}" for k, n in enumerate(sizes) for _ in range(n)]
    fixed = [("held" if fixed_every and i % (fixed_every + 1) == 0 else None) for i in range(len(labels))]
    fractions = {f"s{i}": f for i, f in enumerate(fracs)}
    got = assign_splits(labels, fixed, fractions, seed)
    assert got == assign_splits(labels, fixed, fractions, seed)  # seeded: the same draw again
    assert len(got) == len(labels) and set(got) <= {"train", "held", *fractions}
    assert all(g == "held" for g, f in zip(got, fixed) if f)  # a fixed split is honoured
    free = [(lab, g) for lab, g, f in zip(labels, got, fixed) if not f]
    left = 1.0
    for i, (name, frac) in enumerate(fractions.items()):
        tol = TOL["first_split"] if i == 0 else TOL["later_split"]
        per_label = Counter(lab for lab, g in free if g == name)
        totals = Counter(lab for lab, _ in free)
        for lab, n in totals.items():
            assert abs(per_label[lab] - frac * n) <= tol, (name, lab, per_label[lab], frac * n)
        if i == 0:
            assert abs(sum(per_label.values()) - frac * len(free)) <= TOL["first_split"]
        left -= frac


def test_split_fractions_validated():
    assert parse_fractions(["valid=0.1"]) == {"valid": 0.1}
    for bad, match in [(["valid"], "NAME=FRACTION"), (["valid=1.5"], "0 < FRACTION < 1"),
                       (["train=0.1"], "never 'train'"), (["a=0.6", "b=0.5"], "add up to < 1"),
                       (["a b=0.1"], "split name"), (["v=0.1", "v=0.2"], "each split once")]:
        with pytest.raises(ValueError, match=match):
            parse_fractions(bad)


def test_label_space_and_map():
    assert label_space(["yes", "no", None]) == (["no", "yes"], False)
    assert label_space([1, 2, "3"]) == (None, False)  # ids already
    assert label_space([[0.1, 0.5, 60]]) == (None, False)  # note lists stay as they are
    m = LabelMap(["a", "b", "c"], multi_label=True)
    assert m.encode(["c", "a"], "u", "k").tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(nd.data.SampleError) as info:
        m.encode(["z"], "u.tar", "k1")
    assert info.value.reason == "unknown_label" and "'z'" in str(info.value)
    with pytest.raises(ValueError, match="unique"):
        LabelMap(["a", "a"])


# -- a user's CSV to training ------------------------------------------------------------------------
CLASSES = ["dog", "cat", "bird song"]


@pytest.fixture
def csv_corpus(tmp_path):
    """30 clips of 3 string classes at mixed rates (8 / 16 kHz) and channels, listed in a CSV."""
    rows = ["path,label"]
    (tmp_path / "clips").mkdir()
    for i in range(30):
        sr, ch = (8000, 1) if i % 3 else (16000, 2)
        (tmp_path / "clips" / f"c{i:02d}.wav").write_bytes(wav_bytes(i, sr, sr // 10, ch))
        rows.append(f"clips/c{i:02d}.wav,{CLASSES[i % 3]}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "m.csv"


def keys_in(tar: Path):
    return [s["__key__"] for s in wds.WebDataset(str(tar), shardshuffle=False)]


def test_cli_split_shuffle_labels_to_tensor_batches(csv_corpus, tmp_path):
    out = tmp_path / "shards"
    proc = subprocess.run([sys.executable, "-m", "nnaudio_data.cli", "shard", str(csv_corpus), str(out),
                           "--split", "valid=0.2", "--shuffle", "--seed", "3", "--max-count", "8"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["classes"] == sorted(CLASSES) and index["multi_label"] is False
    assert sorted(index["splits"]) == ["train", "valid"]
    for split, n in (("train", 24), ("valid", 6)):  # 20% of 10 per class: 2 per class
        part = json.loads((out / f"{split}.index.json").read_text())
        assert part["classes"] == index["classes"] and sum(part["shards"].values()) == n
        assert all(name.startswith(f"{split}-") for name in part["shards"]) == bool(part["shards"])
        assert f"{split}: {n} clips" in proc.stdout
    assert "8000 Hz: 16, 16000 Hz: 8; channels 1 ch: 16, 2 ch: 8" in proc.stdout  # train
    assert "8000 Hz: 4, 16000 Hz: 2; channels 1 ch: 4, 2 ch: 2" in proc.stdout  # valid
    assert "bird song 8" in proc.stdout and "bird song 2" in proc.stdout  # classes with counts
    train_keys = {k for p in out.glob("train-*.tar") for k in keys_in(p)}
    valid_keys = {k for p in out.glob("valid-*.tar") for k in keys_in(p)}
    assert not train_keys & valid_keys and len(train_keys | valid_keys) == 30

    ds = nd.ShardedAudioDataset(str(out / "train-{000000..000002}.tar"), sr=8000, length=800, shuffle=True)
    assert ds.classes == sorted(CLASSES) and len(ds) == 24
    loader = DataLoader(ds, batch_size=5, num_workers=2, collate_fn=nd.collate_audio)
    seen = {}
    for batch in loader:
        assert batch.labels.dtype == torch.int64 and batch.labels.shape == (len(batch.keys),)
        seen.update(zip(batch.keys, batch.labels.tolist()))
    assert sorted(seen) == sorted(train_keys)
    for key, label in seen.items():  # the id names the row's class
        assert ds.classes[label] == CLASSES[int(key.rsplit("c", 1)[1]) % 3]
    raw = nd.ShardedAudioDataset(str(out / "valid-000000.tar"), sr=8000, labels="raw")
    assert raw.classes is None and {s["label"] for s in raw} <= set(CLASSES)


def test_split_column_is_honoured(tmp_path):
    (tmp_path / "a").mkdir()
    lines = ["path,label,split"]
    for i in range(12):
        (tmp_path / "a" / f"{i}.wav").write_bytes(wav_bytes(i))
        lines.append(f"a/{i}.wav,{'xy'[i % 2]},{'test' if i < 4 else ''}")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    summary = write_shards(tmp_path / "m.csv", tmp_path / "out", split=["valid=0.25"], progress=False)
    assert {n: s.clips for n, s in summary.splits.items()} == {"train": 6, "test": 4, "valid": 2}
    assert sorted(keys_in(tmp_path / "out" / "test-000000.tar")) == [f"a__{i}" for i in range(4)]
    assert summary.splits["valid"].classes == Counter({"x": 1, "y": 1})  # stratified
    (tmp_path / "bad.csv").write_text("path,split\na/0.wav,../up\n")
    with pytest.raises(ValueError, match=r"row 1: split.*'\.\./up'"):
        write_shards(tmp_path / "bad.csv", tmp_path / "out2")


def test_multi_label_jsonl_gives_multi_hot(tmp_path):
    tags = [["dog", "bark"], ["cat"], ["dog"], ["bark", "cat", "dog"]]
    with (tmp_path / "m.jsonl").open("w") as f:
        for i, t in enumerate(tags):
            (tmp_path / f"{i}.wav").write_bytes(wav_bytes(i))
            f.write(json.dumps({"path": f"{i}.wav", "label": t}) + "\n")
    summary = write_shards(tmp_path / "m.jsonl", tmp_path / "out", progress=False)
    assert summary.classes == ["bark", "cat", "dog"]
    ds = nd.ShardedAudioDataset(str(tmp_path / "out" / "shard-000000.tar"), sr=8000)
    batch = nd.collate_audio(list(ds))
    assert batch.labels.dtype == torch.float32 and batch.labels.shape == (4, 3)
    want = torch.tensor([[1.0 * (c in t) for c in ["bark", "cat", "dog"]] for t in tags])
    order = [int(k) for k in batch.keys]
    assert torch.equal(batch.labels, want[order])


def test_unknown_label_is_a_named_skip(csv_corpus, tmp_path):
    write_shards(csv_corpus, tmp_path / "out", progress=False)
    ds = nd.ShardedAudioDataset(str(tmp_path / "out" / "shard-000000.tar"), sr=8000, labels=["cat", "dog"],
                                on_error="skip")
    items = list(ds)
    assert len(items) == 20 and {i["label"] for i in items} == {0, 1}
    assert ds.stats.skipped == Counter({"unknown_label": 10})
    with pytest.raises(ValueError, match=r"labels must be one of \('auto', 'raw'\) or a list of class names, got 'ids'"):
        nd.ShardedAudioDataset(str(tmp_path / "out" / "shard-000000.tar"), sr=8000, labels="ids")


def test_shuffle_mixes_classes_and_is_seeded(tmp_path):
    src = tmp_path / "src"
    for c in "abcd":
        (src / c).mkdir(parents=True)
        for i in range(6):
            (src / c / f"{i}.wav").write_bytes(wav_bytes(ord(c) * 10 + i))
    plain = write_shards(src, tmp_path / "plain", max_count=6, progress=False)
    assert len(plain.shards) == 4
    for name in plain.shards:  # a folder walk: one class per shard
        assert len({k.split("__")[0] for k in keys_in(tmp_path / "plain" / name)}) == 1
    a = write_shards(src, tmp_path / "a", max_count=6, shuffle=True, seed=7, progress=False)
    b = write_shards(src, tmp_path / "b", max_count=6, shuffle=True, seed=7, progress=False)
    assert b.shards == a.shards
    mixed = [len({k.split("__")[0] for k in keys_in(tmp_path / "a" / n)}) for n in a.shards]
    assert sum(m > 1 for m in mixed) >= 3, mixed
    for name in a.shards:  # same seed, same bytes
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# -- the writer over random corpora: every clip once, in one split, with its class id ----------------
_CLIP = {i: wav_bytes(i, frames=160) for i in range(4)}


@settings(max_examples=12, deadline=None)
@given(sizes=st.lists(st.integers(1, 7), min_size=1, max_size=4),
       names=st.lists(st.text("abcxyz _-", min_size=1, max_size=6), min_size=4, max_size=4, unique=True),
       frac=st.sampled_from([None, 0.2, 0.5]), shuffle=st.booleans(), max_count=st.integers(1, 6),
       seed=st.integers(0, 1000))
def test_writer_round_trip_over_random_corpora(tmp_path_factory, sizes, names, frac, shuffle, max_count, seed):
    tmp = tmp_path_factory.mktemp("w")
    with (tmp / "m.jsonl").open("w") as f:
        for c, n in enumerate(sizes):
            for i in range(n):
                (tmp / f"{c}_{i}.wav").write_bytes(_CLIP[(c + i) % 4])
                f.write(json.dumps({"path": f"{c}_{i}.wav", "label": names[c]}) + "\n")
    split = [f"valid={frac}"] if frac else None
    summary = write_shards(tmp / "m.jsonl", tmp / "out", split=split, shuffle=shuffle, seed=seed,
                           max_count=max_count, progress=False)
    named = [n if n.strip() else None for n in names]  # a blank label is no label
    want = {f"{c}_{i}": named[c] for c, n in enumerate(sizes) for i in range(n)}
    index = json.loads((tmp / "out" / "index.json").read_text())
    classes = sorted({n for n in named[:len(sizes)] if n is not None}) or None
    assert index.get("classes") == summary.classes == classes
    assert all(n <= max_count for n in index["shards"].values())
    got = {}
    for name in ({"train", "valid"} if frac else {"shard"}):
        urls = sorted(str(p) for p in (tmp / "out").glob(f"{name}-*.tar"))
        if not urls:
            continue
        ds = nd.ShardedAudioDataset(urls, sr=8000, silence=None)
        assert len(ds) == sum(index["shards"][Path(u).name] for u in urls)
        for s in ds:
            assert s["key"] not in got  # once, over all splits
            got[s["key"]] = None if s["label"] is None else ds.classes[s["label"]]
    assert got == want
    if frac:  # the split summary agrees with the shards, stratified per label
        assert sum(p.clips for p in summary.splits.values()) == len(want)
        for c, n in enumerate(sizes):
            if named[c] is not None:
                assert abs(summary.splits["valid"].classes[named[c]] - frac * n) <= TOL["first_split"]


def test_prefix_with_splits(csv_corpus, tmp_path):
    summary = write_shards(csv_corpus, tmp_path / "out", prefix="speech", split={"valid": 0.2}, progress=False)
    assert sorted(summary.shards) == ["speech-train-000000.tar", "speech-valid-000000.tar"]
    assert (tmp_path / "out" / "valid.index.json").exists()
