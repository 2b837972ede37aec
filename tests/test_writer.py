"""write_shards / `nnaudio-data shard`: real files in, real tar shards out, read back with webdataset."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import webdataset as wds

from nnaudio_data.data._index import INDEX_FORMAT
from nnaudio_data.authoring._writer import write_shards

ROOT = Path(__file__).resolve().parents[1]


def audio_bytes(fmt: str, seed: int, frames: int = 4000) -> bytes:
    buf = io.BytesIO()
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, frames)
    sf.write(buf, x, 8000, format=fmt, subtype="VORBIS" if fmt == "OGG" else "PCM_16")
    return buf.getvalue()


@pytest.fixture
def tree(tmp_path):
    """A folder with good files (by label folder) and bad ones; returns (src, good, bad)."""
    src = tmp_path / "src"
    good = {"cat/a.wav": ("cat", audio_bytes("WAV", 1)), "cat/b.flac": ("cat", audio_bytes("FLAC", 2)),
            "cat/b.wav": ("cat", audio_bytes("WAV", 3)),  # same stem as b.flac: keys must differ
            "dog/deep/c.ogg": ("deep", audio_bytes("OGG", 4)), "3/d 1.wav": ("3", audio_bytes("WAV", 5)),
            "top.wav": (None, audio_bytes("WAV", 6))}
    bad = {"dog/empty.wav": b"", "dog/text.wav": b"hello, not audio" * 10,
           "cat/cut.wav": audio_bytes("WAV", 7)[:3000]}
    for name, data in [*((n, d) for n, (_, d) in good.items()), *bad.items()]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    (src / "notes.txt").write_text("not an audio extension: left out, and listed")
    return src, good, bad


def read_shards(out: Path):
    """{key: sample} over every shard in the index, via webdataset; also the per-shard counts."""
    index = json.loads((out / "index.json").read_text())
    assert index["format"] == INDEX_FORMAT
    samples, counts = {}, {}
    for name in index["shards"]:
        found = list(wds.WebDataset(str(out / name), shardshuffle=False))
        counts[name] = len(found)
        for s in found:
            assert s["__key__"] not in samples, "keys must be unique across shards"
            samples[s["__key__"]] = s
    return index, samples, counts


def label_of(sample):
    if "cls" in sample:
        return int(sample["cls"])
    if "json" in sample:
        return json.loads(sample["json"])["label"]
    return None


def check_good(samples, good):
    by_bytes = {}
    for s in samples.values():
        for ext in ("wav", "flac", "ogg"):
            if ext in s:
                by_bytes[s[ext]] = (ext, label_of(s))
    assert len(samples) == len(good)
    for name, (label, data) in good.items():
        ext, got_label = by_bytes[data]  # original bytes, unchanged
        assert ext == Path(name).suffix[1:]
        assert got_label == label  # "3" beside "cat": one label space of class names


def test_folder_with_good_and_bad_files(tree, tmp_path):
    src, good, bad = tree
    out = tmp_path / "out"
    summary = write_shards(src, out, prefix="train", max_count=2, progress=False)
    index, samples, counts = read_shards(out)
    check_good(samples, good)
    # classes come from the listing, before any file is read: "dog" (only bad files) keeps its id
    assert index["classes"] == summary.classes == ["3", "cat", "deep", "dog"] and index["multi_label"] is False
    assert summary.clips == len(good) == sum(index["shards"].values())
    assert counts == index["shards"] == summary.shards
    assert list(index["shards"]) == [f"train-{i:06d}.tar" for i in range(3)]
    assert all(n <= 2 for n in counts.values())
    assert summary.bytes == sum(os.path.getsize(out / n) for n in counts)
    reasons = dict(summary.skipped)
    assert set(reasons) == {str(src / n) for n in bad} | {str(src / "notes.txt")}
    assert reasons[str(src / "notes.txt")] == "extension .txt is not an audio format the installed libsndfile reads"
    assert reasons[str(src / "dog/empty.wav")] == "empty file"
    assert reasons[str(src / "dog/text.wav")].startswith("not audio")
    assert reasons[str(src / "cat/cut.wav")].startswith("truncated")
    assert all(str(src / n) in str(summary) for n in bad)
    assert {"cat__b", "cat__b_1", "3__d_1", "top"} <= set(samples)


def test_label_none_and_shard_size(tree, tmp_path):
    src, good, _ = tree
    out = tmp_path / "out"
    target = 30_000
    summary = write_shards(src, out, shard_size=target, label_from="none", progress=False)
    _, samples, counts = read_shards(out)
    assert len(samples) == len(good) and all(label_of(s) is None for s in samples.values())
    assert len(counts) > 1
    assert all(os.path.getsize(out / n) <= target for n in counts), \
        {n: os.path.getsize(out / n) for n in counts}
    assert summary.clips == len(good)


def test_integer_labels_stay_class_ids(tmp_path):
    """Folders named by numbers only: labels are ids already (cls members), the index has no classes."""
    for i, name in enumerate(["0/a.wav", "0/b.wav", "12/c.wav"]):
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(audio_bytes("WAV", i))
    summary = write_shards(tmp_path / "src", tmp_path / "out", progress=False)
    index, samples, _ = read_shards(tmp_path / "out")
    assert {k: s["cls"] for k, s in samples.items()} == {"0__a": b"0", "0__b": b"0", "12__c": b"12"}
    assert "classes" not in index and summary.classes is None


def test_output_inside_source_is_not_packed(tree):
    src, good, _ = tree
    write_shards(src, src / "shards", progress=False)
    summary = write_shards(src, src / "shards", progress=False, overwrite=True)  # old shards are not input
    assert summary.clips == len(good)


def manifest_rows(tmp_path):
    (tmp_path / "audio").mkdir()
    rows = []
    for i, (fmt, label) in enumerate([("WAV", 0), ("FLAC", "bird song"), ("WAV", "12")]):
        ext = fmt.lower()
        (tmp_path / "audio" / f"x{i}.{ext}").write_bytes(audio_bytes(fmt, 10 + i))
        rows.append({"path": f"audio/x{i}.{ext}", "label": label})
    absolute = tmp_path / "elsewhere.wav"
    absolute.write_bytes(audio_bytes("WAV", 20))
    rows.append({"path": str(absolute), "label": ""})
    rows.append({"path": "audio/missing.wav", "label": 1})
    return rows


def check_manifest_output(summary, out, tmp_path):
    _, samples, _ = read_shards(out)
    labels = {k: label_of(s) for k, s in samples.items()}
    elsewhere = [k for k, s in samples.items() if s.get("wav") == (tmp_path / "elsewhere.wav").read_bytes()]
    assert len(elsewhere) == 1 and "." not in elsewhere[0] and "/" not in elsewhere[0]
    assert labels == {"audio__x0": "0", "audio__x1": "bird song", "audio__x2": "12", elsewhere[0]: None}
    assert samples["audio__x1"]["flac"] == (tmp_path / "audio" / "x1.flac").read_bytes()
    assert summary.skipped == [(str(tmp_path / "audio" / "missing.wav"),
                                summary.skipped[0][1])] and "No such file" in summary.skipped[0][1]


def test_csv_manifest(tmp_path):
    rows = manifest_rows(tmp_path)
    lines = ["path,label"] + [f"{r['path']},{r['label']}" for r in rows]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    summary = write_shards(tmp_path / "m.csv", tmp_path / "out", progress=False)
    check_manifest_output(summary, tmp_path / "out", tmp_path)


def test_jsonl_manifest(tmp_path):
    rows = manifest_rows(tmp_path)
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = write_shards(tmp_path / "m.jsonl", tmp_path / "out", progress=False)
    check_manifest_output(summary, tmp_path / "out", tmp_path)


def test_bad_arguments(tmp_path):
    (tmp_path / "m.csv").write_text("file,label\na.wav,1\n")
    with pytest.raises(ValueError, match="'path' column"):
        write_shards(tmp_path / "m.csv", tmp_path / "out")
    with pytest.raises(ValueError, match="shard_size.*'lots'"):
        write_shards(tmp_path, tmp_path / "out", shard_size="lots")
    with pytest.raises(ValueError, match="max_count must be >= 1"):
        write_shards(tmp_path, tmp_path / "out", max_count=0)
    with pytest.raises(ValueError, match="src must be a folder"):
        write_shards(tmp_path / "nothing.txt", tmp_path / "out")


def test_cli(tree, tmp_path):
    src, good, bad = tree
    out = tmp_path / "cli out"
    proc = subprocess.run([sys.executable, "-m", "nnaudio_data.cli", "shard", str(src), str(out),
                           "--max-count", "4", "--prefix", "p"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {len(good)} clips in 2 shards" in proc.stdout
    assert all(str(src / n) in proc.stdout for n in bad)
    assert "shard:" not in proc.stderr  # no progress bar when stderr is not a terminal
    _, samples, counts = read_shards(out)
    check_good(samples, good)
    assert counts == {"p-000000.tar": 4, "p-000001.tar": 2}
    empty = subprocess.run([sys.executable, "-m", "nnaudio_data.cli", "shard", str(tmp_path / "none"),
                            str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert empty.returncode == 2 and "src must be a folder" in empty.stderr
