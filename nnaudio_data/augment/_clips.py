"""Clip sources for augmentations that draw recordings (background noise, impulse responses).

A source is any iterable of waveforms: tensors or arrays (T,) / (C, T), dicts with a "waveform"
entry (what :class:`nnaudio_data.ShardedAudioDataset` yields), or ``(waveform, ...)`` tuples. It is
read in a stream, restarted when exhausted (a second sharded dataset of noise clips streams
alongside the training data), and read again from the start in every DataLoader worker (each worker
holds its own copy of the augmentation; shard splitting by worker is the dataset's business).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, List, Optional

import torch
from torch import Tensor

from ..data._item import parse_item


class ClipSource:
    """Stream clips from ``source``, one mono or C-channel float32 tensor at a time.

    Args:
        source (Iterable): clips as described in the module docstring.
        name (str): the argument name, for error messages. Default "source".

    Example:
        >>> src = ClipSource([torch.ones(3), {"waveform": torch.zeros(1, 2)}])
        >>> [tuple(c.shape) for c in src.take(3)]
        [(1, 3), (1, 2), (1, 3)]
    """

    def __init__(self, source: Iterable[Any], name: str = "source"):
        if not hasattr(source, "__iter__"):
            raise ValueError(f"{name} must be an iterable of waveforms, got {type(source).__name__}")
        self.source = source
        self.name = name
        self._it: Optional[Iterator[Any]] = None

    def __repr__(self) -> str:
        return f"ClipSource({type(self.source).__name__})"

    def __getstate__(self):  # a live iterator does not pickle into DataLoader workers
        return {**self.__dict__, "_it": None}

    def _next(self) -> Any:
        for _ in range(2):
            if self._it is None:
                self._it = iter(self.source)
            try:
                return next(self._it)
            except StopIteration:
                self._it = None
        raise ValueError(f"{self.name} yielded no clips")

    def take(self, n: int) -> List[Tensor]:
        """The next ``n`` clips, each (C_i, T_i) float32, cut to its valid length."""
        out = []
        for i in range(n):
            item = parse_item(self._next(), i)  # the collate's item rules
            if item.length == 0:
                raise ValueError(f"{self.name} yielded an empty clip")
            out.append(item.waveform[:, :item.length].float())
        return out


def fit_channels(clip: Tensor, channels: int) -> Tensor:
    """(C_i, L) -> (channels, L): kept when C_i matches, else averaged to mono and repeated."""
    if clip.shape[0] == channels:
        return clip
    return clip.mean(0, keepdim=True).expand(channels, -1)


def crop_or_tile(clips: List[Tensor], length: int, channels: int, generator: torch.Generator) -> Tensor:
    """Fit each clip to ``length`` samples: a random crop of a longer clip, a tiling of a shorter
    one (from a random phase), so every output sample holds clip material.

    Shape:
        clips: B tensors (C_i, T_i); output: (B, channels, length) float32
    """
    out = torch.empty(len(clips), channels, length)
    for i, clip in enumerate(clips):
        clip = fit_channels(clip, channels)
        n = clip.shape[-1]
        start = int(torch.randint(0, max(n - length, 0) + 1 if n >= length else n, (1,), generator=generator))
        if n < length:
            clip = clip.repeat(1, (length + start) // n + 1)
        out[i] = clip[:, start: start + length]
    return out
