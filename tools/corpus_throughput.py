"""Rough throughput of the corpus path, for the notes of a change (not a benchmark of record:
figures for the docs come from ``nnaudio-data bench``).

1. ``write_shards`` (what ``nnaudio-data shard`` runs, one process, one core): clips/s packing a
   folder of WAV files and of FLAC files (read, header check, tar write; no re-encoding).
2. ``ShardedAudioDataset`` read in one process (``num_workers=0``): clips/s from local disk and
   from an S3 server (moto's, in this process, on 127.0.0.1) holding the same shards.

Usage::

    PYTHONPATH=. taskset -c 0 python3 tools/corpus_throughput.py --clips 400 --seconds 1.0
"""
from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def make_folder(root: Path, n: int, seconds: float, fmt: str) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        path = root / f"c{i % 10}" / f"{i:05d}.{fmt.lower()}"
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        sf.write(buf, rng.uniform(-0.5, 0.5, int(16000 * seconds)), 16000, format=fmt, subtype="PCM_16")
        path.write_bytes(buf.getvalue())


def clips_per_s(n: int, fn) -> float:
    t = time.perf_counter()
    got = fn()
    dt = time.perf_counter() - t
    if got != n:
        raise RuntimeError(f"expected {n} clips, got {got}")
    return n / dt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=400)
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    import nnaudio_data as nd
    from nnaudio_data.authoring._writer import write_shards

    tmp = Path(tempfile.mkdtemp())
    for fmt in ("WAV", "FLAC"):
        make_folder(tmp / fmt, args.clips, args.seconds, fmt)
        rate = clips_per_s(args.clips, lambda: write_shards(tmp / fmt, tmp / f"out-{fmt}", max_count=100,
                                                            shuffle=True, split=["valid=0.1"],
                                                            progress=False).clips)
        print(f"shard {fmt}: {rate:.0f} clips/s ({args.clips} clips of {args.seconds} s, 16 kHz)")

    from s3kit import start_moto, storage_options
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server, endpoint = start_moto()
    options = storage_options(endpoint)
    import s3fs
    s3fs.S3FileSystem(**options).call_s3("create_bucket", Bucket="bench")
    write_shards(tmp / "WAV", "s3://bench/wav", max_count=100, shuffle=True, split=["valid=0.1"],
                 storage_options=options, progress=False)
    local = nd.ShardedAudioDataset(str(tmp / "out-WAV" / "train-*.tar"), sr=16000)
    remote = nd.ShardedAudioDataset("s3://bench/wav/train-*.tar", sr=16000, storage_options=options)
    train = len(local)
    for name, ds in (("local disk", local), ("s3 (moto, 127.0.0.1)", remote), ("local disk", local)):
        rate = clips_per_s(train, lambda: sum(1 for _ in ds))
        print(f"read {name}: {rate:.0f} clips/s ({train} clips, 1 process)")
    server.stop()
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
