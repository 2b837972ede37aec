"""What an audio item is: where a sample dict, tuple or array holds its waveform, key, label and
rate. One set of rules, read by the collate (:func:`nnaudio_data.collate_audio`), the
augmentations' clip sources, ``nd.wrap``, the webdataset stage and the shard reader.

- a dict's **audio entry** is "waveform", or the first entry (not ``__``-prefixed) whose last
  extension is an audio format's (:data:`AUDIO_ENTRIES`: "flac", "wav", "audio.flac", ...), as
  webdataset names them;
- its **key** is the first of :data:`KEY_FIELDS` that is present and not None;
- its **label** is the first of :data:`LABEL_ENTRIES` present;
- its **rate** is the first of :data:`RATE_FIELDS` present, or the second half of a decoder's
  ``(waveform, sr)`` pair.

:func:`parse_item` applies them to any item the collate accepts.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, NamedTuple, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .._checks import MAX_CHANNELS, looks_transposed
from ._formats import AUDIO_EXTENSIONS, UNSUPPORTED_EXTENSIONS

KEY_FIELDS = ("key", "__key__", "id")
RATE_FIELDS = ("sr", "sample_rate")
LABEL_ENTRIES = ("label", "cls", "class", "target")
AUDIO_ENTRIES = ("waveform",) + AUDIO_EXTENSIONS + UNSUPPORTED_EXTENSIONS


def member(sample: Dict[Any, Any], exts: Iterable[str]) -> Optional[str]:
    """The first entry of ``sample`` (not ``__``-prefixed) whose last extension is in ``exts``.

    Example:
        >>> member({"__key__": "k", "audio.flac": b"", "cls": b"1"}, AUDIO_ENTRIES)
        'audio.flac'
    """
    exts = frozenset(exts)
    for name in sample:
        if isinstance(name, str) and not name.startswith("__") and name.rsplit(".", 1)[-1] in exts:
            return name
    return None


def first_field(item: Dict[Any, Any], names: Tuple[str, ...], default: Any = None) -> Any:
    """The value of the first of ``names`` present in ``item`` and not None, else ``default``."""
    return next((item[n] for n in names if item.get(n) is not None), default)


def rate_pair(value: Any) -> Optional[Tuple[Any, int]]:
    """``(waveform, sr)`` as decoders return it, else None."""
    if (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], (int, np.integer))
            and not isinstance(value[1], bool) and hasattr(value[0], "shape")):
        return value[0], int(value[1])
    return None


class Item(NamedTuple):
    """One parsed item: waveform (C, T), key, label, valid length, sample rate (None if none)."""

    waveform: Tensor
    key: str
    label: Any
    length: int
    sr: Optional[int]


def _parse_dict(item: Dict[Any, Any], index: int) -> Tuple[Any, str, Any, Any, Any]:
    key = str(first_field(item, KEY_FIELDS, index))
    sr = first_field(item, RATE_FIELDS)
    name = "waveform" if "waveform" in item else member(item, AUDIO_ENTRIES)
    if name is None:
        raise KeyError(f"sample {index} is a dict without a 'waveform' entry or an audio entry "
                       f"({', '.join(AUDIO_ENTRIES[:5])}, ...; keys: {sorted(map(str, item))})")
    wav = item[name]
    if isinstance(wav, (bytes, bytearray, memoryview)):
        raise ValueError(f"sample {key!r}: entry {name!r} holds undecoded bytes; decode it in the "
                         "pipeline: .decode(wds.torch_audio) or a decoder returning (waveform, sr), or "
                         ".map(nnaudio_data.prepare_stage(sr=...)) before .decode()")
    pair = rate_pair(wav)
    if pair is not None:
        wav, sr = pair[0], pair[1] if sr is None else sr
    label = next((item[k] for k in LABEL_ENTRIES if k in item), None)
    return wav, key, label, item.get("length"), sr


def _parse_sequence(item: Any) -> Tuple[Any, Optional[str], Any, Any]:
    rest, key, sr = list(item), None, None
    if len(rest) > 1 and isinstance(rest[0], str):
        key, rest = rest[0], rest[1:]  # .to_tuple("__key__", "flac", ...)
    wav, rest = rest[0], rest[1:]
    pair = rate_pair(wav)
    if pair is not None:
        wav, sr = pair  # .to_tuple("flac", "cls") after a decoder of (waveform, sr)
    elif len(rest) >= 2 and isinstance(rest[0], int) and not isinstance(rest[0], bool):
        sr, rest = rest[0], rest[1:]  # (waveform, sample_rate, label, ...)
    return wav, key, rest[0] if rest else None, sr


def parse_item(item: Any, index: int) -> Item:
    """One item as the collate takes it, to an :class:`Item`. Accepts:

    - dicts with "waveform" (and optional "key", "label", "length": valid samples when the
      waveform was zero-padded, "sr" or "sample_rate");
    - webdataset's decoded samples: dicts with an audio entry named by its extension holding a
      waveform or a ``(waveform, sr)`` pair (what ``.decode(wds.torch_audio)`` or a soundfile
      decoder gives), the key in "__key__" and the label in "label", "cls", "class" or "target";
    - tuples ``(waveform, label)`` or ``(waveform, sample_rate, label, ...)`` as torchaudio datasets
      return, webdataset's ``.to_tuple("flac", "cls")`` (the first element a ``(waveform, sr)``
      pair) and ``.to_tuple("__key__", "flac", "cls")`` (a key first);
    - bare tensors or arrays.

    A waveform is (T,) or (C, T), a tensor or a numpy array.

    Shape:
        item's waveform: (T,) or (C, T); output waveform: (C, T)

    Example:
        >>> parse_item(("k", (np.zeros(4), 8000), 3), 0)[1:]
        ('k', 3, 4, 8000)
    """
    key, label, length, sr = str(index), None, None, None
    if isinstance(item, dict):
        wav, key, label, length, sr = _parse_dict(item, index)
    elif isinstance(item, (tuple, list)):
        wav, named, label, sr = _parse_sequence(item)
        key = key if named is None else named
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
    return Item(wav, key, label, t if length is None else min(int(length), t), None if sr is None else int(sr))
