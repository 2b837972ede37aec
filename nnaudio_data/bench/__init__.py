"""``nnaudio-data bench``: benchmarks that measure nnaudio_data side by side with its peers in one run
and print time ratios (these 2-core machines are noisy: ratios, not absolute times, are the figures).

Sections, one module each, each exposing ``add_arguments(parser)`` (its own options, optional) and
``run(args) -> dict`` (figures for the JSON report):

- ``spectrogram``: STFT / Mel vs librosa (clip by clip), torch.stft + filterbank, nnAudio
- ``cqt``:         CQT / VQT vs librosa and nnAudio
- ``loader``:      clips/s from tar shards to collated batches vs a plain webdataset pipeline
- ``augment``:     augmentation chain throughput vs audiomentations
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from typing import Dict

SECTIONS = ("spectrogram", "cqt", "loader", "augment")


def _section(name: str):
    return importlib.import_module(f"nnaudio_data.bench.{name}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="sections to run (default: all)")
    parser.add_argument("--clips", type=int, default=1770,
                        help="clips of --length samples, as in the nnAudio paper (default 1770)")
    parser.add_argument("--sr", type=int, default=44100, help="sample rate (default 44100)")
    parser.add_argument("--length", type=int, default=80_000, help="samples per clip (default 80000)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--device", default=None, help="device for nnaudio_data (default: cuda if present)")
    parser.add_argument("--out", default="bench-out", help="folder for the JSON report and PNG chart")
    for name in SECTIONS:
        try:
            mod = _section(name)
        except ImportError:
            continue
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.out, exist_ok=True)
    report: Dict[str, object] = {"device": args.device, "threads": args.threads, "clips": args.clips,
                                 "sr": args.sr, "length": args.length, "torch": torch.__version__,
                                 "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    for name in args.only:
        print(f"\n== {name} ==", flush=True)
        try:
            mod = _section(name)
        except ImportError as e:
            print(f"skipped: {e}")
            continue
        report[name] = mod.run(args)
    path = os.path.join(args.out, "bench.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwrote {path}")
    return 0
