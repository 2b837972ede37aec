"""Samples -> :class:`AudioBatch`: clips stacked and zero-padded to (B, C, T), with their valid
lengths, keys, labels and sample rate (:func:`collate_audio`)."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from . import _worker_exit
from ._checks import MAX_CHANNELS, looks_transposed
from ._batch import AudioBatch
from .data._formats import AUDIO_EXTENSIONS, UNSUPPORTED_EXTENSIONS
from .data._labels import LABEL_ENTRIES
from ._sharedmem import stack_padded



# a dict's audio entry, as webdataset names it: its extension ("flac", "wav", "audio.flac", ...)
_AUDIO_ENTRIES = ("waveform",) + AUDIO_EXTENSIONS + UNSUPPORTED_EXTENSIONS


def _as_sample(item: Any, index: int) -> Tuple[Tensor, str, Any, int]:
    """Normalise one dataset item to (waveform (C, T), key, label, valid length).

    Accepts:

    - dicts with "waveform" (and optional "key", "label", "length": valid samples when the
      waveform was zero-padded, "sr" or "sample_rate");
    - webdataset's decoded samples: dicts with an audio entry named by its extension ("flac",
      "wav", "audio.flac", ...) holding a waveform or a ``(waveform, sr)`` pair (what
      ``.decode(wds.torch_audio)`` or a soundfile decoder gives), the key in "__key__" and the
      label in "label", "cls", "class" or "target";
    - tuples ``(waveform, label)`` or ``(waveform, sample_rate, label, ...)`` as torchaudio datasets
      return, webdataset's ``.to_tuple("flac", "cls")`` (the first element a ``(waveform, sr)``
      pair) and ``.to_tuple("__key__", "flac", "cls")`` (a key first);
    - bare tensors or arrays.

    A waveform is (T,) or (C, T), a tensor or a numpy array.
    """
    return _parse(item, index)[:4]


def _audio_entry(item: dict, index: int) -> str:
    for name in item:
        if isinstance(name, str) and not name.startswith("__") and name.rsplit(".", 1)[-1] in _AUDIO_ENTRIES:
            return name
    raise KeyError(f"sample {index} is a dict without a 'waveform' entry or an audio entry "
                   f"({', '.join(_AUDIO_ENTRIES[:5])}, ...; keys: {sorted(map(str, item))})")


def _rate_pair(value: Any) -> Optional[Tuple[Any, int]]:
    """``(waveform, sr)`` as decoders return it, else None."""
    if (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], (int, np.integer))
            and not isinstance(value[1], bool) and hasattr(value[0], "shape")):
        return value[0], int(value[1])
    return None


def _parse_dict(item: dict, index: int) -> Tuple[Any, str, Any, Any, Any]:
    key = str(item.get("key", item.get("__key__", index)))
    sr = item.get("sr", item.get("sample_rate"))
    name = "waveform" if "waveform" in item else _audio_entry(item, index)
    wav = item[name]
    if isinstance(wav, (bytes, bytearray, memoryview)):
        raise ValueError(f"sample {key!r}: entry {name!r} holds undecoded bytes; decode it in the "
                         "pipeline: .decode(wds.torch_audio) or a decoder returning (waveform, sr), or "
                         ".map(nnaudio_data.prepare_stage(sr=...)) before .decode()")
    pair = _rate_pair(wav)
    if pair is not None:
        wav, sr = pair[0], pair[1] if sr is None else sr
    label = next((item[k] for k in LABEL_ENTRIES if k in item), None)
    return wav, key, label, item.get("length"), sr


def _parse(item: Any, index: int) -> Tuple[Tensor, str, Any, int, Optional[int]]:
    """:func:`_as_sample` plus the sample rate the item carries (None if none)."""
    key, label, length, sr = str(index), None, None, None
    if isinstance(item, dict):
        wav, key, label, length, sr = _parse_dict(item, index)
    elif isinstance(item, (tuple, list)):
        rest = list(item)
        if len(rest) > 1 and isinstance(rest[0], str):
            key, rest = rest[0], rest[1:]  # .to_tuple("__key__", "flac", ...)
        wav, rest = rest[0], rest[1:]
        pair = _rate_pair(wav)
        if pair is not None:
            wav, sr = pair  # .to_tuple("flac", "cls") after a decoder of (waveform, sr)
        elif len(rest) >= 2 and isinstance(rest[0], int) and not isinstance(rest[0], bool):
            sr, rest = rest[0], rest[1:]  # (waveform, sample_rate, label, ...)
        label = rest[0] if rest else None
    else:
        wav = item
    wav = torch.as_tensor(wav)
    if wav.dim() == 0:
        raise ValueError(f"sample {key!r}: each sample must be a clip (a waveform (T,) or (C, T), a dict or a "
                         f"tuple), got a single number, {type(item).__name__} {item!r}; samples are a list of "
                         "clips: one clip of these numbers is collate_audio([torch.tensor(numbers)])")
    if wav.dim() == 1:
        wav = wav[None]
    if wav.dim() != 2:
        raise ValueError(f"sample {key!r}: waveform must be (T,) or (C, T), got shape {tuple(wav.shape)}")
    if looks_transposed(wav.shape[0], wav.shape[1]):
        raise ValueError(f"sample {key!r}: waveform must be (C, T), got shape {tuple(wav.shape)}, which "
                         f"reads as {wav.shape[0]} channels (more than {MAX_CHANNELS}); a (T, C) array "
                         "(soundfile's layout) needs a transpose: x.T")
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
