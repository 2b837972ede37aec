"""Pack audio files into webdataset tar shards (the ``nnaudio-data shard SRC OUT`` command).

The source is a folder (searched recursively; the label is the parent folder's name, or none) or a
CSV / JSONL manifest with ``path`` and ``label`` columns (relative paths resolve against the
manifest's folder). Each file's encoded bytes go into the shard unchanged, as the member
``KEY.<ext>``; an integer-like label goes into ``KEY.cls``, any other label into ``KEY.json`` as
``{"label": ...}``. Shards are named ``OUT/{prefix}-%06d.tar`` (webdataset's ``ShardWriter``) and
listed with their clip counts in ``OUT/index.json``::

    {"format": "nnaudio_data.index/1", "shards": {"train-000000.tar": 512, ...}}

A shard closes before a clip that would take it past ``shard_size`` (counting tar headers and
padding; a single clip larger than the target gets a shard of its own) or once it holds
``max_count`` clips. Files whose header soundfile cannot read are listed, with the reason, in the
returned :class:`ShardSummary`, and left out.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import webdataset as wds
from tqdm import tqdm

from .decode import AUDIO_EXTENSIONS
from .manifest import Entry, check_header, list_sources, make_key, parse_size

INDEX_FORMAT = "nnaudio_data.index/1"
_BLOCK, _RECORD = 512, 10240  # tar block and record sizes (tarfile pads an archive to a record)


@dataclass
class ShardSummary:
    """What :func:`write_shards` did: clips and bytes written, shards, and the files left out."""

    clips: int = 0
    bytes: int = 0
    shards: Dict[str, int] = field(default_factory=dict)
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def __str__(self) -> str:
        lines = [f"wrote {self.clips} clips in {len(self.shards)} shards, {self.bytes} bytes"]
        if self.skipped:
            lines.append(f"could not read {len(self.skipped)} files:")
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def _tar_bytes(sizes: Sequence[int]) -> int:
    """Bytes a member of each size takes in a tar: one header block plus padded data."""
    return sum(_BLOCK + -(-n // _BLOCK) * _BLOCK for n in sizes)


def _label_members(label: Any) -> Dict[str, Any]:
    if label is None:
        return {}
    if isinstance(label, int) and not isinstance(label, bool):
        return {"cls": label}
    if isinstance(label, str) and label.strip().lstrip("+-").isdigit():
        return {"cls": int(label)}
    return {"json": {"label": label}}


class _Packer:
    """A ShardWriter opened on the first clip, that also closes shards at a byte budget."""

    def __init__(self, out: Path, prefix: str, shard_size: Optional[int], max_count: Optional[int]):
        self.pattern = str(out / prefix).replace("%", "%%") + "-%06d.tar"
        self.shard_size, self.max_count = shard_size, max_count
        self.writer: Optional[wds.ShardWriter] = None
        self.counts: Dict[str, int] = {}
        self.used = 0  # tar bytes in the open shard

    def write(self, sample: Dict[str, Any], member_sizes: Sequence[int]) -> None:
        need = _tar_bytes(member_sizes)
        if self.writer is None:
            self.writer = wds.ShardWriter(self.pattern, maxcount=self.max_count or 1 << 62,
                                          maxsize=float("inf"), verbose=0)
        elif (self.shard_size is not None and self.writer.count > 0
              and -(-(self.used + need + 2 * _BLOCK) // _RECORD) * _RECORD > self.shard_size):
            self.writer.next_stream()
        self.writer.write(sample)
        if self.writer.count == 1:  # the first clip of a new shard
            self.used = 0
        self.used += need
        base = os.path.basename(self.writer.fname)
        self.counts[base] = self.counts.get(base, 0) + 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_shards(src: Union[str, os.PathLike], out: Union[str, os.PathLike], prefix: str = "shard",
                 shard_size: Union[int, str, None] = "256MB", max_count: Optional[int] = None,
                 label_from: str = "parent", extensions: Sequence[str] = AUDIO_EXTENSIONS,
                 progress: Optional[bool] = None) -> ShardSummary:
    """Pack a folder of audio files, or a CSV/JSONL manifest, into tar shards under ``out``.

    Args:
        src (str | PathLike): a folder, or a ``.csv`` / ``.jsonl`` manifest with a ``path`` column
            and an optional ``label`` column.
        out (str | PathLike): output folder (created if missing).
        prefix (str): shard file name prefix. Default "shard".
        shard_size (int | str | None): target shard size in bytes, or a string such as "256MB",
            "1.5GiB"; None for no size limit. Default "256MB".
        max_count (int, optional): most clips per shard. Default: no limit.
        label_from (str): "parent" (folder sources: the parent folder's name; files directly in
            ``src`` get none) or "none". Manifests always take their ``label`` column.
        extensions (sequence of str): file extensions packed from a folder. Default AUDIO_EXTENSIONS.
        progress (bool, optional): show a tqdm bar; default: when stderr is a terminal.

    Returns:
        ShardSummary: clips, bytes, shard names with counts, files left out with reasons.

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> d = Path(tempfile.mkdtemp()); (d / "src" / "7").mkdir(parents=True)
        >>> sf.write(d / "src" / "7" / "a.wav", np.zeros(800), 8000)
        >>> print(write_shards(d / "src", d / "out", prefix="train"))
        wrote 1 clips in 1 shards, 10240 bytes
        >>> json.loads((d / "out" / "index.json").read_text())["shards"]
        {'train-000000.tar': 1}
    """
    if label_from not in ("parent", "none"):
        raise ValueError(f"label_from must be 'parent' or 'none', got {label_from!r}")
    size = parse_size(shard_size) if shard_size is not None else None
    if max_count is not None and max_count < 1:
        raise ValueError(f"max_count must be >= 1 or None, got {max_count}")
    out = Path(out)
    entries: List[Entry] = list_sources(Path(src), label_from, extensions, exclude=out)
    out.mkdir(parents=True, exist_ok=True)
    summary, packer, keys = ShardSummary(), _Packer(out, prefix, size, max_count), set()
    show = sys.stderr.isatty() if progress is None else progress
    try:
        for entry in tqdm(entries, desc="shard", unit="file", disable=not show):
            try:
                data = entry.path.read_bytes()
            except OSError as e:
                summary.skipped.append((str(entry.path), f"unreadable: {e.strerror or e}"))
                continue
            reason = check_header(data)
            if reason is not None:
                summary.skipped.append((str(entry.path), reason))
                continue
            ext = entry.path.suffix.lower().lstrip(".")
            sample = {"__key__": make_key(entry.name, keys), ext: data, **_label_members(entry.label)}
            encoded = [len(str(v).encode()) if k == "cls" else len(json.dumps(v).encode())
                       for k, v in sample.items() if k in ("cls", "json")]
            packer.write(sample, [len(data), *encoded])
            summary.clips += 1
    finally:
        packer.close()
    summary.shards = dict(sorted(packer.counts.items()))
    summary.bytes = sum((out / name).stat().st_size for name in summary.shards)
    index = {"format": INDEX_FORMAT, "shards": summary.shards}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="folder of audio files (recursive), or a .csv / .jsonl manifest "
                                    "with 'path' and 'label' columns")
    parser.add_argument("out", help="output folder for the shards and index.json")
    parser.add_argument("--prefix", default="shard", help="shard file name prefix (default: shard)")
    parser.add_argument("--shard-size", default="256MB", help="target shard size, e.g. 256MB, 1GiB, "
                        "or 'none' (default: 256MB)")
    parser.add_argument("--max-count", type=int, default=None, help="most clips per shard")
    parser.add_argument("--label-from", choices=("parent", "none"), default="parent",
                        help="folder sources: label from the parent folder's name, or none")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    size = None if str(args.shard_size).lower() == "none" else args.shard_size
    try:
        summary = write_shards(args.src, args.out, prefix=args.prefix, shard_size=size,
                               max_count=args.max_count, label_from=args.label_from,
                               progress=False if args.quiet else None)
    except (ValueError, OSError) as e:
        print(f"nnaudio-data shard: {e}", file=sys.stderr)
        return 2
    print(summary)
    return 0 if summary.clips > 0 else 1
