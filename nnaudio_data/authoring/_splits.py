"""Train / validation / test partitions of a corpus, stratified by label and seeded, for the shard
writer.

:func:`assign_splits` takes what is fixed (a ``split`` column, a corpus layout's official lists)
and draws the rest: each split named in ``fractions`` gets that fraction of the undrawn entries,
the remainder is ``train``. Entries are grouped by label (a label list by its sorted set of
names), shuffled within each group from the seed, laid end to end, and each split takes evenly
spaced entries of that sequence (systematic sampling with a random start). So every label's count
in a split is ``fraction * n_label`` rounded down or up, and the split's total is within one of
``fraction * n`` for the first split named (later splits draw from what is left, within two).

:func:`spread` orders a split's entries for writing: seeded, so that every shard holds a mix of
labels and shuffling shards mixes classes (a folder walk is sorted by class).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, TypeVar

import torch

from .._seed import generator

T = TypeVar("T")
DEFAULT_SPLIT = "train"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_split_name(name: str, where: str) -> str:
    """``name`` if it can prefix shard file names (letters, digits, ``_.-``), else ValueError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where}: a split name must be letters, digits, '_', '.' or '-' "
                         f"(it prefixes shard file names), got {name!r}")
    return name


def parse_fractions(specs: Sequence[str]) -> Dict[str, float]:
    """``["valid=0.1", "test=0.05"]`` -> ``{"valid": 0.1, "test": 0.05}``, checked.

    Example:
        >>> parse_fractions(["valid=0.1", "test=0.05"])
        {'valid': 0.1, 'test': 0.05}
    """
    out: Dict[str, float] = {}
    for spec in specs:
        name, eq, value = str(spec).partition("=")
        try:
            frac = float(value) if eq else math.nan
        except ValueError:
            frac = math.nan
        if not 0 < frac < 1:
            raise ValueError(f"--split must be NAME=FRACTION with 0 < FRACTION < 1, got {spec!r}")
        check_split_name(name, "--split")
        if name == DEFAULT_SPLIT or name in out:
            raise ValueError(f"--split names each split once and never {DEFAULT_SPLIT!r} (it takes the "
                             f"rest), got {name!r} in {list(specs)!r}")
        out[name] = frac
    if sum(out.values()) >= 1:
        raise ValueError(f"--split fractions must add up to < 1 (the rest is {DEFAULT_SPLIT!r}), "
                         f"got {sum(out.values()):g} from {list(specs)!r}")
    return out


def _group_key(label: Any) -> str:
    if isinstance(label, (list, tuple)):
        return json.dumps(sorted(str(x) for x in label))
    return json.dumps(label, sort_keys=True, default=str)


def _permutation(n: int, seed: int, *parts: int) -> List[int]:
    return torch.randperm(n, generator=generator(seed, 0, 0, 0, "partition", *parts)).tolist() if n > 1 else list(range(n))


def _systematic(n: int, frac: float, start: float) -> List[bool]:
    """Which of n positions a sample of fraction ``frac`` takes, evenly spaced from ``start`` in [0, 1)."""
    return [math.floor((j + 1) * frac + start) > math.floor(j * frac + start) for j in range(n)]


def assign_splits(labels: Sequence[Any], fixed: Sequence[Optional[str]], fractions: Mapping[str, float],
                  seed: int = 0) -> List[str]:
    """The split of every entry: ``fixed[i]`` where given, else drawn (see the module docstring).

    Args:
        labels (sequence): each entry's label (None, a name, an int, a list of names...).
        fixed (sequence of str | None): each entry's given split, or None to draw one.
        fractions (mapping str -> float): split name -> fraction of the entries to draw.
        seed (int): the draw's seed. Default 0.

    Example:
        >>> assign_splits(["a"] * 4 + ["b"] * 4, [None] * 8, {"valid": 0.5}).count("valid")
        4
    """
    if len(labels) != len(fixed):
        raise ValueError(f"labels and fixed must have one entry each, got {len(labels)} and {len(fixed)}")
    out = [s if s else DEFAULT_SPLIT for s in fixed]
    groups: Dict[str, List[int]] = {}
    for i, (label, given) in enumerate(zip(labels, fixed)):
        if not given:
            groups.setdefault(_group_key(label), []).append(i)
    order: List[int] = []  # label groups end to end, each shuffled
    for g, name in enumerate(sorted(groups)):
        members = groups[name]
        order += [members[j] for j in _permutation(len(members), seed, 1, g)]
    left = 1.0
    for k, (name, frac) in enumerate(fractions.items()):
        start = float(torch.rand((), generator=generator(seed, 0, 0, 0, "partition", 2, k)))
        taken = _systematic(len(order), min(frac / left, 1.0), start)
        for i, take in zip(order, taken):
            if take:
                out[i] = name
        order = [i for i, take in zip(order, taken) if not take]
        left -= frac
    return out


def spread(items: Sequence[T], seed: int, split_number: int = 0) -> List[T]:
    """``items`` in a seeded random order (one order per seed and split).

    Example:
        >>> sorted(spread(list("abcd"), seed=1)) == list("abcd")
        True
    """
    return [items[j] for j in _permutation(len(items), seed, 3, split_number)]


def split_names(splits: Sequence[str]) -> List[str]:
    """The split names, once each: ``train`` first, then the rest sorted."""
    present = set(splits)
    return sorted(present, key=lambda s: (s != DEFAULT_SPLIT, s))
