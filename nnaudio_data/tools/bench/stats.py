"""Summaries of repeated measurements within one bench run: median and range, and ratios paired by
repetition (repetition r of one system against repetition r of another, both measured in the same
round of the interleaved schedule). No figure combines two runs.
"""
from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional, Sequence

Summary = Dict[str, Any]  # {"median", "min", "max", "n"}, and "flag" where --check flagged it


def summary(values: Sequence[float]) -> Optional[Summary]:
    """Median and range of ``values`` (None where there are none).

    Example:
        >>> summary([3.0, 1.0, 2.0])
        {'median': 2.0, 'min': 1.0, 'max': 3.0, 'n': 3}
    """
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def paired_ratios(num: Sequence[Optional[float]], den: Sequence[Optional[float]]) -> List[float]:
    """``num[r] / den[r]`` for every repetition ``r`` where both were measured.

    Example:
        >>> paired_ratios([2.0, 3.0, None], [1.0, 2.0, 4.0])
        [2.0, 1.5]
    """
    return [n / d for n, d in zip(num, den) if n is not None and d is not None and d > 0]


UNSTABLE = 2.0  # a ratio whose own range (max / min over the rounds) spans more than this


def fmt_ratio(s: Optional[Summary]) -> str:
    """``"2.41x (2.30-2.52x)"``, or ``"-"`` when not measured; marked "unstable" when its range
    spans more than ``UNSTABLE`` times, and "did not reproduce" when ``--check`` flagged it.

    Example:
        >>> fmt_ratio({"median": 2.414, "min": 2.3, "max": 2.52, "n": 5})
        '2.41x (2.30-2.52x)'
        >>> fmt_ratio({"median": 1.5, "min": 0.6, "max": 2.0, "n": 5})
        '1.50x (0.60-2.00x, unstable)'
    """
    if not s:
        return "-"
    marks = [m for m, on in (("unstable", unstable(s)), ("did not reproduce", bool(s.get("flag")))) if on]
    return f"{s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f}x{''.join(', ' + m for m in marks)})"


def unstable(s: Summary) -> bool:
    """Whether a ratio's range spans more than ``UNSTABLE`` times (max / min over the rounds).

    Example:
        >>> unstable({"median": 1.0, "min": 0.5, "max": 1.1, "n": 3})
        True
    """
    return s["min"] <= 0 or s["max"] / s["min"] > UNSTABLE


def fmt_value(s: Optional[Summary], digits: int = 3, unit: str = "") -> str:
    """``"0.501 s (0.490-0.530)"``, or ``"-"`` when not measured.

    Example:
        >>> fmt_value({"median": 0.5012, "min": 0.49, "max": 0.53, "n": 5}, unit=" s")
        '0.501 s (0.490-0.530)'
    """
    if not s:
        return "-"
    return f"{s['median']:,.{digits}f}{unit} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


Raw = Dict[str, List[Optional[Dict[str, float]]]]  # system -> per repetition {task: value} or None


def series(raw: Raw, system: str, task: str) -> List[Optional[float]]:
    """One system's values of one task, by repetition (None where not measured).

    Example:
        >>> series({"a": [{"x": 1.0}, None]}, "a", "x")
        [1.0, None]
    """
    return [(rep or {}).get(task) for rep in raw.get(system, [])]


def compare(raw: Raw, tasks: Sequence[str], ours: Sequence[str], higher_is_better: bool = False
            ) -> Dict[str, Dict[str, Dict[str, Optional[Summary]]]]:
    """Median and range of every system's values, of every ours-vs-peer speed ratio (> 1: ours is
    faster), and of every system's speed relative to the best peer (the peer with the best median),
    all ratios paired by repetition.

    Returns ``{"values": {task: {system: s}}, "ratios": {task: {"OURS vs PEER": s}},
    "vs_best_peer": {task: {system: s}}, "best_peer": {task: name}}``.

    Example:
        >>> raw = {"ours": [{"t": 1.0}, {"t": 2.0}], "peer": [{"t": 3.0}, {"t": 4.0}]}
        >>> compare(raw, ["t"], ["ours"])["ratios"]["t"]["ours vs peer"]["median"]
        2.5
    """
    out: Dict[str, Dict] = {"values": {}, "ratios": {}, "vs_best_peer": {}, "best_peer": {}}
    for t in tasks:
        summaries = {s: summary([v for v in series(raw, s, t) if v is not None]) for s in raw}
        values: Dict[str, Summary] = {s: v for s, v in summaries.items() if v}
        out["values"][t] = values

        def speed_ratio(a: str, b: str) -> List[float]:  # speed of a over speed of b, by repetition
            return (paired_ratios(series(raw, a, t), series(raw, b, t)) if higher_is_better
                    else paired_ratios(series(raw, b, t), series(raw, a, t)))

        peers = [s for s in values if s not in ours]
        out["ratios"][t] = {f"{o} vs {p}": summary(speed_ratio(o, p)) for o in ours if o in values
                            for p in peers}
        if peers:
            pick = max if higher_is_better else min
            best = pick(peers, key=lambda p: values[p]["median"])
            out["best_peer"][t] = best
            out["vs_best_peer"][t] = {s: summary(speed_ratio(s, best)) for s in values}
    return out
