"""Batches by duration against batches by count and lhotse's ``DynamicBucketingSampler``.

``python -m nnaudio_data.tools.bench.batching [--clips 400 --reps 3 --lhotse-python PY]`` writes a
corpus of clips of 1-20 s (uniform lengths, WAV files and the shards ``nnaudio-data shard`` packs
from them, so the index records each clip's length), then measures, each time in a fresh process,
interleaved round by round (every system sees the same machine load), one epoch of:

- ``duration``: ``ShardedAudioDataset(max_duration=D, bucket=B)``, ``DataLoader(batch_size=None)``;
- ``count``: the same shards by count, ``batch_size`` = the clips of mean length that fill ``D``;
- ``count+bucket``: that, with ``bucket=B`` (sorted windows, batched by count);
- ``lhotse``: ``DynamicBucketingSampler(cuts, max_duration=D, num_buckets=10, shuffle=True)`` over
  the same WAV files, each batch loaded by ``lhotse.dataset.collation.collate_audio`` in the
  DataLoader's workers. lhotse runs in ``--lhotse-python`` (an interpreter where it is installed;
  skipped when it cannot import it).

Each system: two DataLoader workers, ``sr`` 8 kHz; the figures are the padding fraction (padded
samples over all samples of the collated batches) and clips/s over the epoch, printed as the median
and range of ``--reps`` runs. Nothing is written to the docs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

SYSTEMS = ("duration", "count", "count+bucket", "lhotse")
SR = 8000


def write_corpus(root: str, clips: int, seed: int = 0) -> Dict[str, Any]:
    """WAV files of 1-20 s under ``root/src`` and their shards under ``root/shards``."""
    import numpy as np
    import soundfile as sf

    from nnaudio_data.data import write_shards

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "src"))
    files, seconds = [], []
    for i in range(clips):
        n = int(rng.uniform(1.0, 20.0) * SR)
        path = os.path.join(root, "src", f"c{i:05d}.wav")
        sf.write(path, (0.1 * rng.standard_normal(n)).astype("float32"), SR, subtype="PCM_16")
        files.append(path)
        seconds.append(n / SR)
    write_shards(os.path.join(root, "src"), os.path.join(root, "shards"), shard_size="64MB", progress=False)
    shards = sorted(os.path.join(root, "shards", n) for n in os.listdir(os.path.join(root, "shards"))
                    if n.endswith(".tar"))
    return {"files": files, "shards": shards, "mean_s": sum(seconds) / len(seconds)}


def measure(system: str, cfg: Dict[str, Any]) -> Dict[str, float]:
    """One epoch of ``system``: padding fraction and clips/s."""
    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    if system == "lhotse":
        return _lhotse(cfg)
    import nnaudio_data as nd

    kw: Dict[str, Any] = {"sr": SR, "shuffle": True, "seed": 0}
    if system == "duration":
        ds = nd.ShardedAudioDataset(cfg["shards"], max_duration=cfg["max_duration"], bucket=cfg["bucket"], **kw)
        loader = DataLoader(ds, batch_size=None, num_workers=2, collate_fn=nd.collate_audio)
    else:
        bucket = cfg["bucket"] if system == "count+bucket" else None
        ds = nd.ShardedAudioDataset(cfg["shards"], bucket=bucket, **kw)
        loader = DataLoader(ds, batch_size=cfg["batch_size"], num_workers=2, collate_fn=nd.collate_audio)
    start, real, total, n = time.perf_counter(), 0, 0, 0
    for b in loader:
        real += int(b.lengths.sum())
        total += b.waveform.numel()
        n += b.waveform.shape[0]
    return {"padding": 1 - real / total, "clips_per_s": n / (time.perf_counter() - start), "clips": n}


def _lhotse(cfg: Dict[str, Any]) -> Dict[str, float]:
    try:
        from lhotse import CutSet, Recording, RecordingSet
        from lhotse.dataset import DynamicBucketingSampler
        from lhotse.dataset.collation import collate_audio
    except ImportError as e:
        return {"skipped": f"lhotse not importable: {e}"}  # type: ignore[dict-item]
    from torch.utils.data import DataLoader, Dataset

    class Audio(Dataset):
        def __getitem__(self, cuts: Any) -> Any:
            return collate_audio(cuts)

    cuts = CutSet.from_manifests(recordings=RecordingSet.from_recordings(Recording.from_file(f) for f in cfg["files"]))
    sampler = DynamicBucketingSampler(cuts, max_duration=cfg["max_duration"], num_buckets=10, shuffle=True, seed=0)
    loader = DataLoader(Audio(), sampler=sampler, batch_size=None, num_workers=2)
    start, real, total, n = time.perf_counter(), 0, 0, 0
    for audio, lens in loader:
        real += int(lens.sum())
        total += audio.numel()
        n += audio.shape[0]
    return {"padding": 1 - real / total, "clips_per_s": n / (time.perf_counter() - start), "clips": n}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=400)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--max-duration", type=float, default=120.0, help="seconds per batch, padding included")
    p.add_argument("--bucket", type=int, default=200, help="clips sorted together (ours)")
    p.add_argument("--lhotse-python", default=sys.executable, help="an interpreter that imports lhotse")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--config", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, json.loads(args.config))))
        return 0
    from nnaudio_data.tools.bench.runner import run_child
    from nnaudio_data.tools.bench.stats import summary

    with tempfile.TemporaryDirectory() as root:
        cfg = write_corpus(root, args.clips)
        cfg.update(max_duration=args.max_duration, bucket=args.bucket,
                   batch_size=max(1, int(args.max_duration / cfg["mean_s"])))
        raw: Dict[str, List[Dict[str, Any]]] = {s: [] for s in SYSTEMS}
        for r in range(args.reps):
            for k in range(len(SYSTEMS)):
                system = SYSTEMS[(k + r) % len(SYSTEMS)]
                py = args.lhotse_python if system == "lhotse" else sys.executable
                cmd = [py, "-m", "nnaudio_data.tools.bench.batching", "--child", system, "--config", json.dumps(cfg)]
                raw[system].append(run_child(cmd, threads=1))
    print(f"{args.clips} clips of 1-20 s at {SR} Hz, max_duration {args.max_duration} s, bucket {args.bucket}, "
          f"count batch_size {cfg['batch_size']}, {args.reps} fresh runs each, load {os.getloadavg()}")
    for system, runs in raw.items():
        bad = [r for r in runs if "padding" not in r]
        if bad:
            print(f"  {system:13s} {bad[0]}")
            continue
        pad, rate = summary([r["padding"] for r in runs]), summary([r["clips_per_s"] for r in runs])
        assert pad is not None and rate is not None
        print(f"  {system:13s} padding {pad['median']:.3f} [{pad['min']:.3f}, {pad['max']:.3f}]  "
              f"clips/s {rate['median']:.1f} [{rate['min']:.1f}, {rate['max']:.1f}]  clips/epoch {runs[0]['clips']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
