"""The shard index: one JSON file saying how many clips each shard holds (and the label space).

This module is the one place that knows the format; ``nnaudio-data shard`` (:mod:`..authoring._writer`),
:func:`write_index`, the dataset and object-store reads all go through it::

    {"format": "nnaudio_data.index/1", "shards": {"piano-000000.tar": 1000, ...}}

``shards`` maps each shard's file name (the last path component of its URL) to its sample count.
Optional ``"lengths"`` (written by ``nnaudio-data shard``) maps a shard's name to one
``[frames, rate]`` pair per clip, in tar order: what batches by duration plan with
(:mod:`._batches`). An index without it still loads (it was written before lengths were recorded,
or by :func:`write_index`, which counts headers only); readers that predate it ignore it.
When the labels are class names the index also holds ``"classes"`` (sorted names; a label's id is
its position) and ``"multi_label"`` (see :mod:`._labels`); the writer adds ``"splits"`` (split name ->
its shard names) when it wrote more than one split, and ``"windows"`` (per shard, per member: the
windows a recording yields, :mod:`._windows`) when it cut recordings into windows. The index is looked up as ``index.json``
beside the first shard unless a path is given. Without one, :func:`~.shards.count_shards` reads the
shards once (headers only, skipping member bytes on local files) and :func:`write_index` saves the
result.
"""
from __future__ import annotations

import json
import os
from contextlib import closing
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._errors import SampleError
from ._remote import Retry
from ._shards import count_shards, expand_urls, shard_name
from ._open import local_path, open_shard, url_kind, write_text
from ._windows import Entry, parse_windows

INDEX_FORMAT = "nnaudio_data.index/1"
INDEX_NAME = "index.json"
MAX_INDEX_BYTES = 64 << 20  # an index larger than this is refused unread (1M shards take ~30 MB)
GZIP_RATIO = 1032  # deflate's largest expansion (a compressed byte holds at most this many)
_BLOCK = 512
MAX_FRAMES = 1 << 40  # frames a clip's length may say: ~290 days at 44.1 kHz, bounding a planned batch
MAX_RATE_FIELD = 1 << 31  # a rate the index may record (the reader rejects rates outside [1000, 768000])


def default_index_url(urls: Sequence[str]) -> Optional[str]:
    """``index.json`` beside the first shard; None for ``pipe:`` URLs.

    Example:
        >>> default_index_url(["s3://b/train-0.tar"]), default_index_url(["a.tar"])
        ('s3://b/index.json', 'index.json')
    """
    if url_kind(urls[0]) == "pipe":
        return None
    head = urls[0].rsplit("/", 1)
    return INDEX_NAME if len(head) == 1 else f"{head[0]}/{INDEX_NAME}"


def index_text(shards: Mapping[str, int], classes: Optional[List[str]] = None, multi_label: bool = False,
               splits: Optional[Mapping[str, List[str]]] = None,
               windows: Optional[Mapping[str, List[Entry]]] = None,
               lengths: Optional[Mapping[str, Sequence[Sequence[int]]]] = None) -> str:
    """The index file's text for these shard counts (and, with ``classes``, the label space).

    Example:
        >>> json.loads(index_text({"a-0.tar": 3}))
        {'format': 'nnaudio_data.index/1', 'shards': {'a-0.tar': 3}}
    """
    doc: Dict[str, Any] = {"format": INDEX_FORMAT, "shards": dict(shards)}
    if classes is not None:
        doc["classes"], doc["multi_label"] = classes, multi_label
    if splits:
        doc["splits"] = dict(splits)
    text = json.dumps(doc, indent=1)[:-2]  # the fields below are written compactly
    if lengths is not None:  # a shard's lengths on one line
        rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps([[int(f), int(r)] for f, r in v], separators=(',', ':'))}"
                           for k, v in lengths.items())
        text += ',\n "lengths": {\n' + rows + "\n }"
    listed = {k: v for k, v in (windows or {}).items() if k in doc["shards"]}
    if listed:  # one line per recording: an index of many stays small
        text += ',\n "windows": {' + ",".join(
            f"\n  {json.dumps(k)}: [" + ",".join("\n   " + json.dumps(e, separators=(",", ":")) for e in v) + "]"
            for k, v in listed.items()) + "\n }"
    return text + "\n}\n"


