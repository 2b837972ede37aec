"""Shard lists: which tar files make a dataset, and counting the clips each holds.

URLs come as a brace pattern (``"data/piano-{000000..000017}.tar"``, ``"{a,b}.tar"``), a glob
(``"data/*.tar"``, ``"file:///data/*.tar"``, or ``"s3://bucket/train-*.tar"``, matched by listing
the store; :func:`~.sources.url_kind` says which), a ``::``-separated string, or a list of any of
these. The counts a dataset plans with come from the shard index (:mod:`._index`); without one,
:func:`count_shards` reads the shards once (headers only, skipping member bytes on local files).
"""
from __future__ import annotations

import glob
import os
from contextlib import closing
from typing import Any, Dict, List, Optional, Sequence, Union

from braceexpand import braceexpand

from ._objstore import GLOB_CHARS, expand_glob
from ._remote import Retry
from ._open import local_path, open_shard, url_kind
from ._grouping import Grouping
from ._tar import open_tar, tar_members
from .._checks import check_arg

def expand_urls(urls: Union[str, Sequence[str]], storage_options: Optional[Dict[str, Any]] = None) -> List[str]:
    """Expand brace patterns, ``::`` lists and globs (local, or object-store listings) into shard URLs.

    Example:
        >>> expand_urls("s3/a-{00..02}.tar::b.tar")
        ['s3/a-00.tar', 's3/a-01.tar', 's3/a-02.tar', 'b.tar']
    """
    items = urls.split("::") if isinstance(urls, str) else list(urls)
    out: List[str] = []
    for item in items:
        check_arg(isinstance(item, str) and item != "", "urls", "non-empty strings", item)
        for url in braceexpand(item):
            kind, path = url_kind(url), local_path(url)
            if path is not None and any(c in path for c in GLOB_CHARS):
                matches = sorted(glob.glob(path))
                if not matches:
                    raise ValueError(f"urls: glob {url!r} matches no file")
                out.extend(as_path(m) for m in matches)
            elif path is not None and os.path.isdir(path):
                raise ValueError(_folder_message(url, path))
            elif kind == "fsspec" and any(c in url.partition("://")[2] for c in GLOB_CHARS):
                out.extend(expand_glob(url, storage_options))
            else:
                out.append(url)
    if not out:
        raise ValueError(f"urls must name at least one shard, got {urls!r}")
    return out


def as_path(name: str) -> str:
    """A file name found on disk (a glob match), written so that :func:`~.sources.url_kind` reads
    it as a local path, whatever it holds: a name is data, never a command or a URL.

    Example:
        >>> as_path("pipe:touch x; cat a.tar #.tar"), as_path("d/a.tar"), as_path("/d/pipe:x.tar")
        ('./pipe:touch x; cat a.tar #.tar', 'd/a.tar', '/d/pipe:x.tar')
    """
    for candidate in (name, "./" + name):
        if url_kind(candidate) == "local" and local_path(candidate) == candidate:
            return candidate
    return os.path.abspath(name)  # a "://" inside the path: normalised away


def _folder_message(url: str, path: str) -> str:
    """A folder given where shards go: say so, and name the pattern of the shards it holds."""
    pattern = os.path.join(url.rstrip("/"), "*.tar")
    found = len(glob.glob(os.path.join(glob.escape(path), "*.tar")))
    return (f"urls: {url!r} is a folder, not a shard; name its shards, e.g. urls={pattern!r} "
            f"(the folder holds {found} .tar files)")


def shard_name(url: str) -> str:
    """The index key of a shard: the last path component of its URL."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def count_shards(urls: Sequence[str], storage_options: Optional[Dict[str, Any]] = None,
                 retry: Optional[Retry] = None) -> Dict[str, int]:
    """Count the samples of each shard by reading it once (headers only where the file seeks).

    A missing or broken shard counts the samples read before the error.
    """
    return {shard_name(url): count_samples(url, retry, storage_options) for url in urls}


def count_samples(url: str, retry: Optional[Retry] = None,
                  storage_options: Optional[Dict[str, Any]] = None) -> int:
    """Samples in one shard, as :func:`nnaudio_data.data._tar_samples.tar_samples` groups them, reading
    headers only (seeking past member bytes where the stream seeks)."""
    group = Grouping()

    def want(name: str, size: int) -> bool:  # group members by tar_samples' rule; read no bytes
        group.add(name)
        return False

    try:
        with closing(open_shard(url, retry, storage_options)) as f:
            for _ in tar_members(open_tar(f, url), url, want):
                pass
    except Exception:  # noqa: BLE001  (a broken shard counts the samples before the break)
        pass
    return group.index + 1
