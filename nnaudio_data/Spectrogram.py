"""Legacy module path, as nnAudio keeps ``nnAudio.Spectrogram``: ``from nnaudio_data.Spectrogram
import *`` gives the feature classes of :mod:`nnaudio_data.features`, and ``np`` (numpy), which
nnAudio's star import also hands out and old scripts use. New code imports from
:mod:`nnaudio_data.features`.

Example:
    >>> from nnaudio_data.Spectrogram import CQT1992v2, STFT
    >>> STFT.__module__
    'nnaudio_data.features._stft'
"""
import numpy as np

from .features import *  # noqa: F403
from .features import __all__ as _features

__all__ = _features + ["np"]
