"""Decibels: power or amplitude spectrograms to dB (librosa's ``power_to_db`` / ``amplitude_to_db``),
and the log spectrograms the collate names "logmel" and "logstft"."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from torch import Tensor, nn

from ..functional._mel import power_to_db
from ._transform import Transform
from ._kinds import LOG_KINDS
from .._checks import check_arg

_DB_ARGS = ("ref", "amin", "top_db")


def _check(amin: float, top_db: Optional[float]) -> None:
    check_arg(amin > 0, "amin", "> 0", amin)
    check_arg(not (top_db is not None and not top_db >= 0), "top_db", ">= 0 or None", top_db)


class PowerToDB(Transform):
    """``10 log10(max(S, amin) / ref)``, floored ``top_db`` below each spectrogram's peak (per clip
    and channel), as ``librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)`` on one clip.

    Args:
        ref (float): reference power (0 dB). Default 1.0.
        amin (float): floor on the power before the log, > 0. Default 1e-10.
        top_db (float, optional): dynamic range kept below the peak, >= 0; None keeps all.
            Default 80.0.

    Shape:
        S: (..., F, N) power; output: the same shape, in dB

    Example:
        >>> import torch
        >>> PowerToDB(top_db=None)(torch.tensor([[1.0, 10.0, 1e-12]])).tolist()
        [[0.0, 10.0, -100.0]]
    """

    def __init__(self, ref: float = 1.0, amin: float = 1e-10, top_db: Optional[float] = 80.0):
        super().__init__()
        _check(amin, top_db)
        self.ref, self.amin, self.top_db = float(ref), float(amin), top_db

    def forward(self, S: Tensor) -> Tensor:
        return power_to_db(S, self.ref, self.amin, self.top_db)

    def summary(self) -> List[Tuple[str, Any]]:
        return [("ref", self.ref), ("amin", self.amin), ("top_db", self.top_db)]


class AmplitudeToDB(PowerToDB):
    """``20 log10(max(A, amin) / ref)``, floored ``top_db`` below the peak, as
    ``librosa.amplitude_to_db(A, ref=ref, amin=amin, top_db=top_db)`` on one clip (that is
    :class:`PowerToDB` of ``A ** 2`` with ``ref ** 2`` and ``amin ** 2``).

    Args:
        ref (float): reference amplitude. Default 1.0.
        amin (float): floor on the amplitude, > 0. Default 1e-5.
        top_db (float, optional): dynamic range kept, >= 0; None keeps all. Default 80.0.

    Shape:
        A: (..., F, N) magnitude; output: the same shape, in dB

    Example:
        >>> import torch
        >>> AmplitudeToDB(top_db=None)(torch.tensor([[1.0, 10.0]])).tolist()
        [[0.0, 20.0]]
    """

    def __init__(self, ref: float = 1.0, amin: float = 1e-5, top_db: Optional[float] = 80.0):
        super().__init__(ref, amin, top_db)

    def forward(self, S: Tensor) -> Tensor:
        return power_to_db(S.square(), self.ref ** 2, self.amin ** 2, self.top_db)


class LogSpectrogram(Transform):
    """A spectrogram transform followed by its dB conversion: ``db(spectrogram(x))``.

    Args:
        spectrogram (nn.Module): (B, T) -> (B, F, N) power (Mel) or magnitude (STFT).
        db (PowerToDB | AmplitudeToDB): the matching conversion.

    Shape:
        x: as ``spectrogram`` takes; output: as it gives, in dB

    Example:
        >>> import torch
        >>> from nnaudio_data.features import MelSpectrogram
        >>> logmel = LogSpectrogram(MelSpectrogram(sr=8000, n_fft=256, n_mels=20), PowerToDB())
        >>> logmel(torch.randn(2, 800)).shape
        torch.Size([2, 20, 2])
    """

    def __init__(self, spectrogram: nn.Module, db: PowerToDB):
        super().__init__()
        self.spectrogram, self.db = spectrogram, db
        self.sr = getattr(spectrogram, "sr", None)

    def forward(self, x: Tensor) -> Tensor:
        return self.db(self.spectrogram(x))


def make_log(kind: str, **kwargs: Any) -> LogSpectrogram:
    """Build collate kind "logmel" or "logstft": ``ref``, ``amin`` and ``top_db`` go to the dB
    conversion, the rest to the spectrogram."""
    from ._kinds import make_transform

    base, scale = LOG_KINDS[kind]
    if kwargs.get("power", 2.0) == 1:  # a magnitude mel
        scale = "amplitude"
    db_args = {k: kwargs.pop(k) for k in _DB_ARGS if k in kwargs}
    db = PowerToDB(**db_args) if scale == "power" else AmplitudeToDB(**db_args)
    return LogSpectrogram(make_transform(base, **kwargs), db)
