"""What goes into shards: list a folder or a CSV/JSONL manifest, check headers, make tar-safe keys.

A manifest has a ``path`` column and optional ``label`` and ``split`` columns (a JSONL ``label``
may be a list of names: a multi-label clip). An empty ``split`` leaves the clip to be drawn.
*Segment rows* add ``start`` and ``end`` (or ``duration``) in seconds, as lhotse's supervisions
and LibriSpeech / MAPS alignments give them: the rows of one ``path`` are that recording's
segments, each with its own ``label``, and the recording is packed once with its segments
(:mod:`..data._windows`). A path may not have both segment rows and a whole-clip row.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union, cast

import soundfile as sf

from ..data._decode import foreign_container
from ..data._formats import AUDIO_EXTENSIONS, not_audio_reason
from ._splits import check_split_name
from ..data._wav import WavTruncated, parse_wav

_UNITS = {"": 1, "b": 1, "k": 10 ** 3, "kb": 10 ** 3, "m": 10 ** 6, "mb": 10 ** 6, "g": 10 ** 9, "gb": 10 ** 9,
          "t": 10 ** 12, "tb": 10 ** 12, "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_KEY = 80  # keeps "KEY.ext" within the 100-character name field of a ustar header


@dataclass(frozen=True)
class Entry:
    """One file to pack: its path, its label (or None), the name its key derives from, and its
    split when the source fixes one (None: drawn by the writer)."""

    path: Path
    label: Any
    name: str
    split: Optional[str] = None
    segments: Optional[List[Tuple[float, float, Any]]] = None  # (start, end, label): windows to cut


def parse_size(size: Union[int, str]) -> int:
    """Bytes in a size such as 1000, "256MB", "1.5GiB" (k/M/G/T: powers of 1000; KiB/MiB/...: of 1024).

    Example:
        >>> parse_size("256MB"), parse_size("1KiB"), parse_size(4096)
        (256000000, 1024, 4096)
    """
    m = _SIZE.match(str(size))
    if m is None or m.group(2).lower() not in _UNITS:
        raise ValueError(f"shard_size must be a byte count such as 4096, '256MB' or '1GiB', got {size!r}")
    n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n <= 0:
        raise ValueError(f"shard_size must be > 0 bytes, got {size!r}")
    return n


def make_key(name: str, used: Set[str]) -> str:
    """A tar-safe key, unique within ``used`` (which it joins), from a relative file name.

    Path parts join with "__"; characters other than letters, digits, "_" and "-" become "_"
    (webdataset splits a member name at its first dot, so keys hold none); long keys are cut and
    given a hash of the full name.

    Example:
        >>> used = set(); make_key("dog/bark.01.wav", used), make_key("dog/bark 01.wav", used)
        ('dog__bark_01', 'dog__bark_01_1')
    """
    stem = PurePath(name)
    stem = stem.with_suffix("") if stem.suffix else stem
    parts = [_UNSAFE.sub("_", p) for p in stem.parts if p not in ("/", "\\", ".", "..") and not p.endswith(":\\")]
    key = "__".join(p for p in parts if p) or "clip"
    if len(key) > MAX_KEY:
        key = key[: MAX_KEY - 17] + "_" + hashlib.sha1(name.encode()).hexdigest()[:16]
    base, n = key[: MAX_KEY - 8], 1
    while key in used:
        key, n = f"{base}_{n}", n + 1
    used.add(key)
    return key


def check_header(data: bytes) -> Optional[str]:
    """None when ``data`` looks like readable audio (header only), else the reason it does not.

    Example:
        >>> check_header(b""), check_header(b"plain text")
        ('empty file', 'not audio: Format not recognised.')
    """
    return inspect_header(data)[0]


def inspect_header(data: bytes) -> Tuple[Optional[str], Optional[Tuple[int, int, int]]]:
    """(reason it is not readable audio or None, (frames, sample rate, channels) or None)."""
    if len(data) == 0:
        return "empty file", None
    foreign = foreign_container(data)
    if foreign is not None:
        return f"unsupported format: {foreign}", None
    try:
        parse_wav(data)
    except WavTruncated as e:
        return f"truncated: {e}", None
    try:
        info = sf.info(io.BytesIO(data))
    except Exception as e:  # LibsndfileError / RuntimeError / TypeError
        return f"not audio: {getattr(e, 'error_string', e)}", None
    return None, (int(info.frames), int(info.samplerate), int(info.channels))


def audio_files(folder: Path, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> List[Path]:
    """The files under ``folder`` (recursively) whose extension is one of ``extensions``, sorted."""
    exts = {e.lower().lstrip(".") for e in extensions}
    return sorted(p for p in folder.rglob("*") if p.suffix.lower().lstrip(".") in exts and p.is_file())


def _folder(src: Path, label_from: str, extensions: Sequence[str],
            exclude: Optional[Path]) -> Tuple[List[Entry], List[Tuple[str, str]]]:
    excluded = exclude.resolve() if exclude is not None else None
    exts = {e.lower().lstrip(".") for e in extensions}
    out, left = [], []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        if excluded is not None and excluded in path.resolve().parents:
            continue
        if path.suffix.lower().lstrip(".") not in exts:
            reason = not_audio_reason(path.name) or f"extension {path.suffix} is not in extensions={tuple(extensions)}"
            left.append((str(path), reason))
            continue
        label = path.parent.name if label_from == "parent" and path.parent != src else None
        out.append(Entry(path, label, path.relative_to(src).as_posix()))
    return out, left


def _manifest_rows(src: Path) -> List[dict]:
    text = src.read_text(encoding="utf-8")
    if src.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{src} line {n}: not a JSON object ({e.msg})") from None
    return rows


def _segment(row: dict, where: str) -> Optional[Tuple[float, float]]:
    """(start, end) seconds of a segment row; None for a whole-clip row."""
    start, end, duration = (row.get(k) for k in ("start", "end", "duration"))
    if all(v in (None, "") for v in (start, end, duration)):
        return None
    try:
        a = float(start)  # type: ignore[arg-type]  # (None: the TypeError below)
        b = float(end) if end not in (None, "") else a + float(duration)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: a segment row needs a number 'start' and 'end' (or 'duration'), "
                         f"got start={start!r}, end={end!r}, duration={duration!r}") from None
    if not (0 <= a < b < float("inf")):
        raise ValueError(f"{where}: a segment needs 0 <= start < end, got start={a}, end={b}")
    return a, b


def _manifest(src: Path) -> List[Entry]:
    out: List[Entry] = []
    segmented: Dict[str, int] = {}  # path -> its entry's place in out
    whole: Set[str] = set()
    for n, row in enumerate(_manifest_rows(src), 1):
        if not isinstance(row, dict) or not row.get("path"):
            found = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ValueError(f"{src} row {n}: every row needs a 'path' column, found {found}")
        name = str(row["path"])
        path = Path(name) if Path(name).is_absolute() else src.parent / name
        label, split = row.get("label"), row.get("split")
        if isinstance(label, str) and not label.strip():
            label = None
        split = None if split in (None, "") else check_split_name(str(split).strip(), f"{src} row {n}: split")
        label = label if label != [] else None
        seg = _segment(row, f"{src} row {n}")
        at = segmented.get(name)
        if (at is not None) if seg is None else (name in whole):
            raise ValueError(f"{src} row {n}: {name!r} has both segment rows (start, end) and a whole-clip row")
        if seg is None:
            whole.add(name)
            out.append(Entry(path, label, name.lstrip("/"), split))
        elif at is None:
            segmented[name] = len(out)
            out.append(Entry(path, None, name.lstrip("/"), split, [(*seg, label)]))
        elif out[at].split != split:
            raise ValueError(f"{src} row {n}: segments of {name!r} name splits {out[at].split!r} and {split!r}")
        else:
            cast(List[Tuple[float, float, Any]], out[at].segments).append((*seg, label))
    return out


def list_sources(src: Path, label_from: str, extensions: Sequence[str],
                 exclude: Optional[Path]) -> Tuple[List[Entry], List[Tuple[str, str]]]:
    """Entries of a folder (recursive, sorted) or of a ``.csv`` / ``.jsonl`` manifest, and the
    folder's files left out, each with its reason (an extension not in ``extensions``)."""
    if src.is_dir():
        return _folder(src, label_from, extensions, exclude)
    if src.is_file() and src.suffix.lower() in (".csv", ".jsonl", ".ndjson"):
        return _manifest(src), []
    raise ValueError(f"src must be a folder or a .csv / .jsonl manifest, got {str(src)!r}")