def save_index(url: str, shards: Mapping[str, int], classes: Optional[List[str]] = None,
               multi_label: bool = False, splits: Optional[Mapping[str, List[str]]] = None,
               storage_options: Optional[Dict[str, Any]] = None,
               windows: Optional[Mapping[str, List[Entry]]] = None,
               lengths: Optional[Mapping[str, Sequence[Sequence[int]]]] = None) -> None:
    """Write an index to a local path or an object URL (see :func:`index_text`)."""
    write_text(url, index_text(shards, classes, multi_label, splits, windows, lengths), storage_options)


def parse_index(raw: Union[str, bytes], url: str) -> Dict[str, Any]:
    """An index document from its text, checked (``shards`` as name -> int).

    Raises:
        ValueError: naming ``url``, when the text is not JSON or not an index of this format.
    """
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"index {url!r} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or not isinstance(doc.get("shards"), dict):
        raise ValueError(f"index {url!r} must be {{'format': {INDEX_FORMAT!r}, 'shards': {{name: count}}}}, "
                         f"got keys {sorted(doc) if isinstance(doc, dict) else type(doc).__name__}")
    bad = [(k, v) for k, v in doc["shards"].items() if not _is_count(v)]
    if bad:
        raise ValueError(f"index {url!r}: a shard's count must be an int >= 0, got {bad[0][1]!r} for "
                         f"{bad[0][0]!r} ({len(bad)} bad counts)")
    doc["shards"] = {str(k): int(v) for k, v in doc["shards"].items()}
    if "lengths" in doc:
        _check_lengths(doc["lengths"], doc["shards"], url)
    if doc.get("windows") is not None:  # many windows per recording (see .windows)
        doc["windows"] = parse_windows(doc["windows"], doc["shards"], url)
    return doc


def _check_lengths(table: Any, shards: Dict[str, int], url: str) -> None:
    """Bound the optional ``lengths`` field: one ``[frames, rate]`` per indexed clip, each int,
    frames in [0, MAX_FRAMES], rate in [1, MAX_RATE_FIELD] Hz (a clip whose rate the reader
    refuses is still indexed: it is rejected when read, "bad_rate")."""
    if not isinstance(table, dict):
        raise ValueError(f"index {url!r}: 'lengths' must map shard names to [frames, rate] lists, got "
                         f"{type(table).__name__}")
    for name, rows in table.items():
        if name not in shards or not isinstance(rows, list) or len(rows) != shards[name]:
            n = len(rows) if isinstance(rows, list) else type(rows).__name__
            raise ValueError(f"index {url!r}: 'lengths' of shard {name!r} must list one [frames, rate] per "
                             f"clip ({shards.get(name, 'no count in shards')}), got {n}")
        for i, row in enumerate(rows):
            ok = isinstance(row, list) and len(row) == 2 and all(_is_count(x) for x in row)
            if not ok or row[0] > MAX_FRAMES or not 1 <= row[1] <= MAX_RATE_FIELD:
                raise ValueError(f"index {url!r}: clip {i} of shard {name!r} must be [frames, rate] with "
                                 f"0 <= frames <= {MAX_FRAMES} and 1 <= rate <= {MAX_RATE_FIELD}, "
                                 f"got {row!r}")


def length_entry(frames: int, rate: int) -> Tuple[int, int]:
    """A clip's ``[frames, rate]`` as the index may hold it: a header's claims clamped to the
    bounds :func:`parse_index` checks (a length-less stream reports huge frame counts).

    Example:
        >>> length_entry(-1, 0), length_entry(800, 8000)
        ((0, 1), (800, 8000))
    """
    return min(max(0, int(frames)), MAX_FRAMES), min(max(1, int(rate)), MAX_RATE_FIELD)


