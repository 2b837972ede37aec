"""The ``nnaudio-data`` command: ``demo``, ``bench``, ``shard``, ``gpu-check``.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``:
``demo``, ``bench`` and ``gpu-check`` in ``nnaudio_data/tools/``, ``shard`` in ``data/writer.py``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# name -> (module, one-line help)
COMMANDS = {
    "demo": ("nnaudio_data.tools.demo", "write a small synthetic shard set, stream it through "
                                  "GPUSpectrogramCollate('mel') and train a tiny classifier"),
    "bench": ("nnaudio_data.tools.bench", "every figure of the docs: start-up, spectrogram, CQT, loader and "
                                    "augmentation benchmarks against their peers (--report: write the docs)"),
    "shard": ("nnaudio_data.data.writer", "pack a folder of audio files, a CSV/JSONL manifest or a "
                                          "published corpus into split, labelled tar shards (local "
                                          "or s3://)"),
    "gpu-check": ("nnaudio_data.tools.gpu_check", "measure every GPU claim on one CUDA GPU and print a "
                                            "verdict table (--dry: check the wiring on CPU)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnaudio-data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        try:
            mod = importlib.import_module(module)
        except ImportError as e:  # a subcommand whose module is missing says so when used
            p.set_defaults(_run=lambda args, e=e: sys.exit(f"nnaudio-data: unavailable: {e}"))
            continue
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
