"""Argument checks shared by every layer: each error names the argument, the rule and the value
found (``ValueError("n_mels must be a positive int, got 0")``). Checks that know a domain (framing,
frequency bands, clip arguments) live with it and call these.
"""
from __future__ import annotations

from typing import Any, Sequence, Tuple


def check_arg(ok: bool, name: str, rule: str, value: object) -> None:
    """ValueError naming the argument, the rule and the value found, unless ``ok``.

    Example:
        >>> check_arg(-1 >= 0, "offset", "an int >= 0", -1)
        Traceback (most recent call last):
        ...
        ValueError: offset must be an int >= 0, got -1
    """
    if not ok:
        raise ValueError(f"{name} must be {rule}, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """ValueError unless ``value`` is one of ``choices``.

    Example:
        >>> check_choice("pad_mode", "edge", ("reflect", "constant"))
        Traceback (most recent call last):
        ...
        ValueError: pad_mode must be one of ('reflect', 'constant'), got 'edge'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def check_positive_int(name: str, value: Any) -> None:
    """ValueError unless ``value`` is an int > 0 (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_range(name: str, value: Any, low: float = -float("inf"), high: float = float("inf"),
                ) -> Tuple[float, float]:
    """Validate ``value`` as a number or a (min, max) pair inside [low, high]; return the pair."""
    pair = (value, value) if isinstance(value, (int, float)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, float)) for v in pair):
        raise ValueError(f"{name} must be a number or a (min, max) pair, got {value!r}")
    lo, hi = float(pair[0]), float(pair[1])
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, got {value!r}")
    return lo, hi


MAX_CHANNELS = 64  # more channels than this, and more than samples: a (T, C) array, not a (C, T) one


def looks_transposed(rows: int, cols: int) -> bool:
    """Whether a 2-D waveform of ``(rows, cols)`` read as (C, T) (or as (B, T)) is a (T, C) array
    (soundfile's layout): more than :data:`MAX_CHANNELS` rows, and more rows than columns.

    Example:
        >>> looks_transposed(16000, 2), looks_transposed(2, 16000), looks_transposed(8, 4)
        (True, False, False)
    """
    return rows > MAX_CHANNELS and rows > cols
