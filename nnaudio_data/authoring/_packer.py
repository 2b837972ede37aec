"""Tar shards as the writer fills them: the next shard opens before a clip that would take the open
one past its byte or clip budget; and clearing an output before it is written again."""
from __future__ import annotations

from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

import webdataset as wds

from ..data._index import INDEX_NAME
from ..data._objstore import join
from ..data._open import list_output, open_output, remove_output

_BLOCK, _RECORD = 512, 10240  # tar block and record sizes (tarfile pads an archive to a record)


def _tar_bytes(sizes: Sequence[int]) -> int:
    """Bytes a member of each size takes in a tar: one header block plus padded data."""
    return sum(_BLOCK + -(-n // _BLOCK) * _BLOCK for n in sizes)


class Packer:
    """Tar shards ``{name}-%06d.tar`` under ``out``, the next opened before a clip that would take the
    open one past ``shard_size`` bytes or ``max_count`` clips; local or object-store output."""

    def __init__(self, out: str, name: str, shard_size: Optional[int], max_count: Optional[int],
                 storage_options: Optional[Dict[str, Any]]):
        self.out, self.name, self.shard_size, self.max_count = out, name, shard_size, max_count
        self.storage_options = storage_options
        self.stream: Optional[IO[bytes]] = None
        self.tar: Optional[wds.TarWriter] = None
        self.counts: Dict[str, int] = {}
        self.lengths: Dict[str, List[Tuple[int, int]]] = {}  # per shard, (frames, rate) per clip
        self.bytes = 0
        self.count = self.used = 0  # clips and tar bytes in the open shard

    def _full(self, need: int) -> bool:
        if self.max_count is not None and self.count >= self.max_count:
            return True
        return (self.shard_size is not None and self.count > 0
                and -(-(self.used + need + 2 * _BLOCK) // _RECORD) * _RECORD > self.shard_size)

    def write(self, sample: Dict[str, Any], member_sizes: Sequence[int], length: Tuple[int, int]) -> None:
        need = _tar_bytes(member_sizes)
        tar = self._next() if self.tar is None or self._full(need) else self.tar
        tar.write(sample)
        self.count, self.used = self.count + 1, self.used + need
        self.counts[self.fname] += 1
        self.lengths[self.fname].append(length)

    def _next(self) -> wds.TarWriter:
        self.close()
        self.fname = f"{self.name}-{len(self.counts):06d}.tar"
        stream = self.stream = open_output(join(self.out, self.fname), self.storage_options)
        tar = self.tar = wds.TarWriter(stream, mtime=0.0)  # fixed times: same input, same bytes
        self.counts[self.fname], self.count, self.used = 0, 0, 0
        self.lengths[self.fname] = []
        return tar

    def close(self) -> None:
        if self.tar is not None and self.stream is not None:
            self.tar.close()
            self.bytes += self.stream.tell()
            self.stream.close()
        self.tar = self.stream = None


def clear_output(out: str, overwrite: bool, storage_options: Optional[Dict[str, Any]]) -> None:
    """Refuse a non-empty ``out`` unless ``overwrite``; then delete its indexes, then its shards."""
    held = list_output(out, storage_options)
    if not held:
        return
    if not overwrite:
        raise ValueError(f"out {out!r} is not empty ({len(held)} entries, e.g. {held[0]!r}): pass "
                         f"overwrite=True (--overwrite) to replace its shards and index, or choose "
                         f"an empty folder")
    indexes = [n for n in held if n == INDEX_NAME or n.endswith("." + INDEX_NAME)]
    for name in indexes + [n for n in held if n.endswith(".tar")]:
        remove_output(join(out, name), storage_options)
