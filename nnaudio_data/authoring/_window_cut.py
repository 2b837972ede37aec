"""Cutting recordings into windows when shards are written: the writer's side of :mod:`..data._windows`.

``nnaudio-data shard --window W --hop H --last drop|pad`` and a manifest's segment rows decide,
per recording, the entry the index records (:func:`cut`); a segment past its recording's end is
left out with its reason, a recording that yields no window is left out whole.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ._manifest import Entry
from ._summary import ShardSummary
from ..data._windows import LASTS, MAX_SECONDS, MAX_WINDOWS_PER_CLIP, Entry as Windows, entry_count, fixed_count

__all__ = ["Windows", "cut", "fixed_rule", "labels_with_segments", "windows_of"]


def cut(frames: int, rate: int, segments: Optional[Sequence[Tuple[float, float, Any]]] = None,
        fixed: Optional[Tuple[float, float, str]] = None) -> Tuple[Windows, List[str]]:
    """The shard writer's entry for a recording of ``frames`` frames at ``rate`` Hz: its
    ``segments`` (start, end, label), else ``fixed`` (window, hop, last) windows, else None (the
    whole clip); and why each segment left out was (one lying past the recording's end).

    Example:
        >>> cut(16000, 16000, [(0.0, 0.5, "a"), (0.5, 2.0, None)])
        ({'segments': [[0.0, 0.5, 'a']]}, ['segment 1 [0.5, 2.0] s ends past the recording (1.000 s)'])
        >>> cut(16000, 16000, fixed=(0.4, 0.2, "drop"))
        ({'window': 0.4, 'hop': 0.2, 'last': 'drop', 'n': 4}, [])
    """
    if segments is not None:
        kept: List[List[Any]] = []
        left = []
        for i, (a, b, label) in enumerate(segments):
            if 0 <= round(a * rate) < round(b * rate) <= frames and b <= MAX_SECONDS:
                kept.append([a, b] if label is None else [a, b, label])
            else:
                left.append(f"segment {i} [{a}, {b}] s ends past the recording ({frames / rate:.3f} s)")
        return {"segments": kept}, left
    if fixed is not None:
        window, hop, last = fixed
        return {"window": window, "hop": hop, "last": last, "n": fixed_count(frames, rate, window, hop, last)}, []
    return None, []


def fixed_rule(window: Optional[float], hop: Optional[float], last: str) -> Optional[Tuple[float, float, str]]:
    """(window, hop, last) checked, or None without ``window``."""
    if window is None:
        if hop is not None:
            raise ValueError(f"hop needs window (seconds), got hop={hop!r} without one")
        return None
    hop = window if hop is None else hop
    for name, v in (("window", window), ("hop", hop)):
        if not (isinstance(v, (int, float)) and 0 < v <= MAX_SECONDS):
            raise ValueError(f"{name} must be seconds in (0, {MAX_SECONDS:g}], got {v!r}")
    if last not in LASTS:
        raise ValueError(f"last must be one of {LASTS}, got {last!r}")
    return float(window), float(hop), last


def labels_with_segments(entries: Sequence[Entry]) -> Iterator[Any]:
    """Every label of the corpus: the clips', and their segments'."""
    for e in entries:
        yield e.label
        for seg in e.segments or ():
            yield seg[2]


def segment_label_of(label: Any, classes: Optional[List[str]], kind: str) -> Any:
    """A segment's label as the index stores it (as the writer stores a clip's)."""
    if label is None or kind == "text":
        return None if label is None else str(label)
    if classes is not None:
        return [str(x) for x in label] if isinstance(label, (list, tuple)) else str(label)
    if isinstance(label, str) and label.strip().lstrip("+-").isdigit():
        return int(label)
    return label


def windows_of(entry: Entry, info: Tuple[int, int, int], fixed: Optional[Tuple[float, float, str]],
                classes: Optional[List[str]], kind: str, summary: ShardSummary) -> Tuple[Windows, Optional[str]]:
    """The recording's windows (None: whole), and why it is left out (None: it is packed)."""
    frames, rate, _ = info
    segments = None if entry.segments is None else [(a, b, segment_label_of(lab, classes, kind))
                                                    for a, b, lab in entry.segments]
    windows, left = cut(frames, rate, segments, None if segments is not None else fixed)
    summary.skipped.extend((str(entry.path), reason) for reason in left)
    n = entry_count(windows) if windows is not None else 1
    if n == 0:
        what = "no segment lies inside it" if segments is not None else \
            f"shorter than one window ({frames / rate:.3f} s, last='drop')"
        return None, f"no window: {what}"
    if n > MAX_WINDOWS_PER_CLIP:
        return None, f"{n} windows, more than the {MAX_WINDOWS_PER_CLIP} a recording may yield"
    return windows, None
