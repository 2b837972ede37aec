"""The ``nnaudio-data`` command: ``demo``, ``bench``, ``shard``, ``gpu-check``.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``:
``demo``, ``bench`` and ``gpu-check`` in ``nnaudio_data/tools/``, ``shard`` in ``authoring/_writer.py``.
Only the chosen subcommand's module is imported: ``nnaudio-data --help`` imports neither torch nor
any of them.
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
    "shard": ("nnaudio_data.authoring._writer", "pack a folder of audio files, a CSV/JSONL manifest or a "
                                          "published corpus into split, labelled tar shards (local "
                                          "or s3://)"),
    "gpu-check": ("nnaudio_data.tools.gpu_check", "measure every GPU claim on one CUDA GPU and print a "
                                            "verdict table (--dry: check the wiring on CPU)"),
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, with only ``command``'s options (its module is imported)."""
    parser = argparse.ArgumentParser(prog="nnaudio-data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _add_command(p, module)
    return parser


def _add_command(p: argparse.ArgumentParser, module: str) -> None:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:  # a subcommand whose module is missing says so when used
        p.set_defaults(_run=lambda args, e=e: sys.exit(f"nnaudio-data: unavailable: {e}"))
        return
    mod.add_arguments(p)
    p.set_defaults(_run=mod.run)


def _chosen_command(argv: List[str]) -> Optional[str]:
    """The subcommand ``argv`` names: its first word, since the top level takes no option with a value."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_chosen_command(argv)).parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
