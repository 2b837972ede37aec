"""A tar member of a local shard as a seekable file, read where it lies: nothing held in memory.

The tar reader (:mod:`._tar`) hands a window-read audio member of a *local, uncompressed* shard to
the decoder as a :class:`MemberView` (the shard's path, the member's offset and size) instead of
its bytes; :meth:`MemberView.open` gives a read-only file bounded to the member, which
``soundfile`` opens, seeks and reads like any file. A one-second window of an hour-long member
then reads about a second of bytes, and a shuffle buffer of views holds no audio at all.
Remote, ``pipe:`` and ``.tar.gz`` shards cannot be read at an offset later: their members are
read into memory as bytes (bounded by ``max_sample_bytes``).
"""
from __future__ import annotations

import io
import os
from typing import Any, NamedTuple


class MemberView(NamedTuple):
    """``size`` bytes at ``offset`` of the local file ``path`` (a tar member's data)."""

    path: str
    offset: int
    size: int

    def open(self) -> "BoundedFile":
        """A read-only, seekable file over the member's bytes alone; close it when done."""
        return BoundedFile(open(self.path, "rb", buffering=0), self.offset, self.size)

    def __len__(self) -> int:  # (bytes, as for the bytes it stands for)
        return self.size


class BoundedFile(io.RawIOBase):
    """``raw`` seen from ``offset`` for ``size`` bytes: reads stop at the member's end, seeks are
    relative to its start (what ``soundfile``'s virtual I/O needs: read, seek, tell). Each read is
    one ``pread`` at its offset: no buffer to refill after a seek.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as t:
        ...     _ = t.write(b"headAUDIOtail")
        >>> f = MemberView(t.name, 4, 5).open(); f.read(), f.seek(-2, 2), f.read(9)
        (b'AUDIO', 3, b'IO')
        >>> f.close(); os.unlink(t.name)
    """

    def __init__(self, raw: io.FileIO, offset: int, size: int):
        super().__init__()
        self.raw, self.offset, self.size, self.pos = raw, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = min(max(0, base + pos), self.size)
        return self.pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), self.size - self.pos)
        if n <= 0:
            return 0
        got = os.preadv(self.raw.fileno(), [memoryview(b).cast("B")[:n]], self.offset + self.pos)
        self.pos += got
        return got

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        out = bytearray(max(n, 0))
        got = self.readinto(out)
        return bytes(out[:got])

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()

    def fileno(self) -> int:  # not a whole file: soundfile must use its virtual I/O
        raise io.UnsupportedOperation("a tar member view has no file descriptor of its own")


def file_path(f: object) -> str:
    """The path of an open regular local file, else "" (no view can be made of it)."""
    name = getattr(f, "name", None)
    return name if isinstance(name, str) and os.path.isfile(name) else ""
