"""Shard lists and the shard index: which tar files make a dataset, and how many clips each holds.

URLs come as a brace pattern (``"data/piano-{000000..000017}.tar"``, ``"{a,b}.tar"``), a glob
(``"data/*.tar"``, or ``"s3://bucket/train-*.tar"``, matched by listing the store), a
``::``-separated string, or a list of any of these.

The index, shared with ``nnaudio-data shard`` (which writes it), is a JSON file::

    {"format": "nnaudio_data.index/1", "shards": {"piano-000000.tar": 1000, ...}}

mapping each shard's file name (the last path component of its URL) to its sample count, and,
when the labels are class names, ``"classes"`` (sorted names; a label's id is its position) and
``"multi_label"`` (see :mod:`.labels`). It is
looked up as ``index.json`` beside the first shard unless a path is given. Without one,
:func:`count_shards` reads the shards once (headers only, skipping member bytes on local files)
and :func:`write_index` saves the result.
"""
from __future__ import annotations

import glob
import json
from contextlib import closing
from typing import Any, Dict, List, Optional, Sequence, Union

from braceexpand import braceexpand

from .errors import SampleError
from .objstore import GLOB_CHARS, expand_glob, is_remote
from .remote import Retry
from .sources import open_shard
from .tario import open_tar, split_name, tar_members

INDEX_FORMAT = "nnaudio_data.index/1"
INDEX_NAME = "index.json"


def expand_urls(urls: Union[str, Sequence[str]], storage_options: Optional[Dict[str, Any]] = None) -> List[str]:
    """Expand brace patterns, ``::`` lists and globs (local, or object-store listings) into shard URLs.

    Example:
        >>> expand_urls("s3/a-{00..02}.tar::b.tar")
        ['s3/a-00.tar', 's3/a-01.tar', 's3/a-02.tar', 'b.tar']
    """
    items = urls.split("::") if isinstance(urls, str) else list(urls)
    out: List[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"urls must be non-empty strings, got {item!r}")
        for url in braceexpand(item):
            local = "://" not in url and not url.startswith("pipe:")
            if local and any(c in url for c in GLOB_CHARS):
                matches = sorted(glob.glob(url))
                if not matches:
                    raise ValueError(f"urls: glob {url!r} matches no file")
                out.extend(matches)
            elif is_remote(url) and any(c in url.partition("://")[2] for c in GLOB_CHARS):
                out.extend(expand_glob(url, storage_options))
            else:
                out.append(url)
    if not out:
        raise ValueError(f"urls must name at least one shard, got {urls!r}")
    return out


def shard_name(url: str) -> str:
    """The index key of a shard: the last path component of its URL."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def default_index_url(urls: Sequence[str]) -> Optional[str]:
    """``index.json`` beside the first shard; None for ``pipe:`` URLs."""
    if urls[0].startswith("pipe:"):
        return None
    head = urls[0].rsplit("/", 1)
    return INDEX_NAME if len(head) == 1 else f"{head[0]}/{INDEX_NAME}"


def read_index(url: str, storage_options: Optional[Dict[str, Any]] = None,
               retry: Optional[Retry] = None) -> Optional[Dict[str, int]]:
    """The ``shards`` mapping of the index at ``url``; None when there is no file there.

    Raises:
        ValueError: the file exists but is not an index of this format.
    """
    doc = read_index_doc(url, storage_options, retry)
    return None if doc is None else doc["shards"]


def read_index_doc(url: str, storage_options: Optional[Dict[str, Any]] = None,
                   retry: Optional[Retry] = None) -> Optional[Dict[str, Any]]:
    """The whole index at ``url`` (``shards`` as name -> int); None when there is no file there."""
    try:
        f = open_shard(url, retry, storage_options)
    except SampleError:
        return None
    with closing(f):
        raw = f.read()
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"index {url!r} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or not isinstance(doc.get("shards"), dict):
        raise ValueError(f"index {url!r} must be {{'format': {INDEX_FORMAT!r}, 'shards': {{name: count}}}}, "
                         f"got keys {sorted(doc) if isinstance(doc, dict) else type(doc).__name__}")
    doc["shards"] = {str(k): int(v) for k, v in doc["shards"].items()}
    return doc


def sizes_for(urls: Sequence[str], index: Dict[str, int], where: str) -> List[int]:
    """Sample counts of ``urls`` from an index mapping; ValueError naming a shard it lacks."""
    missing = [u for u in urls if shard_name(u) not in index]
    if missing:
        raise ValueError(f"index {where!r} has no count for shard {shard_name(missing[0])!r} "
                         f"({len(missing)} of {len(urls)} shards missing)")
    return [index[shard_name(u)] for u in urls]


def count_shards(urls: Sequence[str], storage_options: Optional[Dict[str, Any]] = None,
                 retry: Optional[Retry] = None) -> Dict[str, int]:
    """Count the samples of each shard by reading it once (headers only where the file seeks).

    A missing or broken shard counts the samples read before the error.
    """
    return {shard_name(url): count_samples(url, retry, storage_options) for url in urls}


def count_samples(url: str, retry: Optional[Retry] = None,
                  storage_options: Optional[Dict[str, Any]] = None) -> int:
    """Samples in one shard, as :func:`nnaudio_data.data.tario.tar_samples` groups them, reading
    headers only (seeking past member bytes where the stream seeks)."""
    n, key, exts = 0, None, set()

    def want(name: str) -> bool:  # group members as tar_samples does; read no bytes
        nonlocal n, key, exts
        parts = split_name(name)
        if parts is not None:
            if parts[0] != key or parts[1] in exts:
                n, key, exts = n + 1, parts[0], set()
            exts.add(parts[1])
        return False

    try:
        with closing(open_shard(url, retry, storage_options)) as f:
            for _ in tar_members(open_tar(f, url), url, want):
                pass
    except Exception:  # noqa: BLE001  (a broken shard counts the samples before the break)
        pass
    return n


def write_index(urls: Union[str, Sequence[str]], path: Optional[str] = None) -> str:
    """Count the shards of ``urls`` and write the index (default: ``index.json`` beside them).

    Returns:
        the path written.
    """
    urls = expand_urls(urls)
    path = path or default_index_url(urls)
    if path is None or "://" in path:
        raise ValueError(f"path must be a local file for write_index, got {path!r}")
    with open(path, "w") as f:
        json.dump({"format": INDEX_FORMAT, "shards": count_shards(urls)}, f, indent=1)
    return path
