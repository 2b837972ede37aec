"""Spectrogram kinds by name: the one table that ``GPUSpectrogramCollate(kind)`` reads."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from torch import nn

# kind -> (class name in nnaudio_data.features, defaults the collate applies unless overridden)
KINDS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "stft": ("STFT", {"output_format": "Magnitude"}),
    "log": ("STFT", {"output_format": "Magnitude", "freq_scale": "log"}),
    "mel": ("MelSpectrogram", {}),
    "mfcc": ("MFCC", {}),
    "cqt": ("CQT", {"output_format": "Magnitude"}),
    "vqt": ("VQT", {"output_format": "Magnitude"}),
    "gammatone": ("Gammatonegram", {}),
}


def make_transform(kind: "str | nn.Module", **kwargs: Any) -> nn.Module:
    """Build the transform named ``kind`` with ``kwargs``, or return a given module as it is.

    Example:
        >>> make_transform("mel", sr=16000, n_fft=512, n_mels=40).__class__.__name__
        'MelSpectrogram'
    """
    if isinstance(kind, nn.Module):
        if kwargs:
            raise ValueError(f"kernel arguments are only accepted with a kind name, got a module "
                             f"and {sorted(kwargs)}")
        return kind
    from .db import LOG_KINDS, make_log

    if kind in LOG_KINDS:
        return make_log(kind, **kwargs)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted([*KINDS, *LOG_KINDS])} or an nn.Module, got {kind!r}")
    from nnaudio_data import features

    cls_name, defaults = KINDS[kind]
    cls = getattr(features, cls_name, None)
    if cls is None:
        raise NotImplementedError(f"kind {kind!r} needs features.{cls_name}, which is not available")
    return cls(**{**defaults, **kwargs})
