"""Loader benchmark: clips/s from tar shards to collated batches, ours vs the plain pipeline.

Writes WAV and FLAC shards of synthetic clips (``--loader-clips``, default 2000, each 1 to 2 s of
noise plus a tone at ``--sr``) to a temporary folder, then, for each format, times with 2
DataLoader workers and batches of ``--loader-batch``:

- ours:  ``ShardedAudioDataset(..., length=L)`` + ``DataLoader(collate_fn=collate_audio)``
- plain: ``wds.WebDataset(urls).map(decode with soundfile, crop/pad to L)`` + ``DataLoader``
- floor: ``soundfile`` decoding the same bytes in one tight loop, on one core

with ``L`` = ``--length``, and prints the ratios (each loader: best of 2 passes, timed from its
first batch so that worker start-up is left out). Then mixed rates: WAV clips at 8, 22.05 and
44.1 kHz in turn, resampled to 16 kHz (1 s kept): ours, ours with the polyphase filter designed
again for every clip (as before its cache), and plain with ``scipy.signal.resample_poly``. Then a memory check: ``--loader-epochs`` (10)
epochs over two shards with 2 persistent workers, printing the peak RSS of the main process plus
its workers per epoch; the growth from epoch 2 to the last should stay under 5%.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from contextlib import closing
from typing import Dict, List, Optional, Sequence

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loader-clips", type=int, default=2000, help="clips in the loader shards (default 2000)")
    parser.add_argument("--loader-batch", type=int, default=64, help="batch size of the loader runs (default 64)")
    parser.add_argument("--loader-epochs", type=int, default=10, help="epochs of the memory check (default 10)")


def write_bench_shards(root: str, clips: int, sr: int, ext: str, per_shard: int = 250,
                       rates: Sequence[int] = ()) -> List[str]:
    """Shards of ``clips`` synthetic 1-2 s clips (16-bit), ``per_shard`` to a shard; returns URLs.
    With ``rates``, clip i is at ``rates[i % len(rates)]`` Hz instead of ``sr``."""
    import soundfile as sf
    import webdataset as wds

    rng = np.random.default_rng(0)
    urls = []
    for s in range(0, clips, per_shard):
        url = os.path.join(root, f"{ext}{'-mixed' if rates else ''}-{s // per_shard:04d}.tar")
        with wds.TarWriter(url) as w:
            for i in range(s, min(clips, s + per_shard)):
                sr = rates[i % len(rates)] if rates else sr
                n = int(sr * rng.uniform(1.0, 2.0))
                x = 0.1 * rng.standard_normal(n) + 0.3 * np.sin(np.arange(n) * 0.01 * (1 + i % 20))
                buf = io.BytesIO()
                sf.write(buf, x, sr, format=ext.upper(), subtype="PCM_16")
                w.write({"__key__": f"c{i:06d}", ext: buf.getvalue(), "cls": i % 10})
        urls.append(url)
    return urls


class _PlainDecode:
    """What a user writes today: soundfile on the bytes, float64 by default, crop/pad, a tensor."""

    def __init__(self, ext: str, length: int, sr: Optional[int] = None):
        self.ext, self.length, self.sr = ext, length, sr

    def __call__(self, sample):
        import soundfile as sf
        import torch

        x, sr = sf.read(io.BytesIO(sample[self.ext]))
        if self.sr is not None and sr != self.sr:  # resampled as a user writes it
            import math

            import scipy.signal

            g = math.gcd(sr, self.sr)
            x = scipy.signal.resample_poly(x, self.sr // g, sr // g)
        x = torch.from_numpy(x[: self.length]).float()
        x = torch.nn.functional.pad(x, (0, self.length - x.shape[0]))
        return x, int(sample["cls"])


def _size(batch) -> int:
    return len(batch[1]) if isinstance(batch, (list, tuple)) else len(batch)


def _rate(make_loader, clips: int, repeats: int = 2) -> float:
    """Best clips/s of ``repeats`` passes, timed from the first batch (worker start-up excluded)."""
    best = 0.0
    for _ in range(repeats):
        it = iter(make_loader())
        n = _size(next(it))
        t0, first = time.perf_counter(), n
        for batch in it:
            n += _size(batch)
        if n != clips:
            raise RuntimeError(f"a loader delivered {n} clips, expected {clips}")
        best = max(best, (n - first) / (time.perf_counter() - t0))
    return best


def measure(urls: List[str], ext: str, sr: int, length: int, batch: int) -> Dict[str, float]:
    """clips/s of ours, plain and the decode floor over ``urls``."""
    import soundfile as sf
    import webdataset as wds
    from torch.utils.data import DataLoader

    from nnaudio_data import ShardedAudioDataset, collate_audio
    from nnaudio_data.data.sources import open_shard
    from nnaudio_data.data.tario import tar_members

    members = []
    for u in urls:
        with closing(open_shard(u)) as f:
            members += [d for _, d in tar_members(f, u, lambda n: n.endswith(ext)) if d]
    t0 = time.perf_counter()
    for data in members:
        sf.read(io.BytesIO(data), dtype="float32")
    floor = len(members) / (time.perf_counter() - t0)
    ours_ds = ShardedAudioDataset(urls, sr=sr, length=length, on_error="raise")
    ours = _rate(lambda: DataLoader(ours_ds, batch_size=batch, num_workers=2, collate_fn=collate_audio),
                 len(members))
    plain_ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).map(_PlainDecode(ext, length))
    plain = _rate(lambda: DataLoader(plain_ds, batch_size=batch, num_workers=2), len(members))
    return {"ours": ours, "plain": plain, "floor_1core": floor, "ours_over_plain": ours / plain}


MIXED_RATES = (8000, 22050, 44100)
MIXED_TARGET = 16000


def measure_mixed(root: str, clips: int, batch: int) -> Dict[str, float]:
    """clips/s with mixed-rate WAV shards resampled to 16 kHz: ours, ours designing the polyphase
    filter for every clip (the cache bypassed in the forked workers), and plain."""
    import webdataset as wds
    from torch.utils.data import DataLoader

    from nnaudio_data import ShardedAudioDataset, collate_audio
    import importlib

    resample_module = importlib.import_module("nnaudio_data.data.resample")  # the module, not the function

    urls = write_bench_shards(root, clips, MIXED_TARGET, "wav", rates=MIXED_RATES)
    ds = ShardedAudioDataset(urls, sr=MIXED_TARGET, length=MIXED_TARGET, on_error="raise")

    def ours_loader():
        return DataLoader(ds, batch_size=batch, num_workers=2, collate_fn=collate_audio,
                          multiprocessing_context="fork")

    ours = _rate(ours_loader, clips)
    cached = resample_module.polyphase_filter
    resample_module.polyphase_filter = cached.__wrapped__  # designed per call, as before the cache
    try:
        uncached = _rate(ours_loader, clips)
    finally:
        resample_module.polyphase_filter = cached
    plain_ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).map(
        _PlainDecode("wav", MIXED_TARGET, MIXED_TARGET))
    plain = _rate(lambda: DataLoader(plain_ds, batch_size=batch, num_workers=2), clips)
    return {"ours": ours, "ours_filter_per_clip": uncached, "plain": plain,
            "ours_over_plain": ours / plain, "filter_per_clip_over_plain": uncached / plain}


def rss_tree(pid: int) -> int:
    """Resident bytes of process ``pid`` plus its children (Linux /proc); 0 where unreadable."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def _children(pid: int) -> List[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def memory_per_epoch(urls: List[str], sr: int, length: int, batch: int, epochs: int) -> List[int]:
    """Peak RSS (main + workers, sampled every batch) of each of ``epochs`` passes with 2
    persistent workers."""
    from torch.utils.data import DataLoader

    from nnaudio_data import ShardedAudioDataset, collate_audio

    ds = ShardedAudioDataset(urls, sr=sr, length=length, shuffle=16)
    loader = DataLoader(ds, batch_size=batch, num_workers=2, collate_fn=collate_audio, persistent_workers=True)
    peaks = []
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        peak = 0
        for _ in ds.track(loader):
            peak = max(peak, rss_tree(os.getpid()))
        peaks.append(peak)
    return peaks


