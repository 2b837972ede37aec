"""What the shard writer did: per split clips, hours, sample rates, channels and class counts."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


@dataclass
class SplitSummary:
    """One split: clips, seconds of audio, counts by sample rate / channels / class, its shards."""

    clips: int = 0
    seconds: float = 0.0
    rates: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)
    classes: Counter = field(default_factory=Counter)
    shards: Dict[str, int] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def add(self, frames: int, rate: int, channels: int, label: Any) -> None:
        self.clips += 1
        self.seconds += frames / rate if rate > 0 else 0.0
        self.rates[rate] += 1
        self.channels[channels] += 1
        names = label if isinstance(label, (list, tuple)) else [label]
        self.classes.update(str(n) for n in names if n is not None and not isinstance(n, (dict, list, float)))

    def describe(self, name: str, max_classes: int = 20) -> str:
        rates = ", ".join(f"{r} Hz: {n}" for r, n in sorted(self.rates.items()))
        chans = ", ".join(f"{c} ch: {n}" for c, n in sorted(self.channels.items()))
        line = (f"  {name}: {self.clips} clips in {len(self.shards)} shards, {self.hours:.3f} h; "
                f"rates {rates}; channels {chans}")
        if self.classes:
            shown = sorted(self.classes.items())
            more = f", ... ({len(shown) - max_classes} more)" if len(shown) > max_classes else ""
            line += f"\n    {len(shown)} classes: " + ", ".join(f"{c} {n}" for c, n in shown[:max_classes]) + more
        return line


@dataclass
class ShardSummary:
    """What :func:`~nnaudio_data.authoring.write_shards` did: clips and bytes written, shard names with
    counts, a :class:`SplitSummary` per split, the class names (if labels got a map) and the files
    left out with their reasons."""

    clips: int = 0
    bytes: int = 0
    shards: Dict[str, int] = field(default_factory=dict)
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (path, reason)
    splits: Dict[str, SplitSummary] = field(default_factory=dict)
    classes: Optional[List[str]] = None
    windows: int = 0  # windows the index cuts the clips into (0: clips are read whole)

    def __str__(self) -> str:
        cut = f" ({self.windows} windows)" if self.windows else ""
        lines = [f"wrote {self.clips} clips{cut} in {len(self.shards)} shards, {self.bytes} bytes"]
        lines += [s.describe(name) for name, s in self.splits.items()]
        if self.skipped:
            lines.append(f"left out {len(self.skipped)} files:")
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)
