"""Batched on-device augmentation: sample parameters from a torch.Generator, then apply.

Every augmentation is called as ``aug(x, targets=None, params=None, generator=None)`` and returns
``Augmented(x, targets, params)``; ``aug(x, params=out.params)`` replays a call exactly.

Modules, one line each:

- ``base.py``      :class:`Augmentation` (p, per-example mask, replay, float32 for half inputs)
- ``compose.py``   :class:`Compose`, :class:`OneOf`, :class:`SomeOf` (choices are parameters too)
- ``waveform.py``  :class:`Gain`, :class:`PolarityInversion`, :class:`TimeShift`, :class:`RandomCrop`
- ``noise.py``     :class:`AddColoredNoise`, :class:`AddBackgroundNoise` at a target SNR
- ``gaussian.py``  large Gaussian fields (noise) from one seed, drawn row by row on the CPU threads
- ``mix.py``       :class:`Mixup` (clips and targets by the same Beta weights)
- ``reverb.py``    :class:`ApplyImpulseResponse` (FFT convolution with RIRs from a source)
- ``filters.py``   :class:`LowPass`, :class:`HighPass`, :class:`BandPass` (FFT-domain Butterworth)
- ``speed.py``     :class:`SpeedPerturb`, :class:`PitchShift` (batched resampling, T kept)
- ``sources.py``   :class:`ClipSource`: streams noise / impulse-response clips from any iterable
- ``spec.py``      :class:`FrequencyMasking`, :class:`TimeMasking`, :class:`TimeStretch`

Shape legend: B batch, C channels, T samples, F frequency bins, N frames.
"""
from .base import Augmentation, Augmented
from .compose import Compose, OneOf, SomeOf
from .filters import BandPass, HighPass, LowPass
from .mix import Mixup
from .noise import AddBackgroundNoise, AddColoredNoise
from .reverb import ApplyImpulseResponse
from .sources import ClipSource
from .spec import FrequencyMasking, TimeMasking, TimeStretch
from .speed import PitchShift, SpeedPerturb
from .waveform import Gain, PolarityInversion, RandomCrop, TimeShift

__all__ = [
    "AddBackgroundNoise",
    "AddColoredNoise",
    "ApplyImpulseResponse",
    "Augmentation",
    "Augmented",
    "BandPass",
    "ClipSource",
    "Compose",
    "FrequencyMasking",
    "Gain",
    "HighPass",
    "LowPass",
    "Mixup",
    "OneOf",
    "PitchShift",
    "PolarityInversion",
    "RandomCrop",
    "SomeOf",
    "SpeedPerturb",
    "TimeMasking",
    "TimeShift",
    "TimeStretch",
]
