"""Which members of a tar shard make one sample: the one grouping rule.

WebDataset writes a sample as consecutive members sharing a key: ``dir/name.ext1.ext2`` is member
``ext1.ext2`` (lower-cased) of the sample keyed ``dir/name``. A name without an extension belongs
to no sample. :class:`Grouping` places members in tar order; the shard reader
(:func:`~._tar_samples.tar_samples`) and the counter (:func:`~._shards.count_samples`) read it,
so they count the same samples.
"""
from __future__ import annotations

import re
from typing import Optional, Set, Tuple

_NAME = re.compile(r"^((?:.*/|)[^./][^/]*?)\.([^/]*)$")


def split_name(name: str) -> Optional[Tuple[str, str]]:
    """``"dir/a.flac"`` -> ``("dir/a", "flac")``; None for a name without an extension.

    Example:
        >>> split_name("x/clip_01.seg.flac"), split_name("README")
        (('x/clip_01', 'seg.flac'), None)
    """
    m = _NAME.match(name)
    return None if m is None else (m.group(1), m.group(2).lower())


class Grouping:
    """The one rule that groups a shard's members into samples, in tar order: a member with an
    extension starts a new sample when its key differs from the current sample's, or when the
    current sample already holds its extension (a repeated key is a new sample). Read by
    :func:`~._tar_samples.tar_samples` and by :func:`~._shards.count_samples`, which count the same samples.

    Example:
        >>> g = Grouping()
        >>> [g.add(n) for n in ("a.flac", "a.cls", "README", "b.flac", "b.flac")]
        [('a', 'flac', True), ('a', 'cls', False), None, ('b', 'flac', True), ('b', 'flac', True)]
        >>> g.index, g.key, sorted(g.exts)
        (2, 'b', ['flac'])
    """

    def __init__(self) -> None:
        self.index, self.key, self.exts = -1, None, set()  # type: Tuple[int, Optional[str], Set[str]]

    def add(self, name: str) -> Optional[Tuple[str, str, bool]]:
        """Place member ``name``: its (key, extension, whether it starts a sample), or None when it
        has no extension (it belongs to no sample)."""
        parts = split_name(name)
        if parts is None:
            return None
        key, ext = parts
        new = key != self.key or ext in self.exts
        if new:
            self.index, self.key, self.exts = self.index + 1, key, set()
        self.exts.add(ext)
        return key, ext, new
