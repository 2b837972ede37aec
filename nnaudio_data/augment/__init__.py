"""Batched on-device augmentation: sample parameters from a torch.Generator, then apply.

Every augmentation is called as ``aug(x, targets=None, params=None, generator=None)`` and returns
``Augmented(x, targets, params)``; ``aug(x, params=out.params)`` replays a call exactly.

Modules, one line each:

- ``_base.py``     :class:`Augmentation` (p, per-example mask, replay, float32 for half inputs)
- ``_compose.py``  :class:`Compose`, :class:`OneOf`, :class:`SomeOf` (choices are parameters too)
- ``_waveform.py`` :class:`Gain`, :class:`PolarityInversion`, :class:`TimeShift`, :class:`RandomCrop`
- ``_noise.py``    :class:`AddColoredNoise`, :class:`AddBackgroundNoise` at a target SNR
- ``_gaussian.py`` large Gaussian fields (noise) from one seed, drawn row by row on the CPU threads
- ``_mix.py``      :class:`Mixup` (clips and targets by the same Beta weights)
- ``_reverb.py``   :class:`ApplyImpulseResponse` (FFT convolution with RIRs from a source)
- ``_filters.py``  :class:`LowPass`, :class:`HighPass`, :class:`BandPass` (FFT-domain Butterworth)
- ``_speed.py``    :class:`SpeedPerturb`, :class:`PitchShift` (batched resampling, T kept)
- ``_clips.py``    :class:`ClipSource`: streams noise / impulse-response clips from any iterable
- ``_spec.py``     :class:`FrequencyMasking`, :class:`TimeMasking`, :class:`TimeStretch`

Shape legend: B batch, C channels, T samples, F frequency bins, N frames.
"""
from ._base import Augmentation, Augmented, per_example
from ._compose import Compose, OneOf, SomeOf
from ._filters import BandPass, HighPass, LowPass
from ._mix import Mixup
from ._noise import AddBackgroundNoise, AddColoredNoise
from ._reverb import ApplyImpulseResponse
from ._clips import ClipSource
from ._spec import FrequencyMasking, TimeMasking, TimeStretch
from ._speed import PitchShift, SpeedPerturb
from ._waveform import Gain, PolarityInversion, RandomCrop, TimeShift

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
    "per_example",  # for writing an augmentation: a (B,) parameter broadcast against x
]
