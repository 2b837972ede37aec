"""Many windows per recording: the index's ``windows`` field, and the plan's unit it defines.

A shard member (one recording) may yield several training windows. The shard writer records
them in the index (``nnaudio-data shard --window 1 --hop 0.5``, or a manifest's segment rows), one
entry per member, in tar order, under the shard's name::

    "windows": {"shard-000000.tar": [
        {"window": 1.0, "hop": 0.5, "last": "drop", "n": 7199},   # fixed windows of a 1-hour file
        {"segments": [[0.0, 2.5, "speech"], [2.5, 4.0]]},          # manifest segments, labels optional
        null]}                                                     # the whole clip, as without windows

Window ``k`` of a fixed entry starts at frame ``k * H`` and spans ``W`` frames, ``W`` and ``H``
the window and hop in frames of the file's own rate (``round(seconds * rate)``, at least 1);
``n`` counts them (:func:`fixed_count`): under ``last="drop"`` only whole windows, under ``"pad"``
also the last partial one, so that every frame lies in a window (zero-padded like any short clip
when the dataset's ``length`` is set). A segment spans ``[round(start * rate), round(end * rate))``
frames of the file, seconds as lhotse's supervisions give them.

**Units.** Each window is one unit of the epoch plan: a windowed shard's size, for the plan, is
its window count (:class:`Table`), and unit ``u`` of a shard is window ``k`` of member ``j``. The
split, equal batches, resume and stats (:mod:`._assign`, :mod:`._resume`, :mod:`._progress`) all
count units; :mod:`._window_stream` maps them onto tar members as the shard is read. A shard the
field does not list has one unit per member. The index's ``shards`` counts stay member counts,
so an index with windows still reads (as whole clips) in a version without them.

**Hostile indexes.** The field is checked when the index is read (:func:`parse_windows`): one
entry per member of the shard's count, every number finite and in range, at most
:data:`MAX_WINDOWS_PER_CLIP` windows per member and :data:`MAX_WINDOWS` in the index; anything
else is a ``ValueError`` naming the shard, the member and the rule. A window the index places past
the end of its recording is that window's counted skip ``window_past_end`` when it is read.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

LASTS = ("drop", "pad")
MAX_WINDOWS_PER_CLIP = 1 << 20  # windows one member may yield (a week of audio at 1 s hops: 604800)
MAX_WINDOWS = 1 << 27  # windows one index may list in all (37,000 hours of 1 s windows)
MAX_SECONDS = 7 * 24 * 3600.0  # the latest a window may start or end (one week)
Entry = Optional[Dict[str, Any]]


def fixed_frames(window: float, hop: float, rate: int) -> Tuple[int, int]:
    """(W, H): window and hop in frames at ``rate`` Hz, each at least 1.

    Example:
        >>> fixed_frames(1.0, 0.25, 16000)
        (16000, 4000)
    """
    return max(1, round(window * rate)), max(1, round(hop * rate))


def fixed_count(frames: int, rate: int, window: float, hop: float, last: str) -> int:
    """How many fixed windows a recording of ``frames`` frames at ``rate`` Hz yields: ``"drop"``
    whole windows only; ``"pad"`` also the last partial one (every frame in a window), none
    starting past the end.

    Example:
        >>> fixed_count(11, 1, 4.0, 3.0, "drop"), fixed_count(11, 1, 4.0, 3.0, "pad"), fixed_count(3, 1, 4.0, 3.0, "drop")
        (3, 4, 0)
    """
    w, h = fixed_frames(window, hop, rate)
    if frames <= 0:
        return 0
    if last == "drop":
        return 0 if frames < w else (frames - w) // h + 1
    return min(-(-max(frames - w, 0) // h) + 1, -(-frames // h))


def window_frames(entry: Dict[str, Any], k: int, rate: int) -> Tuple[int, int]:
    """Frames ``[a, b)`` of window ``k`` of ``entry`` in a file at ``rate`` Hz (``b`` may lie past
    the file's end: the reader decides).

    Example:
        >>> window_frames({"window": 1.0, "hop": 0.5, "last": "drop", "n": 3}, 2, 100)
        (100, 200)
        >>> window_frames({"segments": [[0.5, 0.75, "a"]]}, 0, 100)
        (50, 75)
    """
    if "segments" in entry:
        seg = entry["segments"][k]
        return round(seg[0] * rate), round(seg[1] * rate)
    w, h = fixed_frames(entry["window"], entry["hop"], rate)
    return k * h, k * h + w


def window_span(entry: Dict[str, Any], k: int, frames: int, rate: int) -> Tuple[int, int]:
    """Frames ``[a, b)`` that window ``k`` of ``entry`` takes from a recording of ``frames`` frames
    at ``rate`` Hz: :func:`window_frames`, the last fixed window under ``last="pad"`` cut at the
    end (it keeps what there is). The one rule the reader decodes by and the plan measures by
    (:func:`unit_lengths`); ``b > frames`` or ``a >= b``: the window lies past the end.

    Example:
        >>> e = {"window": 4.0, "hop": 3.0, "last": "pad", "n": 4}
        >>> [window_span(e, k, 11, 1) for k in range(4)]
        [(0, 4), (3, 7), (6, 10), (9, 11)]
    """
    a, b = window_frames(entry, k, rate)
    if "segments" not in entry and entry["last"] == "pad":
        b = min(b, frames)
    return a, b


def unit_lengths(lengths: List[List[List[int]]],
                 tables: Optional[Sequence[Optional["Table"]]]) -> List[List[List[int]]]:
    """The index's ``[frames, rate]`` per member -> per unit of the plan: a window's frames
    (:func:`window_span`; 0 for one past the end, which its read skips), a whole clip's own. What
    batches by duration measure a windowed shard with (:mod:`._batches`); unchanged without windows.

    Example:
        >>> t = Table([{"window": 4.0, "hop": 3.0, "last": "pad", "n": 4}, None, {"segments": [[1, 2.5]]}])
        >>> unit_lengths([[[11, 1], [5, 8000], [30, 2]]], [t])
        [[[4, 1], [4, 1], [4, 1], [2, 1], [5, 8000], [3, 2]]]
    """
    if tables is None:
        return lengths
    out = []
    for rows, table in zip(lengths, tables):
        if table is None:
            out.append(rows)
            continue
        units: List[List[int]] = []
        for (frames, rate), entry in zip(rows, table.entries):  # one row per member (both checked)
            if entry is None:
                units.append([frames, rate])
                continue
            for k in range(entry_count(entry)):
                a, b = window_span(entry, k, frames, rate)
                units.append([b - a if 0 <= a < b <= frames else 0, rate])
        out.append(units)
    return out


def segment_label(entry: Entry, k: int) -> Any:
    """The label a segment carries, else None (the member's own label applies)."""
    if entry is None or "segments" not in entry:
        return None
    seg = entry["segments"][k]
    return seg[2] if len(seg) > 2 else None


def entry_count(entry: Entry) -> int:
    """Units one member yields: 1 for the whole clip, else its windows."""
    if entry is None:
        return 1
    return len(entry["segments"]) if "segments" in entry else int(entry["n"])


def _seconds(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= MAX_SECONDS


def check_entry(entry: Any, where: str) -> Entry:
    """One member's entry, validated (see the module docstring); ValueError naming ``where``."""
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: an entry must be null or an object, got {type(entry).__name__}")
    if "segments" in entry:
        segs = entry["segments"]
        if set(entry) != {"segments"} or not isinstance(segs, list) or len(segs) > MAX_WINDOWS_PER_CLIP:
            raise ValueError(f"{where}: 'segments' must be the entry's only key and a list of at most "
                             f"{MAX_WINDOWS_PER_CLIP} segments")
        for i, seg in enumerate(segs):
            if not (isinstance(seg, list) and len(seg) in (2, 3) and _seconds(seg[0]) and _seconds(seg[1])
                    and seg[0] < seg[1]):
                raise ValueError(f"{where}: segment {i} must be [start, end] or [start, end, label] with "
                                 f"0 <= start < end <= {MAX_SECONDS:g} seconds, got {str(seg)[:80]}")
        return {"segments": segs}
    if set(entry) != {"window", "hop", "last", "n"}:
        raise ValueError(f"{where}: a fixed entry has the keys hop, last, n, window; got {sorted(entry)}")
    window, hop, last, n = entry["window"], entry["hop"], entry["last"], entry["n"]
    if not (_seconds(window) and _seconds(hop) and window > 0 and hop > 0):
        raise ValueError(f"{where}: window and hop must be seconds in (0, {MAX_SECONDS:g}], got {window!r}, {hop!r}")
    if last not in LASTS:
        raise ValueError(f"{where}: last must be one of {LASTS}, got {last!r}")
    if not (isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_WINDOWS_PER_CLIP
            and n * hop <= MAX_SECONDS):
        raise ValueError(f"{where}: n must be an int in [0, {MAX_WINDOWS_PER_CLIP}] whose windows start "
                         f"within {MAX_SECONDS:g} s, got {n!r}")
    return {"window": window, "hop": hop, "last": last, "n": n}


def parse_windows(raw: Any, counts: Mapping[str, int], url: str) -> Dict[str, List[Entry]]:
    """The index's ``windows`` field, checked against its ``shards`` counts; ValueError naming
    ``url``, the shard and the rule broken."""
    if not isinstance(raw, dict):
        raise ValueError(f"index {url!r}: 'windows' must map shard names to lists, got {type(raw).__name__}")
    out, total = {}, 0
    for name, entries in raw.items():
        if name not in counts:
            raise ValueError(f"index {url!r}: 'windows' lists shard {name!r}, which 'shards' does not count")
        if not isinstance(entries, list) or len(entries) != counts[name]:
            got = len(entries) if isinstance(entries, list) else type(entries).__name__
            raise ValueError(f"index {url!r}: 'windows' of {name!r} must list one entry per member "
                             f"({counts[name]}), got {got}")
        out[str(name)] = [check_entry(e, f"index {url!r}: 'windows' of {name!r}, member {j}")
                          for j, e in enumerate(entries)]
        total += sum(entry_count(e) for e in out[name])
        if total > MAX_WINDOWS:
            raise ValueError(f"index {url!r}: 'windows' lists more than MAX_WINDOWS ({MAX_WINDOWS}) windows")
    return out


class Table:
    """One shard's units: member ``j`` yields units ``starts[j] .. starts[j+1] - 1``.

    Example:
        >>> t = Table([None, {"segments": [[0, 1], [1, 2]]}, {"window": 1, "hop": 1, "last": "drop", "n": 0}])
        >>> t.units, t.members, list(t.units_of(1)), list(t.units_of(2)), list(t.units_of(4))
        (3, 3, [1, 2], [], [4])
    """

    def __init__(self, entries: Sequence[Entry]):
        self.entries = list(entries)
        self.starts = [0]
        for e in self.entries:
            self.starts.append(self.starts[-1] + entry_count(e))
        self._digest: Optional[str] = None

    @property
    def units(self) -> int:
        return self.starts[-1]

    @property
    def members(self) -> int:
        return len(self.entries)

    def units_of(self, j: int) -> range:
        """Member ``j``'s units; a member past the index's count (a stale index) has one, past the
        shard's units, so that exactly one reader owns it."""
        if j < self.members:
            return range(self.starts[j], self.starts[j + 1])
        u = self.units + j - self.members
        return range(u, u + 1)

    def keep_members(self, keep: Callable[[int], bool]) -> Callable[[int], bool]:
        """``keep`` of units -> of members: a member is read when one of its units is kept."""
        return lambda j: any(keep(u) for u in self.units_of(j))

    def windowed(self, j: int) -> bool:
        """Whether member ``j`` is read by window (its entry is not the whole clip)."""
        return j < self.members and self.entries[j] is not None

    def digest(self) -> str:
        """A short hash of the entries (for the plan's identity)."""
        if self._digest is None:
            self._digest = hashlib.sha1(json.dumps(self.entries).encode()).hexdigest()[:16]
        return self._digest


def shard_tables(names: Sequence[str], doc: Optional[Dict[str, Any]]) -> Optional[List[Optional[Table]]]:
    """Per shard (by file name), its :class:`Table`, or None where the index lists no windows;
    None when the index has no ``windows`` field at all."""
    field = None if doc is None else doc.get("windows")
    if not field:
        return None
    return [Table(field[n]) if n in field else None for n in names]


def unit_sizes(sizes: Optional[List[int]], tables: Optional[Sequence[Optional[Table]]]) -> Optional[List[int]]:
    """The plan's sizes: a windowed shard counts its windows, any other its members."""
    if sizes is None or tables is None:
        return sizes
    return [n if t is None else t.units for n, t in zip(sizes, tables)]


def tables_digest(tables: Optional[Sequence[Optional[Table]]]) -> Optional[str]:
    """One hash of every shard's windows (None without windows): a state saved over other windows
    is refused on resume, as one over other sizes is."""
    if tables is None:
        return None
    return hashlib.sha1(",".join(t.digest() if t else "-" for t in tables).encode()).hexdigest()[:16]

