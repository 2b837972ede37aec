"""Real shards for the dataset tests: clips encoded by soundfile, written with webdataset.TarWriter."""
from __future__ import annotations

import io
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import soundfile as sf
import webdataset as wds

FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}


def encode(x: np.ndarray, sr: int, ext: str = "wav") -> bytes:
    """(C, T) or (T,) float -> encoded bytes."""
    fmt, sub = FORMATS[ext]
    buf = io.BytesIO()
    sf.write(buf, np.asarray(x, np.float64).T if np.ndim(x) == 2 else x, sr, format=fmt, subtype=sub)
    return buf.getvalue()


def clip(uid: int, n: int, channels: int = 1) -> np.ndarray:
    """A clip whose first sample encodes ``uid`` (a DC level) on top of a quiet tone; (C, n)."""
    t = np.arange(n)
    x = 0.1 * np.sin(2 * np.pi * (0.01 + 0.001 * (uid % 50)) * t) + (uid % 997 + 1) / 2000.0
    return np.tile(x, (channels, 1)).astype(np.float32)


def write_shards(root: str, counts: Sequence[int], sr: int = 8000, n: int = 400, ext: str = "wav",
                 label: str = "cls", index: bool = True, extra: Optional[Dict[int, List[dict]]] = None,
                 prefix: str = "s") -> List[str]:
    """Write ``len(counts)`` shards holding ``counts[i]`` clips each; returns the URLs.

    Keys are ``k{shard}_{i}``; labels are the running clip number. ``extra[shard]`` lists raw
    samples (dicts in webdataset form) appended to that shard.
    """
    os.makedirs(root, exist_ok=True)
    urls, uid, table = [], 0, {}
    for s, c in enumerate(counts):
        url = os.path.join(root, f"{prefix}-{s:04d}.tar")
        with wds.TarWriter(url) as w:
            for i in range(c):
                sample = {"__key__": f"k{s}_{i}", ext: encode(clip(uid, n + (uid % 7) * 10), sr, ext)}
                if label == "cls":
                    sample["cls"] = uid
                elif label == "json":
                    sample["json"] = {"label": uid}
                w.write(sample)
                uid += 1
            for sample in (extra or {}).get(s, []):
                w.write(sample)
        table[os.path.basename(url)] = c + len((extra or {}).get(s, []))
        urls.append(url)
    if index:
        with open(os.path.join(root, "index.json"), "w") as f:
            json.dump({"format": "nnaudio_data.index/1", "shards": table}, f)
    return urls


def source_clips(counts: Sequence[int], n: int = 400) -> Dict[str, np.ndarray]:
    """key -> the (1, T) clip :func:`write_shards` encoded under that key (before quantisation)."""
    out, uid = {}, 0
    for s, c in enumerate(counts):
        for i in range(c):
            out[f"k{s}_{i}"] = clip(uid, n + (uid % 7) * 10)
            uid += 1
    return out


def keys_of(batches) -> List[str]:
    return [k for b in batches for k in (b.keys if hasattr(b, "keys") and not isinstance(b, dict) else b["key"])]
