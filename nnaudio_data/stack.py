"""Samples -> :class:`AudioBatch`: clips stacked and zero-padded to (B, C, T), with their valid
lengths, keys, labels and sample rate (:func:`collate_audio`)."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from . import _worker_exit
from .batch import AudioBatch
from .sharedmem import stack_padded


def _as_sample(item: Any, index: int) -> Tuple[Tensor, str, Any, int]:
    """Normalise one dataset item to (waveform (C, T), key, label, valid length).

    Accepts dicts with "waveform" (and optional "key", "label", "length": valid samples when the
    waveform was zero-padded, "sr" or "sample_rate"), tuples ``(waveform, label)`` or
    ``(waveform, sample_rate, label, ...)`` as torchaudio datasets return, and bare tensors.
    """
    return _parse(item, index)[:4]


def _parse(item: Any, index: int) -> Tuple[Tensor, str, Any, int, Optional[int]]:
    """:func:`_as_sample` plus the sample rate the item carries (None if none)."""
    key, label, length, sr = str(index), None, None, None
    if isinstance(item, dict):
        if "waveform" not in item:
            raise KeyError(f"sample {index} is a dict without a 'waveform' entry (keys: {sorted(item)})")
        wav, key, label = item["waveform"], str(item.get("key", key)), item.get("label")
        length, sr = item.get("length"), item.get("sr", item.get("sample_rate"))
    elif isinstance(item, (tuple, list)):
        wav = item[0]
        rest = list(item[1:])
        if len(rest) >= 2 and isinstance(rest[0], int) and not isinstance(rest[0], bool):
            sr, rest = rest[0], rest[1:]  # (waveform, sample_rate, label, ...)
        label = rest[0] if rest else None
    else:
        wav = item
    wav = torch.as_tensor(wav)
    if wav.dim() == 1:
        wav = wav[None]
    if wav.dim() != 2:
        raise ValueError(f"sample {key!r}: waveform must be (T,) or (C, T), got shape {tuple(wav.shape)}")
    t = wav.shape[-1]
    return wav, key, label, t if length is None else min(int(length), t), None if sr is None else int(sr)


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
    _worker_exit.install()  # a spawned worker's clean exit: see nnaudio_data._worker_exit
    kept = [s for s in samples if s is not None]
    if len(kept) == 0:
        raise ValueError(f"samples must hold at least one clip, got {len(samples)} items, all None or none")
    parts = [_parse(s, i) for i, s in enumerate(kept)]
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
