"""Samples -> :class:`AudioBatch`: clips stacked and zero-padded to (B, C, T), with their valid
lengths, keys, labels and sample rate (:func:`collate_audio`)."""
from __future__ import annotations

from typing import Any, List, Sequence

import torch
from torch import Tensor

from ._batch import AudioBatch
from .data._item import parse_item
from ._sharedmem import stack_padded


def _stack_labels(labels: List[Any]) -> Any:
    if all(lab is None for lab in labels):
        return None
    try:
        if all(isinstance(lab, (int, float, bool, Tensor)) for lab in labels):
            return torch.stack([torch.as_tensor(lab) for lab in labels])
    except RuntimeError:  # tensors of different shapes stay a list
        pass
    return list(labels)


def collate_audio(samples: Sequence[Any]) -> AudioBatch:
    """Stack clips into an :class:`AudioBatch`, zero-padding to the longest one.

    ``None`` items (bad items of a map-style dataset under a "warn"/"skip" error policy, see
    :func:`nnaudio_data.wrap`) are left out and counted in ``batch.dropped``.

    Shape:
        each sample's waveform: (T_i,) or (C, T_i); output waveform: (B, C, max T_i)

    Example:
        >>> b = collate_audio([{"waveform": torch.ones(1, 4), "key": "a", "label": 3}, None,
        ...                    {"waveform": torch.ones(1, 2), "key": "b", "label": 5}])
        >>> b.waveform.shape, b.lengths.tolist(), b.keys, b.labels.tolist(), b.dropped
        (torch.Size([2, 1, 4]), [4, 2], ['a', 'b'], [3, 5], 1)
    """
    kept = [s for s in samples if s is not None]
    if len(kept) == 0:
        raise ValueError(f"samples must hold at least one clip, got {len(samples)} items, all None or none")
    parts = [parse_item(s, i) for i, s in enumerate(kept)]
    rates = {p[4] for p in parts if p[4] is not None}
    if len(rates) > 1:
        raise ValueError(f"all clips in a batch must have the same sample rate, got {sorted(rates)} Hz"
                         " (keys: " + ", ".join(f"{p[1]}@{p[4]}" for p in parts) + ")")
    channels = {p[0].shape[0] for p in parts}
    if len(channels) != 1:
        raise ValueError(f"all clips in a batch must have the same channel count, got {sorted(channels)}"
                         " (keys: " + ", ".join(p[1] for p in parts) + ")")
    out = stack_padded([p[0] for p in parts], channels.pop(), max(p[0].shape[-1] for p in parts))
    lengths = torch.tensor([p[3] for p in parts], dtype=torch.long)
    info = [s.get("info") for s in kept if isinstance(s, dict) and s.get("info") is not None]
    return AudioBatch(out, lengths, [p[1] for p in parts], _stack_labels([p[2] for p in parts]),
                      dropped=len(samples) - len(kept), info=info, sr=rates.pop() if rates else None)
