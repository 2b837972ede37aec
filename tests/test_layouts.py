"""Corpus layouts: small trees built here in each corpus's published shape (file names, metadata
files and columns), synthetic audio, packed by the writer and read back by ShardedAudioDataset."""
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import webdataset as wds

import nnaudio_data as nd
from nnaudio_data.authoring._layouts import LAYOUTS, read_layout
from nnaudio_data.authoring._writer import write_shards

ROOT = Path(__file__).resolve().parents[1]


def put(path: Path, seed: int, sr: int = 16000, seconds: float = 0.05, fmt: str = "WAV", amp: float = 0.3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(seed).uniform(-amp, amp, int(sr * seconds))
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype="PCM_16")
    path.write_bytes(buf.getvalue())


def shard_keys(out: Path, split: str):
    return sorted(s["__key__"] for p in sorted(out.glob(f"{split}-*.tar"))
                  for s in wds.WebDataset(str(p), shardshuffle=False))


def test_speech_commands(tmp_path):
    root = tmp_path / "speech_commands_v0.02"
    for word in ("yes", "no", "backward"):
        for i, spk in enumerate(("0a7c2a8d", "0b09edd3", "0c40e715")):
            put(root / word / f"{spk}_nohash_{i}.wav", hash((word, i)) % 1000)
    put(root / "_background_noise_" / "white_noise.wav", 1, seconds=0.5)
    (root / "validation_list.txt").write_text("yes/0b09edd3_nohash_1.wav\nno/0b09edd3_nohash_1.wav\n")
    (root / "testing_list.txt").write_text("backward/0c40e715_nohash_2.wav\n")
    (root / "README.md").write_text("not audio")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "nnaudio_data.cli", "shard", str(root), str(out),
                           "--layout", "speech_commands"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert shard_keys(out, "valid") == ["no__0b09edd3_nohash_1", "yes__0b09edd3_nohash_1"]
    assert shard_keys(out, "test") == ["backward__0c40e715_nohash_2"]
    assert shard_keys(out, "noise") == ["_background_noise___white_noise"]
    assert len(shard_keys(out, "train")) == 6
    train = nd.ShardedAudioDataset(str(out / "train-000000.tar"), sr=16000)
    assert train.classes == ["backward", "no", "yes"]
    assert {train.classes[s["label"]] for s in train} == {"backward", "no", "yes"}
    # the noise split feeds AddBackgroundNoise
    noise = nd.ShardedAudioDataset(str(out / "noise-000000.tar"), sr=16000)
    aug = nd.augment.AddBackgroundNoise(noise, snr_db=10.0)
    x = torch.randn(2, 1, 800)
    drawn = aug(x).params["noise"]
    assert drawn.shape == (2, 1, 800) and drawn.abs().max() > 0.01


def test_esc50(tmp_path):
    root = tmp_path / "ESC-50-master"
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for i, (cat, target) in enumerate([("dog", 0), ("rooster", 1)] * 5):
        fold = i % 5 + 1
        name = f"{fold}-{100032 + i}-A-{target}.wav"
        put(root / "audio" / name, i, sr=44100)
        rows.append(f"{name},{fold},{target},{cat},{cat == 'dog'},{100032 + i},A")
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    summary = write_shards(root, tmp_path / "out", layout="esc50", progress=False)
    assert sorted(summary.splits) == [f"fold{k}" for k in range(1, 6)]
    assert all(s.clips == 2 for s in summary.splits.values()) and summary.classes == ["dog", "rooster"]
    assert summary.splits["fold1"].rates == {44100: 2}
    assert shard_keys(tmp_path / "out", "fold3") == ["audio__3-100034-A-0", "audio__3-100039-A-1"]
    with pytest.raises(ValueError, match=r"esc50.csv is missing"):
        read_layout("esc50", tmp_path)


