"""Pack audio files into webdataset tar shards (the ``nnaudio-data shard SRC OUT`` command).

The source is a folder (searched recursively; the label is the parent folder's name, or none), a
CSV / JSONL manifest with ``path`` and optional ``label`` and ``split`` columns (relative paths
resolve against the manifest's folder), or a published corpus read by its layout
(:mod:`._layouts`). Each file's encoded bytes go into the shard unchanged, as ``KEY.<ext>``.

Labels: class names (any string label) are stored as ``KEY.json`` ``{"label": name}`` (or a list
of names) and listed, sorted, over every split, as the index's ``classes`` (:mod:`..data._labels`);
integer labels go into ``KEY.cls``; transcripts (``labels="text"``) into ``KEY.txt``; anything
else (note lists) into ``KEY.json``.

Splits: a source's own split (manifest column, official lists) is kept; ``split`` draws fractions
of the rest, stratified by label and seeded (:mod:`._splits`); the rest is ``train``. With more
than one split, shards are ``OUT/{split}-%06d.tar`` and each split has ``OUT/{split}.index.json``;
``OUT/index.json`` lists every shard (``{prefix}-%06d.tar`` when there is one split), in the
format of :mod:`..data._index`::

    {"format": "nnaudio_data.index/1", "shards": {"train-000000.tar": 512, ...},
     "classes": ["cat", "dog"], "multi_label": false, "splits": {"train": [...], ...},
     "lengths": {"train-000000.tar": [[frames, rate], ...], ...}}

``lengths`` holds each clip's frame count and sample rate, from its header, in tar order: batches
by duration plan with them (:mod:`..data._batches`).

Windows: ``window`` (with ``hop``, ``last``) cuts every recording into fixed windows, and a
manifest's segment rows cut theirs into those segments (:mod:`..data._windows`); each becomes one sample
of the dataset's epoch plan, read alone. The recording is packed once, whole; the windows go into
the index's ``windows`` field. A segment past its recording's end, and a recording that yields no
window, are left out and listed with the reason. A windowed recording's ``lengths`` entry is still
the whole recording's ``[frames, rate]`` (one per member, as the index's ``shards`` counts members),
not its windows': batches by duration are refused over a windowed index (:mod:`..data._dataset`).

A shard closes before a clip that would take it past ``shard_size`` (counting tar headers and
padding; a single clip larger than the target gets a shard of its own) or once it holds
``max_count`` clips. ``shuffle`` spreads a split's clips over its shards in a seeded order.
``OUT`` may be an object-store prefix (``s3://bucket/prefix``, :mod:`..data._objstore`). Files whose
header soundfile cannot read, and files whose extension the reader does not take as audio
(:mod:`..data._formats`), are listed, with the reason, in the returned :class:`ShardSummary`, and left
out. Tar member times are fixed, so the same input and seed give the same bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from tqdm import tqdm

from ..data._formats import AUDIO_EXTENSIONS, check_extensions, not_audio_reason
from ..data._index import INDEX_NAME, length_entry, save_index
from ..data._labels import label_space
from ._manifest import Entry, inspect_header, list_sources, make_key, parse_size
from ..data._objstore import join
from ..data._open import local_path, make_dirs
from ._splits import DEFAULT_SPLIT, assign_splits, parse_fractions, split_names, spread
from ._packer import Packer, clear_output
from ._summary import ShardSummary, SplitSummary
from ._window_cut import Windows, fixed_rule, labels_with_segments, windows_of
from ..data._windows import LASTS, entry_count

LABEL_KINDS = ("class", "text")


def _label_members(label: Any, classes: Optional[List[str]], kind: str) -> Dict[str, Any]:
    """The label's tar members: ``txt`` (text), ``json`` (class names, anything else), ``cls`` (ints)."""
    if label is None:
        return {}
    if kind == "text":
        return {"txt": str(label)}
    if classes is not None:  # class names, kept as names; readers map them with the index's classes
        return {"json": {"label": [str(x) for x in label] if isinstance(label, (list, tuple)) else str(label)}}
    if isinstance(label, int) and not isinstance(label, bool):
        return {"cls": label}
    if isinstance(label, str) and label.strip().lstrip("+-").isdigit():
        return {"cls": int(label)}
    return {"json": {"label": label}}


