"""Legacy module path, as nnAudio keeps ``nnAudio.Spectrogram``: ``from nnaudio_data.Spectrogram
import *`` gives the feature classes of :mod:`nnaudio_data.features`. New code imports from there.

Example:
    >>> from nnaudio_data.Spectrogram import CQT1992v2, STFT
    >>> STFT.__module__
    'nnaudio_data.features.stft'
"""
from .features import *  # noqa: F401,F403
from .features import __all__  # noqa: F401