def test_gtzan_au_files_and_drawn_split(tmp_path):
    root = tmp_path / "gtzan"
    for genre in ("blues", "classical", "rock"):
        for i in range(4):
            put(root / "genres" / genre / f"{genre}.{i:05d}.au", i, sr=22050, fmt="AU")
    summary = write_shards(root, tmp_path / "out", layout="gtzan", split=["valid=0.25"], progress=False)
    assert {n: s.clips for n, s in summary.splits.items()} == {"train": 9, "valid": 3}
    assert summary.splits["valid"].classes == {"blues": 1, "classical": 1, "rock": 1}  # stratified
    ds = nd.ShardedAudioDataset(str(tmp_path / "out" / "valid-000000.tar"), sr=22050)
    assert sorted(ds.classes[s["label"]] for s in ds) == ["blues", "classical", "rock"]


def test_librispeech_transcripts_are_text_labels(tmp_path):
    root = tmp_path / "LibriSpeech"
    text = {"dev-clean": {"84-121123-0000": "GO DO YOU HEAR", "84-121123-0001": "BUT IN LESS THAN FIVE MINUTES"},
            "test-clean": {"1089-134686-0000": "HE HOPED THERE WOULD BE STEW FOR DINNER"}}
    for subset, utts in text.items():
        for utt, words in utts.items():
            spk, chap, _ = utt.split("-")
            put(root / subset / spk / chap / f"{utt}.flac", len(words), fmt="FLAC")
        spk, chap, _ = next(iter(utts)).split("-")
        (root / subset / spk / chap / f"{spk}-{chap}.trans.txt").write_text(
            "".join(f"{u} {w}\n" for u, w in utts.items()))
    summary = write_shards(root, tmp_path / "out", layout="librispeech", progress=False)
    assert summary.classes is None and sorted(summary.splits) == ["dev-clean", "test-clean"]
    ds = nd.ShardedAudioDataset(str(tmp_path / "out" / "dev-clean-000000.tar"), sr=16000)
    assert ds.classes is None
    assert {s["key"]: s["label"] for s in ds} == {f"dev-clean__{u}": w for u, w in text["dev-clean"].items()}


def test_maps_note_lists(tmp_path):
    root = tmp_path / "MAPS"
    files = {"AkPnBcht/ISOL/NO/MAPS_ISOL_NO_F_S0_M60_AkPnBcht": [[0.5, 1.25, 60]],
             "AkPnBcht/MUS/MAPS_MUS-alb_se3_AkPnBcht": [[0.1, 0.4, 64], [0.2, 0.9, 67]],
             "ENSTDkCl/MUS/MAPS_MUS-alb_se3_ENSTDkCl": [[0.0, 0.3, 72]]}
    for i, (stem, notes) in enumerate(files.items()):
        put(root / f"{stem}.wav", i, sr=44100)
        (root / f"{stem}.txt").write_text("OnsetTime\tOffsetTime\tMidiPitch\n"
                                          + "".join(f"{a}\t{b}\t{p}\n" for a, b, p in notes))
    summary = write_shards(root, tmp_path / "out", layout="maps", progress=False)
    assert {n: s.clips for n, s in summary.splits.items()} == {"train": 2, "test": 1}
    assert summary.classes is None
    ds = nd.ShardedAudioDataset(str(tmp_path / "out" / "train-000000.tar"), sr=44100)
    got = {s["key"]: s["label"] for s in ds}
    assert got == {k.replace("/", "__"): v for k, v in files.items() if "ENSTDk" not in k}


def test_unknown_layout_and_wrong_root(tmp_path):
    assert sorted(LAYOUTS) == ["esc50", "gtzan", "librispeech", "maps", "speech_commands"]
    with pytest.raises(ValueError, match="layout must be one of"):
        read_layout("timit", tmp_path)
    with pytest.raises(ValueError, match="validation_list.txt is missing"):
        read_layout("speech_commands", tmp_path)
    with pytest.raises(ValueError, match="src must be the corpus root folder"):
        read_layout("gtzan", tmp_path / "nope")
