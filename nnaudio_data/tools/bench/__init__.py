"""``nnaudio-data bench``: the single source of every figure in README.md and docs/benchmarks.md.

Every system of every section runs ``--reps`` times (default 5), each time in a fresh process,
interleaved with the other systems of its section (``runner.py``); every figure is a median and
range over the rounds of this one run, and every ratio pairs the two systems' measurements of the
same round. ``bench.json`` holds the raw rounds and the figures; ``nnaudio-data bench --report``
writes docs/benchmarks.md's tables, the README's figures and the chart from it (``report.py``).

Sections, one module each (``add_arguments``, ``systems``, ``measure``, ``summarize``,
``markdown``, ``headline``):

- ``import``:      start-up: ``import torch``, ``import nnaudio_data`` after it, ``--help``
- ``spectrogram``: STFT / Mel vs torch.stft, torchaudio (``--torchaudio-python``), nnAudio, librosa
- ``cqt``:         CQT vs librosa.cqt and nnAudio's CQT1992v2 / CQT2010v2
- ``loader``:      clips/s from tar shards to batches vs a plain webdataset pipeline and the decode floor
- ``augment``:     augmentation chain vs audiomentations and torch-audiomentations (``--tam-python``)
- ``kws``:         a keyword-spotting job, mixed-rate files to augmented log-mel batches, vs lhotse
  (``--lhotse-python``)
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import time
from typing import Any, Dict, List

from .report import load_line
from .runner import SECTIONS, run_section, section_module

DEFAULT_CLIPS = 400  # the full default run takes about 10 minutes on 2 cores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="sections to run (default: all)")
    parser.add_argument("--reps", type=int, default=5, help="rounds: fresh processes per system "
                        "(default 5)")
    parser.add_argument("--clips", type=int, default=DEFAULT_CLIPS,
                        help=f"clips of --length samples (default {DEFAULT_CLIPS}; the nnAudio "
                             f"paper's 1770 takes about four times as long)")
    parser.add_argument("--sr", type=int, default=44100, help="sample rate (default 44100)")
    parser.add_argument("--length", type=int, default=80_000, help="samples per clip (default 80000)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of every system (default 2)")
    parser.add_argument("--device", default=None, help="device for the torch systems (default: cuda "
                        "if present)")
    parser.add_argument("--out", default="bench-out", help="folder of bench.json (default bench-out)")
    parser.add_argument("--report", action="store_true", help="measure nothing: write "
                        "docs/benchmarks.md's tables, README.md's figures and docs/benchmarks.png "
                        "from OUT/bench.json (refused for a run that lacks a section or has a "
                        "figure flagged by --check, unless --force)")
    parser.add_argument("--check", metavar="FILE", default=None, help="measure the sections of a "
                        "previous bench.json again, with its configuration, and flag every ratio "
                        "whose new median falls outside FILE's range")
    parser.add_argument("--force", action="store_true", help="--report: publish even a partial or "
                        "flagged run (flagged figures are marked)")
    parser.add_argument("--docs", default="docs/benchmarks.md", help="--report: the docs page")
    parser.add_argument("--readme", default="README.md", help="--report: the README")
    for name in SECTIONS:
        mod = section_module(name)
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(parser)


def machine(device: str) -> Dict[str, Any]:
    """What the figures were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for dist in ("nnaudio_data", "numpy", "scipy", "soundfile", "webdataset", "librosa", "nnAudio",
                 "audiomentations"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
           "python": platform.python_version(), "versions": versions}
    if device.startswith("cuda"):
        out["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return out


RUN_KEYS = ("device", "threads", "clips", "sr", "length", "reps", "torch")  # what sections share


def load_avg() -> List[float]:
    """The machine's load (1, 5 and 15 minute averages), or [] where the system does not say."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return []


def previous_sections(path: str, bench: Dict[str, Any]) -> Dict[str, Any]:
    """The sections of the bench.json at ``path`` measured with the same run settings as
    ``bench``: a partial run (``--only``) keeps them and replaces only its own."""
    try:
        with open(path) as f:
            prev = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(prev, dict) or any(prev.get(k) != bench[k] for k in RUN_KEYS):
        return {}
    return dict(prev.get("sections") or {})


def run(args: argparse.Namespace) -> int:
    from .report import COMMAND, write_report

    path = os.path.join(args.out, "bench.json")
    if args.report:
        if not os.path.exists(path):
            raise SystemExit(f"nnaudio-data bench --report: {path} not found; run `{COMMAND}`")
        try:
            written = write_report(path, docs=args.docs, readme=args.readme, force=args.force,
                                   chart=os.path.join(os.path.dirname(args.docs), "benchmarks.png"))
        except ValueError as e:
            raise SystemExit(f"nnaudio-data bench --report: {e}")
        for p in written:
            print(f"wrote {p}")
        return 0
    old = None
    if args.check:
        from .check import load, rerun_config

        try:
            old = load(args.check)
        except (OSError, ValueError) as e:
            raise SystemExit(f"nnaudio-data bench --check: {e}")
        args.only = [s for s in SECTIONS if s in old["sections"]]
        args.reps = int(old.get("reps", args.reps))
        vars(args).update(rerun_config(old, vars(args)))
    if args.reps < 1:
        raise SystemExit(f"nnaudio-data bench: --reps must be >= 1, got {args.reps}")
    import torch

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = {k: v for k, v in vars(args).items()
           if k not in ("only", "report", "docs", "readme", "out", "reps", "_run", "command",
                        "check", "force")
           and isinstance(v, (int, float, str, bool, list, type(None)))}
    bench: Dict[str, Any] = {"device": args.device, "threads": args.threads, "clips": args.clips,
                             "sr": args.sr, "length": args.length, "reps": args.reps,
                             "torch": torch.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             "machine": machine(args.device), "config": cfg, "sections": {}}
    kept = previous_sections(path, bench) if set(args.only) != set(SECTIONS) else {}
    os.makedirs(args.out, exist_ok=True)
    for name in args.only:
        print(f"\n== {name} ==", flush=True)
        before = load_avg()
        sec = run_section(name, cfg, args.reps, log=lambda m: print(m, flush=True))
        sec["load"] = {"before": before, "after": load_avg()}
        sec["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        kept[name] = sec
        bench["sections"] = {s: kept[s] for s in SECTIONS if s in kept}
        print(section_module(name).markdown(sec["figures"], sec["config"]), flush=True)
        print(load_line(sec), flush=True)
        with open(path, "w") as f:  # after every section: a crash later keeps what was measured
            json.dump(bench, f, indent=1)
    flags: List[str] = []
    if old is not None:
        from .check import check

        flags = check(bench, old, args.check)
        with open(path, "w") as f:
            json.dump(bench, f, indent=1)
        print(f"\n--check against {args.check}: {bench['check']['compared']} ratios compared, "
              f"{len(flags)} outside the previous run's range" + "".join(f"\n  {f}" for f in flags))
    print(f"\nwrote {path}; `nnaudio-data bench --report` writes the docs from it")
    return 1 if flags else 0