def write_shards(src: Union[str, os.PathLike], out: Union[str, os.PathLike], prefix: Optional[str] = None,
                 shard_size: Union[int, str, None] = "256MB", max_count: Optional[int] = None,
                 label_from: str = "parent", extensions: Sequence[str] = AUDIO_EXTENSIONS,
                 progress: Optional[bool] = None, split: Union[Mapping[str, float], Sequence[str], None] = None,
                 shuffle: bool = False, seed: int = 0, layout: Optional[str] = None,
                 labels: str = "class", storage_options: Optional[Dict[str, Any]] = None,
                 overwrite: bool = False, window: Optional[float] = None, hop: Optional[float] = None,
                 last: str = "drop") -> ShardSummary:
    """Pack a folder of audio files, a CSV/JSONL manifest or a known corpus into tar shards under ``out``.

    Args:
        src (str | PathLike): a folder, a ``.csv`` / ``.jsonl`` manifest (``path``, optional
            ``label`` and ``split`` columns), or a corpus root with ``layout``.
        out (str | PathLike): output folder (created if missing) or object-store prefix
            (``s3://bucket/prefix``; the bucket must exist).
        prefix (str, optional): shard name prefix: ``{prefix}-000000.tar`` (default "shard") when
            there is one split; with several, shards are ``{split}-000000.tar`` (or
            ``{prefix}-{split}-...`` when given).
        shard_size (int | str | None): target shard size in bytes, or a string such as "256MB",
            "1.5GiB"; None for no size limit. Default "256MB".
        max_count (int, optional): most clips per shard. Default: no limit.
        label_from (str): "parent" (folder sources: the parent folder's name; files directly in
            ``src`` get none) or "none". Manifests always take their ``label`` column.
        extensions (sequence of str): file extensions packed from a folder, each one the reader
            takes as audio (:data:`AUDIO_EXTENSIONS`, decided from the installed libsndfile).
            Default: all of them. The folder's other files are left out and listed, with the
            reason, in the summary.
        progress (bool, optional): show a tqdm bar; default: when stderr is a terminal.
        split (mapping | sequence of "NAME=FRACTION", optional): fractions drawn, stratified by
            label, from the clips whose split the source does not fix; the rest is "train".
        shuffle (bool): spread each split's clips over its shards in a seeded random order
            (default: source order, which for a folder is sorted by class).
        seed (int): seed of the split draw and of the shuffle. Default 0.
        layout (str, optional): read ``src`` as a published corpus (see :mod:`._layouts`).
        labels (str): "class" (default): string labels are class names, recorded sorted as the
            index's ``classes``; "text": labels are free text (stored as ``txt``, no classes).
        storage_options (dict, optional): fsspec backend options for an object-store ``out``.
        overwrite (bool): write into an ``out`` that already holds files: its index files and
            shards (``*.tar``) are deleted first (indexes before shards), then the new ones
            written. Default False: a non-empty ``out`` is a ValueError, so old shards never mix
            with new ones.
        window (float, optional): cut every recording (but those a manifest gives segments) into
            windows of this many seconds, each a sample of the epoch plan. Default: whole clips.
        hop (float, optional): seconds between window starts. Default: ``window``.
        last (str): the last partial window: "drop" (default: whole windows only; a recording
            shorter than one window is left out) or "pad" (kept, shorter: zero-padded by the
            dataset's ``length``).

    Every shard and index is written under a temporary name and renamed into place when complete,
    and the indexes come last: a run that is interrupted leaves no index describing other bytes.

    Returns:
        ShardSummary: clips, bytes, shards, per-split summaries, classes, files left out.

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> d = Path(tempfile.mkdtemp()); (d / "src" / "7").mkdir(parents=True)
        >>> sf.write(d / "src" / "7" / "a.wav", np.zeros(800), 8000)
        >>> print(write_shards(d / "src", d / "out", prefix="train"))
        wrote 1 clips in 1 shards, 10240 bytes
          train: 1 clips in 1 shards, 0.000 h; rates 8000 Hz: 1; channels 1 ch: 1
            1 classes: 7 1
        >>> json.loads((d / "out" / "index.json").read_text())["shards"]
        {'train-000000.tar': 1}
    """
    if label_from not in ("parent", "none"):
        raise ValueError(f"label_from must be 'parent' or 'none', got {label_from!r}")
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels must be one of {LABEL_KINDS}, got {labels!r}")
    size = parse_size(shard_size) if shard_size is not None else None
    if max_count is not None and max_count < 1:
        raise ValueError(f"max_count must be >= 1 or None, got {max_count}")
    if isinstance(split, Mapping):
        split = [f"{k}={v}" for k, v in split.items()]
    fractions = parse_fractions(list(split or []))
    fixed = fixed_rule(window, hop, last)
    out = os.fspath(out)
    entries, labels, left = _entries(Path(src), out, label_from, check_extensions(extensions), layout, labels)
    make_dirs(out, storage_options)
    clear_output(out, overwrite, storage_options)
    classes, multi = label_space(labels_with_segments(entries)) if labels == "class" else (None, False)
    chosen = assign_splits([e.label for e in entries], [e.split for e in entries], fractions, seed)
    names = split_names([*chosen, *fractions])
    several = len(names) > 1 or names != [DEFAULT_SPLIT] or bool(fractions)
    summary = ShardSummary(classes=classes, skipped=left)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(entries), desc="shard", unit="file", disable=not show)
    keys: set = set()
    cuts: Dict[str, List[Windows]] = {}  # shard -> per member: its windows
    lengths: Dict[str, List[Tuple[int, int]]] = {}  # shard -> per member: [frames, rate]
    try:
        for number, name in enumerate(names):
            todo = [e for e, s in zip(entries, chosen) if s == name]
            todo = spread(todo, seed, number) if shuffle else todo
            shard_name = (f"{prefix}-{name}" if prefix else name) if several else (prefix or "shard")
            packer = Packer(out, shard_name, size, max_count, storage_options)
            part = summary.splits.setdefault(name, SplitSummary())
            try:
                for entry in todo:
                    _pack(entry, packer, part, summary, keys, classes, labels, fixed, cuts)
                    bar.update()
            finally:
                packer.close()
            part.shards = packer.counts
            summary.shards.update(packer.counts)
            lengths.update(packer.lengths)
            summary.bytes += packer.bytes
    finally:
        bar.close()
    summary.clips = sum(p.clips for p in summary.splits.values())
    by_split = {n: list(p.shards) for n, p in summary.splits.items()} if several else None
    cuts = {k: v for k, v in cuts.items() if any(e is not None for e in v)}
    summary.windows = sum(entry_count(e) for v in cuts.values() for e in v)
    save_index(join(out, INDEX_NAME), summary.shards, classes, multi, by_split, storage_options, cuts, lengths)
    if several:
        for name, part in summary.splits.items():
            save_index(join(out, f"{name}.{INDEX_NAME}"), part.shards, classes, multi,
                       storage_options=storage_options, windows=cuts,
                       lengths={k: lengths[k] for k in part.shards})
    return summary