def run(args: argparse.Namespace) -> Dict[str, object]:
    clips = getattr(args, "loader_clips", 2000)
    batch = getattr(args, "loader_batch", 64)
    epochs = getattr(args, "loader_epochs", 10)
    root = tempfile.mkdtemp(prefix="nnaudio-loader-")
    report: Dict[str, object] = {"clips": clips, "batch": batch, "workers": 2}
    try:
        for ext in ("wav", "flac"):
            urls = write_bench_shards(root, clips, args.sr, ext)
            r = measure(urls, ext, args.sr, args.length, batch)
            report[ext] = r
            print(f"{ext:5s} ours {r['ours']:8.0f} clips/s   plain {r['plain']:8.0f} clips/s   "
                  f"floor {r['floor_1core']:8.0f} clips/s/core   ours/plain {r['ours_over_plain']:.2f}x", flush=True)
        r = measure_mixed(root, clips, batch)
        report["mixed_rate"] = r
        print(f"mixed {'/'.join(str(s) for s in MIXED_RATES)} -> {MIXED_TARGET} Hz: ours {r['ours']:8.0f} clips/s   "
              f"filter per clip {r['ours_filter_per_clip']:8.0f} clips/s   plain {r['plain']:8.0f} clips/s   "
              f"ours/plain {r['ours_over_plain']:.2f}x (filter per clip: {r['filter_per_clip_over_plain']:.2f}x)",
              flush=True)
        peaks = memory_per_epoch(urls[:2], args.sr, args.length, batch, epochs)
        growth = peaks[-1] / peaks[1] - 1 if len(peaks) > 1 else 0.0
        report["memory"] = {"peak_rss_mb": [round(p / 2**20, 1) for p in peaks], "growth_2_to_last": growth}
        print("peak RSS per epoch (MB):", " ".join(f"{p / 2**20:.0f}" for p in peaks),
              f"  growth epoch 2 -> {epochs}: {100 * growth:+.1f}% (limit +5%)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return report
