"""Batched on-device augmentation: sample parameters from a torch.Generator, then apply.

Every augmentation is called as ``aug(x, targets=None, params=None, generator=None)`` and returns
``Augmented(x, targets, params)``; ``aug(x, params=out.params)`` replays a call exactly.

Modules, one line each:

- ``base.py``      :class:`Augmentation` (p, per-example mask, replay, float32 for half inputs)
- ``compose.py``   :class:`Compose`, :class:`OneOf`, :class:`SomeOf` (choices are parameters too)
- ``waveform.py``  :class:`Gain`, :class:`PolarityInversion`, :class:`TimeShift`, :class:`RandomCrop`
- ``noise.py``     :class:`AddColoredNoise`, :class:`AddBackgroundNoise` at a target SNR
- ``sources.py``   :class:`ClipSource`: streams noise / impulse-response clips from any iterable
- ``spec.py``      :class:`FrequencyMasking`, :class:`TimeMasking`, :class:`TimeStretch`

Shape legend: B batch, C channels, T samples, F frequency bins, N frames.
"""
from .base import Augmentation, Augmented
from .compose import Compose, OneOf, SomeOf
from .noise import AddBackgroundNoise, AddColoredNoise
from .sources import ClipSource
from .spec import FrequencyMasking, TimeMasking, TimeStretch
from .waveform import Gain, PolarityInversion, RandomCrop, TimeShift

__all__ = [
    "AddBackgroundNoise",
    "AddColoredNoise",
    "Augmentation",
    "Augmented",
    "ClipSource",
    "Compose",
    "FrequencyMasking",
    "Gain",
    "OneOf",
    "PolarityInversion",
    "RandomCrop",
    "SomeOf",
    "TimeMasking",
    "TimeShift",
    "TimeStretch",
]