def _entries(src: Path, out: str, label_from: str, extensions: Sequence[str], layout: Optional[str],
             labels: str) -> Tuple[List[Entry], str, List[Tuple[str, str]]]:
    local = local_path(out)
    exclude = None if local is None else Path(local)
    if layout is None:
        entries, left = list_sources(src, label_from, extensions, exclude=exclude)
        return entries, labels, left
    from ._layouts import read_layout
    corpus = read_layout(layout, src)
    return corpus.entries, corpus.labels, []


def _pack(entry: Entry, packer: Packer, part: SplitSummary, summary: ShardSummary, keys: set,
          classes: Optional[List[str]], kind: str, fixed: Optional[Tuple[float, float, str]] = None,
          cuts: Optional[Dict[str, List[Windows]]] = None) -> None:
    try:
        data = entry.path.read_bytes()
    except OSError as e:
        summary.skipped.append((str(entry.path), f"unreadable: {e.strerror or e}"))
        return
    reason, info = inspect_header(data)
    reason = not_audio_reason(entry.path.name) or reason  # a manifest may name any file
    if reason is None and info is not None:
        windows, reason = windows_of(entry, info, fixed, classes, kind, summary)
    if reason is not None or info is None:
        summary.skipped.append((str(entry.path), str(reason)))
        return
    ext = entry.path.suffix.lower().lstrip(".")
    sample = {"__key__": make_key(entry.name, keys), ext: data, **_label_members(entry.label, classes, kind)}
    encoded = [len(str(v).encode()) if k in ("cls", "txt") else len(json.dumps(v).encode())
               for k, v in sample.items() if k in ("cls", "json", "txt")]
    frames, rate, channels = info
    packer.write(sample, [len(data), *encoded], length_entry(frames, rate))
    if cuts is not None:
        cuts.setdefault(packer.fname, []).append(windows)
    part.add(frames, rate, channels, entry.label if kind == "class" else None)
    if kind == "class" and windows is not None and "segments" in windows:
        part.classes.update(str(seg[2]) for seg in windows["segments"] if len(seg) > 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ._layouts import LAYOUTS
    parser.add_argument("src", help="folder of audio files (recursive), a .csv / .jsonl manifest with "
                                    "'path' and optional 'label' and 'split' columns, or a corpus root "
                                    "with --layout")
    parser.add_argument("out", help="output folder, or object-store prefix (s3://bucket/prefix)")
    parser.add_argument("--prefix", default=None, help="shard file name prefix (default: shard, or the "
                                                       "split names when there are splits)")
    parser.add_argument("--shard-size", default="256MB", help="target shard size, e.g. 256MB, 1GiB, "
                        "or 'none' (default: 256MB)")
    parser.add_argument("--max-count", type=int, default=None, help="most clips per shard")
    parser.add_argument("--label-from", choices=("parent", "none"), default="parent",
                        help="folder sources: label from the parent folder's name, or none")
    parser.add_argument("--labels", choices=LABEL_KINDS, default="class",
                        help="class: string labels are class names (index records 'classes'); "
                             "text: free text such as transcripts")
    parser.add_argument("--split", action="append", default=[], metavar="NAME=FRACTION",
                        help="draw this fraction of the clips (stratified by label) into split NAME; "
                             "repeatable; the rest is train")
    parser.add_argument("--shuffle", action="store_true", help="spread clips over shards in a seeded "
                                                               "random order")
    parser.add_argument("--seed", type=int, default=0, help="seed of --split and --shuffle (default 0)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default=None,
                        help="read SRC as a published corpus (its metadata, labels and official splits)")
    parser.add_argument("--storage-options", default=None, metavar="JSON",
                        help="fsspec options for an object-store OUT, e.g. "
                             "'{\"client_kwargs\": {\"endpoint_url\": \"http://127.0.0.1:9000\"}}'")
    parser.add_argument("--overwrite", action="store_true", help="replace the shards and index of a "
                        "non-empty OUT (default: refuse it)")
    parser.add_argument("--window", type=float, default=None, metavar="SECONDS",
                        help="cut every recording into windows of SECONDS, each a sample (a manifest's "
                             "segment rows, start and end, cut theirs into those segments)")
    parser.add_argument("--hop", type=float, default=None, metavar="SECONDS",
                        help="seconds between window starts (default: --window)")
    parser.add_argument("--last", choices=LASTS, default="drop",
                        help="the last partial window: drop it (default) or keep it (pad)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    size = None if str(args.shard_size).lower() == "none" else args.shard_size
    try:
        options = json.loads(args.storage_options) if args.storage_options else None
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"--storage-options must be a JSON object, got {args.storage_options!r}")
        summary = write_shards(args.src, args.out, prefix=args.prefix, shard_size=size,
                               max_count=args.max_count, label_from=args.label_from,
                               progress=False if args.quiet else None, split=args.split,
                               shuffle=args.shuffle, seed=args.seed, layout=args.layout,
                               labels=args.labels, storage_options=options, overwrite=args.overwrite,
                               window=args.window, hop=args.hop, last=args.last)
    except (ValueError, OSError) as e:
        print(f"nnaudio-data shard: {e}", file=sys.stderr)
        return 2
    print(summary)
    return 0 if summary.clips > 0 else 1
