"""One error policy for every stage: a bad sample is a named, counted skip or a raised error.

Every stage that can reject a sample raises :class:`SampleError` naming the shard URL, the key
and a short reason slug; :class:`ErrorPolicy` decides, once, whether that is fatal ("raise"), a
warning plus a counted skip ("warn"), or a silent counted skip ("skip"). Counts live in
:class:`SkipStats`.
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, TypeVar

from .._checks import check_arg

POLICIES = ("warn", "skip", "raise")
T = TypeVar("T")
# Skips that are not one of the samples an index counts (equal batches account for those apart):
# clips past a stale index, and (with key None) errors of a whole shard, except these
UNPLANNED = ("stale_index", "empty_shard")
PLANNED = ("stale_index_missing", "truncated")


class SampleError(Exception):
    """A sample (or a whole shard) that cannot be used.

    Args:
        url (str): the shard URL (or dataset name) the sample came from.
        key (str | None): the sample key inside the shard; None for shard-level errors.
        reason (str): a short slug, e.g. "decode", "nan", "too_short", "missing_label".
        detail (str): a human-readable explanation.
    """

    index: Optional[int] = None  # the sample's place in its shard, where known (a resume skips it)

    def __init__(self, url: str, key: Optional[str], reason: str, detail: str = ""):
        self.url, self.key, self.reason, self.detail = url, key, reason, detail
        where = f"{url}" + (f" key={key!r}" if key is not None else "")
        super().__init__(f"{where}: {reason}" + (f": {detail}" if detail else ""))

    def __reduce__(self):  # picklable across DataLoader worker processes
        return (type(self), (self.url, self.key, self.reason, self.detail), {"index": self.index})


class EmptyEpochError(RuntimeError):
    """An epoch in which a rank delivers no clip at all: every sample of its shards was rejected
    (or there is none). Raised whatever ``on_error`` says, naming the shards and the skip counts,
    since an epoch of zero batches is never what a training run wants."""


class SampleWarning(UserWarning):
    """Warning category for samples skipped under ``on_error="warn"``."""


@dataclass
class SkipStats:
    """Counts of delivered samples and of skips by reason.

    Example:
        >>> s = SkipStats(); s.delivered += 2; s.skipped["decode"] += 1; s.total_skipped
        1
    """

    delivered: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def merge(self, other: "SkipStats") -> "SkipStats":
        self.delivered += other.delivered
        self.skipped.update(other.skipped)
        return self

    def as_dict(self) -> Dict[str, object]:
        return {"delivered": self.delivered, "skipped": dict(self.skipped)}


class ErrorPolicy:
    """Decide what a :class:`SampleError` does: raise, or count (and maybe warn) and go on.

    Args:
        on_error (str): "warn" (default), "skip" or "raise".

    Example:
        >>> p = ErrorPolicy("skip"); p.handle(SampleError("a.tar", "k1", "decode")); p.stats.skipped["decode"]
        1
    """

    def __init__(self, on_error: str = "warn"):
        check_arg(on_error in POLICIES, "on_error", f"one of {POLICIES}", on_error)
        self.on_error = on_error
        self.stats = SkipStats()

    def handle(self, err: SampleError) -> None:
        """Raise ``err`` under "raise"; otherwise count it under its reason (and warn under "warn")."""
        if self.on_error == "raise":
            raise err
        self.stats.skipped[err.reason] += 1
        if err.index is not None and isinstance(getattr(self.stats, "rejected", None), list):
            self.stats.rejected.append((err.url, err.index))  # type: ignore[attr-defined]
        if err.reason in UNPLANNED or (err.key is None and err.index is None and err.reason not in PLANNED):
            setattr(self.stats, "unplanned", getattr(self.stats, "unplanned", 0) + 1)
        if self.on_error == "warn":
            warnings.warn(f"skipped sample: {err}", SampleWarning, stacklevel=2)

    def attempt(self, make: Callable[..., T], *args: Any) -> Optional[T]:
        """``make(*args)``, counted as delivered; a :class:`SampleError` it raises goes to
        :meth:`handle` and gives None.

        Example:
            >>> p = ErrorPolicy("skip"); p.attempt(int, "3"), p.stats.delivered
            (3, 1)
        """
        try:
            out = make(*args)
        except SampleError as err:
            self.handle(err)
            return None
        self.stats.delivered += 1
        return out

    def __repr__(self) -> str:
        return f"ErrorPolicy({self.on_error!r})"