def lengths_for(urls: Sequence[str], doc: Optional[Dict[str, Any]]) -> Optional[List[List[List[int]]]]:
    """Each shard's ``[frames, rate]`` per clip, from an index document; None when it has none
    (or lacks a shard).

    Example:
        >>> lengths_for(["d/a.tar"], {"shards": {"a.tar": 1}, "lengths": {"a.tar": [[800, 8000]]}})
        [[[800, 8000]]]
    """
    table = None if doc is None else doc.get("lengths")
    if table is None or any(shard_name(u) not in table for u in urls):
        return None
    return [table[shard_name(u)] for u in urls]


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_index_doc(url: str, storage_options: Optional[Dict[str, Any]] = None,
                   retry: Optional[Retry] = None) -> Optional[Dict[str, Any]]:
    """The whole index at ``url`` (a path, http(s) or object URL); None when there is no file there.

    Raises:
        ValueError: the file exists but is not an index of this format.
    """
    try:
        f = open_shard(url, retry, storage_options)
    except SampleError:
        return None
    with closing(f):
        raw = f.read(MAX_INDEX_BYTES + 1)
    if len(raw) > MAX_INDEX_BYTES:
        raise ValueError(f"index {url!r} is larger than MAX_INDEX_BYTES ({MAX_INDEX_BYTES} bytes): "
                         f"not an index (a shard count takes ~30 bytes)")
    return parse_index(raw, url)


def read_index(url: str, storage_options: Optional[Dict[str, Any]] = None,
               retry: Optional[Retry] = None) -> Optional[Dict[str, int]]:
    """The ``shards`` mapping of the index at ``url``; None when there is no file there.

    Raises:
        ValueError: the file exists but is not an index of this format.
    """
    doc = read_index_doc(url, storage_options, retry)
    return None if doc is None else doc["shards"]


def sizes_for(urls: Sequence[str], index: Dict[str, int], where: Optional[str]) -> List[int]:
    """Sample counts of ``urls`` from an index mapping; ValueError naming a shard it lacks."""
    missing = [u for u in urls if shard_name(u) not in index]
    if missing:
        raise ValueError(f"index {where!r} has no count for shard {shard_name(missing[0])!r} "
                         f"({len(missing)} of {len(urls)} shards missing)")
    counts = [index[shard_name(u)] for u in urls]
    for url, n in zip(urls, counts):
        most = max_samples(url)
        if most is not None and n > most:
            raise ValueError(f"index {where!r} says shard {shard_name(url)!r} holds {n} samples; its "
                             f"{_file_size(url)} bytes hold at most {most} (a sample takes >= "
                             f"{_BLOCK} bytes of tar): the index describes other shards")
    return counts


def max_samples(url: str) -> Optional[int]:
    """The most samples a local shard's bytes can hold (each takes at least one 512-byte tar
    header; a gzip-compressed tar at most :data:`GZIP_RATIO` times its size once decompressed);
    None for a remote shard, whose counts are checked as it is read (``stale_index_missing``).

    Example:
        >>> max_samples("s3://b/a.tar") is None
        True
    """
    size = _file_size(url)
    if size is None:
        return None
    gz = url.split("?", 1)[0].lower().endswith((".tar.gz", ".tgz"))
    return (size * GZIP_RATIO if gz else size) // _BLOCK


def _file_size(url: str) -> Optional[int]:
    path = local_path(url)
    try:
        return None if path is None else os.path.getsize(path)
    except OSError:
        return None


def write_index(urls: Union[str, Sequence[str]], path: Optional[str] = None) -> str:
    """Count the shards of ``urls`` and write the index (default: ``index.json`` beside them).

    Args:
        urls (str | sequence of str): local shards, as :func:`~.shards.expand_urls` takes them.
        path (str, optional): the index file to write; a local path.

    Returns:
        the path written.
    """
    urls = expand_urls(urls)
    path = path or default_index_url(urls)
    if path is None or url_kind(path) != "local":
        raise ValueError(f"path must be a local file (a path or file://) for write_index, got {path!r}")
    save_index(path, count_shards(urls))
    return path
