"""The loader section's ``floor+batch`` system: the decode floor inside one DataLoader worker that
also builds the shared-memory batches every DataLoader worker must send (see ``loader.py`` beside it). Its
own module: it imports torch at the top, which the bench's command line must not pay for."""
from __future__ import annotations

import io
from typing import Iterator, List

import soundfile as sf
import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from nnaudio_data._sharedmem import stack_padded


class FloorBatches(IterableDataset):
    """The floor's ``sf.read(io.BytesIO(d), frames=length, dtype="float32", fill_value=0.0)`` over
    the audio members' bytes of ``urls`` (read before the first batch: untimed), every ``batch``
    clips stacked into a fresh shared-memory batch by :func:`nnaudio_data._sharedmem.stack_padded`
    (use with one worker and ``batch_size=None``).

    Shape:
        yields: (B, 1, length) float32, B = ``batch`` (the last batch may be smaller)
    """

    def __init__(self, urls: List[str], ext: str, length: int, batch: int):
        super().__init__()
        self.urls, self.ext, self.length, self.batch = urls, ext, length, batch

    def __iter__(self) -> Iterator[Tensor]:
        from .loader import members

        data = members(self.urls, self.ext)
        for s in range(0, len(data), self.batch):
            clips = [torch.from_numpy(sf.read(io.BytesIO(d), frames=self.length, dtype="float32",
                                              fill_value=0.0)[0])[None] for d in data[s:s + self.batch]]
            yield stack_padded(clips, 1, self.length)


class StackBatches(IterableDataset):
    """The loader section's ``batch[ALLOC]`` systems: the shared-memory batch allocator isolated.
    The audio members of ``urls`` are decoded before the first batch (untimed); then every
    ``batch`` clips are stacked by :func:`nnaudio_data._sharedmem.stack_padded` with ``alloc``
    ("memfd", "new_shared" or "plain") and sent to the main process. The same clips and batches for
    every allocator: only the allocation (and, for "plain", the DataLoader's copy into shared
    memory when it sends the batch) differs. Use with one worker and ``batch_size=None``.

    Shape:
        yields: (B, 1, length) float32, B = ``batch`` (the last batch may be smaller)
    """

    def __init__(self, urls: List[str], ext: str, length: int, batch: int, alloc: str):
        super().__init__()
        self.urls, self.ext, self.length, self.batch, self.alloc = urls, ext, length, batch, alloc

    def __iter__(self) -> Iterator[Tensor]:
        from .loader import members

        clips = [torch.from_numpy(sf.read(io.BytesIO(d), frames=self.length, dtype="float32")[0])[None]
                 for d in members(self.urls, self.ext)]
        for s in range(0, len(clips), self.batch):
            yield stack_padded(clips[s:s + self.batch], 1, self.length, alloc=self.alloc)
