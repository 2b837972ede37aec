"""The shard index: one JSON file saying how many clips each shard holds (and the label space).

This module is the one place that knows the format; ``nnaudio-data shard`` (:mod:`.writer`),
:func:`write_index`, the dataset and object-store reads all go through it::

    {"format": "nnaudio_data.index/1", "shards": {"piano-000000.tar": 1000, ...}}

``shards`` maps each shard's file name (the last path component of its URL) to its sample count.
When the labels are class names the index also holds ``"classes"`` (sorted names; a label's id is
its position) and ``"multi_label"`` (see :mod:`.labels`); the writer adds ``"splits"`` (split name ->
its shard names) when it wrote more than one split, and ``"windows"`` (per shard, per member: the
windows a recording yields, :mod:`.windows`) when it cut recordings into windows. The index is looked up as ``index.json``
beside the first shard unless a path is given. Without one, :func:`~.shards.count_shards` reads the
shards once (headers only, skipping member bytes on local files) and :func:`write_index` saves the
result.
"""
from __future__ import annotations

import json
import os
from contextlib import closing
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._errors import SampleError
from ._remote import Retry
from ._shards import count_shards, expand_urls, shard_name
from ._sources import local_path, open_shard, url_kind, write_text
from ._windows import Entry, parse_windows

INDEX_FORMAT = "nnaudio_data.index/1"
INDEX_NAME = "index.json"
MAX_INDEX_BYTES = 64 << 20  # an index larger than this is refused unread (1M shards take ~30 MB)
GZIP_RATIO = 1032  # deflate's largest expansion (a compressed byte holds at most this many)
_BLOCK = 512


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
               windows: Optional[Mapping[str, List[Entry]]] = None) -> str:
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
    text = json.dumps(doc, indent=1)
    listed = {k: v for k, v in (windows or {}).items() if k in doc["shards"]}
    if not listed:
        return text + "\n"
    rows = ",".join(f"\n  {json.dumps(k)}: [" + ",".join("\n   " + json.dumps(e, separators=(",", ":")) for e in v)
                    + "]" for k, v in listed.items())  # one line per recording: an index of many stays small
    return text[:-2] + ',\n "windows": {' + rows + "\n }\n}\n"


def save_index(url: str, shards: Mapping[str, int], classes: Optional[List[str]] = None,
               multi_label: bool = False, splits: Optional[Mapping[str, List[str]]] = None,
               storage_options: Optional[Dict[str, Any]] = None,
               windows: Optional[Mapping[str, List[Entry]]] = None) -> None:
    """Write an index to a local path or an object URL (see :func:`index_text`)."""
    write_text(url, index_text(shards, classes, multi_label, splits, windows), storage_options)


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
    if doc.get("windows") is not None:  # many windows per recording (see .windows)
        doc["windows"] = parse_windows(doc["windows"], doc["shards"], url)
    return doc


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
