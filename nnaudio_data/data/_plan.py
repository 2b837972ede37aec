"""The identity of an epoch plan, and the two checks made with it.

An epoch's plan (who reads what, each rank's target under equal batches: :mod:`._assign`) follows
from a few facts: the shard list, the sizes it plans with (in units: clips, or the windows the
index cuts recordings into, :mod:`._windows`), the windows themselves, the seed, the shuffle, the
world size, the equal-batch settings and the epoch. :func:`identity` collects them.

- **A saved state belongs to one plan.** ``state_dict`` saves the identity with what was consumed;
  ``load_state_dict`` refuses a state whose identity differs (:func:`check_state`), naming the
  first difference: its consumed counts would be read against another plan.
- **Ranks verify they share one plan.** Under a process group, every rank sends its identity to
  every other (:func:`verify_ranks`, one object gather) once per epoch, before the first
  batch: at ``set_epoch`` and when ``ds.track`` starts a pass. A difference (a glob listed before a
  shard was added, another index, another seed, another batch count) raises the same error on
  every rank, so none is left waiting in a collective.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._index import default_index_url, read_index_doc, sizes_for
from ._shards import count_samples, shard_name
from ._open import local_path
from ._windows import Table, shard_tables, tables_digest, unit_sizes

NEEDS_SIZES = ("equal_batches needs shard sizes, and remote shards without an index cannot be counted "
               "cheaply: add an index.json beside the shards (nnaudio-data shard / "
               "nnaudio_data.data.write_index), pass index= or count=True (reads every shard once, "
               "here), or set equal_batches=False")


Windows = Optional[List[Optional[Table]]]


def plan_sizes(urls: Sequence[str], index: Optional[str], count: bool, storage_options: Any,
               retry: Any) -> Tuple[Optional[List[int]], Optional[Dict[str, Any]], Windows]:
    """The shard sizes a plan uses, from the index (``index``, or ``index.json`` beside the shards),
    else counted when ``count``, else None; the index document (None without one); and each
    shard's windows (:class:`~.windows.Table`; None without windows). A windowed shard's size is
    its window count."""
    where = index or default_index_url(list(urls))
    doc = read_index_doc(where, storage_options, retry) if where is not None else None
    table = None if doc is None else doc["shards"]
    if table is None and index is not None:
        raise ValueError(f"index: no index file at {index!r}")
    if table is None and count:
        return [count_samples(u, retry, storage_options) for u in urls], doc, None
    tables = shard_tables([shard_name(u) for u in urls], doc)
    return unit_sizes(None if table is None else sizes_for(list(urls), table, where), tables), doc, tables


def count_local(urls: Sequence[str], retry: Any) -> List[int]:
    """Sizes for equal batches without an index, counted in the main process (never in a worker):
    local shards are counted (headers only, seeking); remote ones cannot be counted cheaply, so
    that is a configuration error, raised before the first batch."""
    if all(local_path(u) is not None for u in urls):
        return [count_samples(u, retry) for u in urls]
    raise ValueError(NEEDS_SIZES)


def identity(urls: Sequence[str], sizes: Optional[Sequence[int]], seed: int, shuffle: Any, world: int,
             equal: bool, remainder: str, windows: Windows = None) -> Dict[str, Any]:
    """The facts an epoch plan follows from (JSON-ready); ``windows`` only where there are
    (a hash), so that states saved without windows still load.

    Example:
        >>> identity(["d/a.tar", "d/b.tar"], [3, 4], 0, True, 2, True, "drop")["shards"]
        ['a.tar', 'b.tar']
    """
    out = {"shards": [shard_name(u) for u in urls], "sizes": None if sizes is None else list(sizes),
           "seed": int(seed), "shuffle": int(shuffle), "world_size": int(world),
           "equal_batches": bool(equal), "remainder": remainder if equal else None}
    if windows is not None:
        out["windows"] = tables_digest(windows)
    return out


def fingerprint(value: Any) -> str:
    """A short digest of a JSON-ready value (a plan's clip lengths), for an identity.

    Example:
        >>> fingerprint([[[800, 8000]]]) == fingerprint([[[800, 8000]]]) != fingerprint([[[801, 8000]]])
        True
    """
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:16]


def difference(mine: Dict[str, Any], other: Dict[str, Any]) -> Optional[str]:
    """The first fact in which ``other`` differs from ``mine``, in words; None if none.

    Example:
        >>> a = identity(["a.tar"], [3], 0, False, 1, False, "drop")
        >>> difference(a, {**a, "world_size": 2})
        'world_size: 1 here, 2 there'
    """
    for key, value in mine.items():
        theirs = other.get(key)
        if theirs == value:
            continue
        if key in ("shards", "sizes") and isinstance(value, list) and isinstance(theirs, list):
            return f"{key}: {_list_difference(mine['shards'], value, theirs)}"
        return f"{key}: {value!r} here, {theirs!r} there"
    return None


def _list_difference(names: List[str], mine: List[Any], theirs: List[Any]) -> str:
    if len(mine) != len(theirs):
        extra = sorted(set(map(str, theirs)) ^ set(map(str, mine)))[:3]
        return f"{len(mine)} here, {len(theirs)} there (differing: {', '.join(extra)})"
    k = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
    return f"entry {k} ({names[k]}) is {mine[k]!r} here, {theirs[k]!r} there"


def check_state(mine: Dict[str, Any], saved: Any) -> None:
    """Refuse a state saved over another plan (ValueError naming the difference)."""
    if not isinstance(saved, dict):
        raise ValueError("state has no plan identity: it was not saved by this version's state_dict()")
    diff = difference(mine, saved)
    if diff is not None:
        raise ValueError(f"state was saved for another epoch plan ({diff}): it cannot resume this "
                         f"dataset; resume with the same shards, sizes, seed, shuffle and world size")


def verify_ranks(mine: Dict[str, Any], group_world: Optional[int]) -> None:
    """Under an initialised process group of ``group_world`` ranks, check that every rank holds
    the same ``mine`` (one collective); raise ValueError on every rank if one differs."""
    from .._gather import gather_objects

    if group_world is None or group_world < 2:
        return
    seen = gather_objects(mine)
    for rank, other in enumerate(seen):
        diff = difference(seen[0], other)
        if diff is not None:
            raise ValueError(f"ranks disagree on the epoch plan, rank 0 against rank {rank}: {diff}. "
                             f"Every rank must see the same shard list and sizes (write an index, or "
                             f"list the shards once and pass the list), seed and batch size")


def group_world() -> Optional[int]:
    """The world size of the initialised default process group, else None."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return None
